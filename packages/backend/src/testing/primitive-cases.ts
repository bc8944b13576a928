import type { Random } from '@dsa/tensor';
import {
  broadcastTo,
  type DType,
  narrow,
  permute,
  type Shape,
  type TensorView,
  tensorView,
  unsqueeze,
} from '@dsa/tensor';
import type { Backend } from '../backend.js';
import { gatherLatentRows, scatterLatentRows } from '../composite/latent-rows.js';
import { fp8LatentCache, fp8LatentRowBytes } from '../fp8-latent-cache.js';
import { downloadTensor, uploadTensor } from '../host-tensor.js';
import type { BinaryOp, UnaryOp } from '../kernels.js';
import { Workspace } from '../workspace.js';
import type { ConformanceCase } from './conformance-case.js';
import { uploadLinearWeight } from './linear-weights.js';

const F32_TOLERANCE = 1e-5;

/** A fresh contiguous tensor on the backend (contents undefined). */
function empty(backend: Backend, dtype: DType, shape: Shape): TensorView {
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = { f32: 4, i32: 4, bf16: 2, f16: 2, f8_e4m3: 1, i8: 1 }[dtype as 'f32'] ?? 4;
  return tensorView(backend.allocate(n * bytes, 'activations'), dtype, shape);
}

async function f32(backend: Backend, view: TensorView): Promise<ArrayLike<number>> {
  if (view.dtype === 'f32' || view.dtype === 'i32') return downloadTensor(backend, view);
  const out = empty(backend, 'f32', view.shape);
  backend.kernels.cast(out, view);
  return downloadTensor(backend, out);
}

function simple(
  name: string,
  kernel: string,
  tolerance: number,
  run: (backend: Backend, random: Random) => Promise<ArrayLike<number>[]> | ArrayLike<number>[],
): ConformanceCase {
  return { name, kernel, tolerance, run: async (b, r) => run(b, r) };
}

/** Conformance cases for every primitive kernel of the contract. */
export function primitiveCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const up = (b: Backend, dtype: DType, shape: Shape, values: ArrayLike<number>) =>
    uploadTensor(b, dtype, shape, values);

  cases.push(
    simple('fill f32 and i32', 'fill', 0, async (b) => {
      const x = empty(b, 'f32', [3, 5]);
      const i = empty(b, 'i32', [7]);
      b.kernels.fill(x, -2.5);
      b.kernels.fill(i, 42);
      return [await f32(b, x), await f32(b, i)];
    }),
  );
  for (const dtype of ['bf16', 'f16', 'f8_e4m3'] as const) {
    cases.push(
      simple(
        `cast f32 -> ${dtype} -> f32 (round to nearest even${dtype === 'f8_e4m3' ? ', saturating' : ''})`,
        'cast',
        0,
        async (b, r) => {
          const values = r.normals(257, dtype === 'f8_e4m3' ? 200 : 3);
          values.push(1000, -1000, 0, 1 + 2 ** -8);
          const x = up(b, 'f32', [values.length], values);
          const y = empty(b, dtype, [values.length]);
          b.kernels.cast(y, x);
          return [await f32(b, y)];
        },
      ),
    );
  }
  cases.push(
    simple('gatherRows from a bf16 table, -1 gives zeros', 'gatherRows', F32_TOLERANCE, async (b, r) => {
      const table = up(b, 'bf16', [50, 24], r.normals(50 * 24));
      const index = up(b, 'i32', [6], [3, 49, -1, 0, 3, 17]);
      const out = empty(b, 'f32', [6, 24]);
      b.kernels.gatherRows(out, table, index);
      return [await f32(b, out)];
    }),
    simple('scatterRows into a strided table, -1 skipped', 'scatterRows', F32_TOLERANCE, async (b, r) => {
      const table = up(b, 'f32', [20, 16], r.normals(320));
      const rows = up(b, 'f32', [4, 8], r.normals(32));
      b.kernels.scatterRows(narrow(table, 1, 4, 8), rows, up(b, 'i32', [4], [2, -1, 19, 7]));
      return [await f32(b, table)];
    }),
    simple('indexAdd with weights and repeated rows', 'indexAdd', F32_TOLERANCE, async (b, r) => {
      const out = up(b, 'f32', [10, 12], r.normals(120));
      const rows = up(b, 'f32', [5, 12], r.normals(60));
      b.kernels.indexAdd(
        out,
        rows,
        up(b, 'i32', [5], [1, 1, -1, 9, 0]),
        up(b, 'f32', [5], [0.5, 2, 3, -1, 1]),
      );
      return [await f32(b, out)];
    }),
  );
  for (const dtype of ['f32', 'bf16', 'f16', 'f8_e4m3'] as const) {
    cases.push(
      simple(
        `linear with ${dtype} weights${dtype === 'f8_e4m3' ? ' and partial 128x128 scale blocks' : ''}`,
        'linear',
        2e-5,
        async (b, r) => {
          const [m, n, k] = [5, 200, 300];
          const x = up(b, 'f32', [m, k], r.normals(m * k));
          const weight = uploadLinearWeight(
            b,
            dtype,
            [n, k],
            r.normals(n * k, dtype === 'f8_e4m3' ? 100 : 0.05),
            (count) => Array.from({ length: count }, () => 2 ** (-12 + r.int(5))), // [2, 3] blocks
          );
          const out = empty(b, 'f32', [m, n]);
          b.kernels.linear(out, x, weight);
          return [await f32(b, out)];
        },
      ),
    );
  }
  for (const m of [1, 5]) {
    cases.push({
      linearWeightDtype: 'i8',
      ...simple(
        `linear with i8 weights and 1x32 scale blocks (GGUF Q8_0), ${m} row(s)`,
        'linear',
        2e-5,
        async (b, r) => {
          const [n, k] = [200, 320];
          const x = up(b, 'f32', [m, k], r.normals(m * k));
          const q = Array.from({ length: n * k }, () => r.int(255) - 127);
          const w = up(b, 'i8', [n, k], q);
          // Q8_0 scales are f16 values: max|w| / 127 of each block of 32.
          const scaleInv = up(
            b,
            'f32',
            [n, k / 32],
            Array.from({ length: (n * k) / 32 }, () => (1 + r.int(1024) / 1024) * 2 ** (-12 + r.int(6))),
          );
          const out = empty(b, 'f32', [m, n]);
          b.kernels.linear(out, x, { weight: w, scaleInv, blockSize: [1, 32] });
          return [await f32(b, out)];
        },
      ),
    });
  }
  cases.push(
    simple('matmul batched, permuted a, transposed bf16 b, alpha', 'matmul', 2e-5, async (b, r) => {
      const a = up(b, 'f32', [7, 3, 16], r.normals(7 * 3 * 16)); // viewed as [3, 7, 16]
      const w = up(b, 'bf16', [3, 9, 16], r.normals(3 * 9 * 16));
      const out = empty(b, 'f32', [3, 7, 9]);
      b.kernels.matmul(out, permute(a, [1, 0, 2]), w, { transposeB: true, alpha: 0.5 });
      return [await f32(b, out)];
    }),
    simple('matmul with a broadcast batch and strided out', 'matmul', 2e-5, async (b, r) => {
      const a = up(b, 'f32', [4, 6, 10], r.normals(240));
      const w = up(b, 'f32', [10, 5], r.normals(50));
      const out = up(b, 'f32', [6, 4, 5], new Array(120).fill(0));
      b.kernels.matmul(permute(out, [1, 0, 2]), a, broadcastTo(unsqueeze(w, 0), [4, 10, 5]));
      return [await f32(b, out)];
    }),
    simple('rmsNorm in place on a strided view, bf16 weight', 'rmsNorm', F32_TOLERANCE, async (b, r) => {
      const x = up(b, 'f32', [6, 40], r.normals(240, 3));
      const view = narrow(x, 1, 8, 32);
      b.kernels.rmsNorm(view, view, up(b, 'bf16', [32], r.normals(32)), 1e-6);
      return [await f32(b, x)];
    }),
    simple('layerNorm with bias', 'layerNorm', F32_TOLERANCE, async (b, r) => {
      const x = up(
        b,
        'f32',
        [5, 16],
        r.normals(80, 2).map((v) => v + 1),
      );
      const out = empty(b, 'f32', [5, 16]);
      b.kernels.layerNorm(out, x, up(b, 'f32', [16], r.normals(16)), up(b, 'f32', [16], r.normals(16)), 1e-6);
      return [await f32(b, out)];
    }),
  );
  for (const layout of ['interleaved', 'half'] as const) {
    cases.push(
      simple(`rope ${layout} on a strided slice, large positions`, 'rope', F32_TOLERANCE, async (b, r) => {
        const x = up(b, 'f32', [4, 3, 24], r.normals(288));
        const positions = up(b, 'i32', [4], [0, 1, 77, 131071]);
        const freq = up(
          b,
          'f32',
          [8],
          Array.from({ length: 8 }, (_, i) => 10000 ** (-i / 8)),
        );
        b.kernels.rope(narrow(x, 2, 8, 16), positions, freq, { layout, scale: 1.25 });
        return [await f32(b, x)];
      }),
    );
  }
  cases.push(
    simple('softmax with scale, -inf entries and an all -inf row', 'softmax', F32_TOLERANCE, async (b, r) => {
      const values = r.normals(4 * 33, 4);
      values[5] = Number.NEGATIVE_INFINITY;
      for (let i = 66; i < 99; i++) values[i] = Number.NEGATIVE_INFINITY;
      const x = up(b, 'f32', [4, 33], values);
      b.kernels.softmax(x, { scale: 0.7 });
      return [await f32(b, x)];
    }),
    simple('topk with ties, -inf, k larger than the candidates', 'topk', 0, async (b, r) => {
      const values = r.normals(3 * 40).map((v) => Math.round(v * 4) / 4); // many ties
      for (let i = 80; i < 120; i++) values[i] = i < 85 ? 1 : Number.NEGATIVE_INFINITY;
      const x = up(b, 'f32', [3, 40], values);
      const indices = empty(b, 'i32', [3, 9]);
      const top = empty(b, 'f32', [3, 9]);
      b.kernels.topk(indices, top, x, 9);
      return [await f32(b, indices), await f32(b, top)];
    }),
    simple('reduceSum over rows', 'reduceSum', F32_TOLERANCE, async (b, r) => {
      const x = up(b, 'f32', [7, 100], r.normals(700));
      const out = empty(b, 'f32', [7]);
      b.kernels.reduceSum(out, x);
      return [await f32(b, out)];
    }),
    simple('gatherColumns and scatterColumns with -1', 'gatherColumns', 0, async (b, r) => {
      const x = up(b, 'f32', [3, 10], r.normals(30));
      const idx = up(b, 'i32', [3, 4], [0, 9, -1, 3, 5, 5, 1, 2, -1, -1, -1, 0]);
      const g = empty(b, 'f32', [3, 4]);
      b.kernels.gatherColumns(g, x, idx, -7);
      const s = up(b, 'f32', [3, 10], new Array(30).fill(1));
      b.kernels.scatterColumns(s, idx, g);
      const t = up(b, 'f32', [3, 10], new Array(30).fill(0));
      b.kernels.scatterColumns(t, idx, Number.NEGATIVE_INFINITY);
      return [await f32(b, g), await f32(b, s), await f32(b, t)];
    }),
  );
  for (const op of ['silu', 'relu', 'exp', 'sigmoid', 'neg', 'sqrt', 'reciprocal'] as UnaryOp[]) {
    cases.push(
      simple(`unary ${op}`, 'unary', F32_TOLERANCE, async (b, r) => {
        const values = r
          .normals(64, 3)
          .map((v) => (op === 'sqrt' || op === 'reciprocal' ? Math.abs(v) + 0.1 : v));
        const x = up(b, 'f32', [8, 8], values);
        b.kernels.unary(x, x, op);
        return [await f32(b, x)];
      }),
    );
  }
  for (const op of ['add', 'sub', 'mul', 'div', 'max', 'min'] as BinaryOp[]) {
    cases.push(
      simple(`binary ${op} with broadcasting`, 'binary', F32_TOLERANCE, async (b, r) => {
        const a = up(b, 'f32', [4, 6], r.normals(24));
        const c = up(
          b,
          'f32',
          [6],
          r.normals(6).map((v) => (op === 'div' ? Math.abs(v) + 0.5 : v)),
        );
        const out = empty(b, 'f32', [4, 6]);
        b.kernels.binary(out, a, broadcastTo(c, [4, 6]), op);
        return [await f32(b, out)];
      }),
    );
  }
  cases.push(
    simple('hadamard over 128 dims (orthonormal, self-inverse)', 'hadamard', F32_TOLERANCE, async (b, r) => {
      const x = up(b, 'f32', [3, 128], r.normals(384));
      const y = empty(b, 'f32', [3, 128]);
      b.kernels.hadamard(y, x);
      const z = empty(b, 'f32', [3, 128]);
      b.kernels.hadamard(z, y);
      return [await f32(b, y), await f32(b, z)];
    }),
  );
  for (const scaleFormat of ['ue8m0', 'f32'] as const) {
    cases.push(
      simple(`quantizeFp8 (${scaleFormat} scales) and dequantizeFp8`, 'quantizeFp8', 0, async (b, r) => {
        const values = r.normals(4 * 200, 10);
        values.fill(0, 0, 128); // a zero block: amax clamps to 1e-4
        const x = up(b, 'f32', [4, 200], values);
        const q = empty(b, 'f8_e4m3', [4, 200]);
        const s = empty(b, 'f32', [4, 2]);
        b.kernels.quantizeFp8(q, s, x, { blockSize: 128, scaleFormat });
        const back = empty(b, 'f32', [4, 200]);
        b.kernels.dequantizeFp8(back, q, s, { blockSize: 128 });
        return [await f32(b, s), await f32(b, back)];
      }),
    );
  }
  cases.push(
    simple(
      "fp8 latent rows (DeepSeek's 656-byte layout): quantizeFp8 + scatterRows into its strided views, gathered back",
      'scatterRows',
      0,
      async (b, r) => {
        // 5 rows of 512 + 64 into 12 slots (one skipped); row 1 has a zero block, row 3 large values.
        const [slots, c, rope] = [12, 512, 64];
        const rowBytes = fp8LatentRowBytes(c, rope);
        const values = r.normals(5 * (c + rope), 3);
        values.fill(0, c + rope, c + rope + 128);
        for (let i = 3 * (c + rope); i < 4 * (c + rope); i++) values[i]! *= 1000;
        const cache = fp8LatentCache(b.allocate(slots * rowBytes, 'kv-cache'), slots, c, rope);
        b.upload(cache.packed, new Uint8Array(slots * rowBytes));
        const workspace = new Workspace(b);
        const rows = up(b, 'f32', [5, c + rope], values);
        scatterLatentRows(b, workspace, cache, rows, up(b, 'i32', [5], [7, -1, 0, 11, 3]));
        const bytes = new Uint8Array(slots * rowBytes);
        await b.download(cache.packed, bytes);
        const all = up(b, 'i32', [slots], [...Array(slots).keys()]);
        return [bytes, await f32(b, gatherLatentRows(b, workspace, cache, all))];
      },
    ),
  );
  cases.push(
    simple('sample: greedy, temperature, top-k, top-p, min-p, seeds', 'sample', 0, async (b, r) => {
      const logits = up(b, 'f32', [6, 300], r.normals(1800, 2));
      const out = empty(b, 'i32', [6]);
      b.kernels.sample(out, logits, [
        { temperature: 0 },
        { temperature: 1, seed: 1, step: 0 },
        { temperature: 0.7, topK: 5, seed: 2, step: 3 },
        { temperature: 1.3, topP: 0.9, seed: 3, step: 1 },
        { temperature: 1, minP: 0.2, seed: 4, step: 9 },
        { temperature: 1, topK: 1, seed: 5, step: 0 },
      ]);
      return [await f32(b, out)];
    }),
  );
  cases.push(
    simple(
      'sample with logit bias, repetition/frequency/presence penalties and logprobs',
      'sample',
      1e-5,
      async (b, r) => {
        const logits = up(b, 'f32', [3, 50], r.normals(150, 2));
        const history = up(b, 'i32', [12], [3, 7, 7, 9, 1, 3, 3, 3, 40, 41, 0, 0]);
        const out = empty(b, 'i32', [3]);
        const chosen = empty(b, 'f32', [3]);
        const topIds = empty(b, 'i32', [3, 4]);
        const topLogprobs = empty(b, 'f32', [3, 4]);
        b.kernels.sample(
          out,
          logits,
          [
            {
              temperature: 0,
              logitBias: [
                [5, 3],
                [6, -100],
              ],
            },
            {
              temperature: 0,
              repetitionPenalty: 1.3,
              frequencyPenalty: 0.4,
              presencePenalty: 0.2,
              history: { tokens: history, length: 10, promptLength: 4 },
            },
            {
              temperature: 0.8,
              seed: 9,
              step: 2,
              presencePenalty: 5,
              history: { tokens: history, length: 8, promptLength: 2 },
            },
          ],
          { logprobs: chosen, topIds, topLogprobs },
        );
        return [await f32(b, out), await f32(b, chosen), await f32(b, topIds), await f32(b, topLogprobs)];
      },
    ),
  );
  return cases;
}
