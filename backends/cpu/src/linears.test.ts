// The cpu backend's fused `linears`: one pass of the thread pool over several weights of one x. Each output
// must be bit for bit what `linear` gives it, in both precisions, for every weight dtype, for row counts on
// every path of the dot kernels (the decode GEMV, the batch-8 tiles, the prefill tiles), and for weight row
// counts that are not multiples of 16 (where one weight's columns end inside another's 16-column task).
import { downloadTensor, type LinearWeight, uploadTensor } from '@dsa/backend';
import { Random, uploadLinearWeight } from '@dsa/backend/testing';
import type { DType } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
const HAS_BF16 = native.addon.info().avx512bf16;
const PRECISIONS = HAS_BF16 ? (['f32', 'bf16'] as const) : (['f32'] as const);

/** An [n, k] weight of `dtype`: i8 as GGUF Q8_0 (1x32 blocks of f32 scales), f8_e4m3 with 128x128 blocks. */
function weightOf(backend: CpuBackend, random: Random, dtype: DType, n: number, k: number): LinearWeight {
  if (dtype === 'i8') {
    const quants = random.normals(n * k, 40).map((v) => Math.max(-127, Math.min(127, Math.round(v))));
    return {
      weight: uploadTensor(backend, 'i8', [n, k], quants),
      scaleInv: uploadTensor(backend, 'f32', [n, k / 32], random.normals((n * k) / 32, 0.001)),
      blockSize: [1, 32],
    };
  }
  return uploadLinearWeight(
    backend,
    dtype,
    [n, k],
    random.normals(n * k, dtype === 'f8_e4m3' ? 100 : 0.05),
    (count) => new Array(count).fill(2 ** -7),
  );
}

const GROUPS: readonly (readonly [DType, number][])[] = [
  // q_a_proj, kv_a_proj_with_mqa, wk, weights_proj of a small model (rows scaled down)
  [
    ['bf16', 40],
    ['bf16', 17],
    ['bf16', 64],
    ['bf16', 3],
  ],
  // an fp8 checkpoint: fp8 projections beside a bf16 weights_proj
  [
    ['f8_e4m3', 130],
    ['f8_e4m3', 20],
    ['bf16', 8],
  ],
  [
    ['i8', 33],
    ['f32', 16],
    ['f16', 5],
  ],
];

for (const precision of PRECISIONS) {
  describe(`linears on the cpu backend (${precision} precision)`, () => {
    const backend = new CpuBackend(native.addon, { threads: 2, settings: { precision } });

    for (const group of GROUPS) {
      for (const m of [1, 3, 8, 9, 40]) {
        it(`gives each output the bits of linear: ${group.map(([d, n]) => `${d}[${n}]`).join(', ')}, ${m} rows`, async () => {
          const random = new Random(m * 7 + group.length);
          const k = 256;
          const x = uploadTensor(backend, 'f32', [m, k], random.normals(m * k));
          const weights = group.map(([dtype, n]) => weightOf(backend, random, dtype, n, k));
          const fill = (n: number) => uploadTensor(backend, 'f32', [m, n], new Array(m * n).fill(Number.NaN));
          const fused = group.map(([, n]) => fill(n));
          backend.fused.linears!(fused, x, weights);
          for (let i = 0; i < group.length; i++) {
            const alone = fill(group[i]![1]);
            backend.kernels.linear(alone, x, weights[i]!);
            const got = await downloadTensor(backend, fused[i]!);
            const want = await downloadTensor(backend, alone);
            expect(want.some(Number.isNaN), 'linear wrote every output').toBe(false);
            expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `output ${i}`).toBe(true);
          }
        });
      }
    }
  });
}

describe('linears on the cpu backend: bad arguments', () => {
  const backend = new CpuBackend(native.addon, { threads: 2, settings: { execution: 'synchronous' } });
  const x = uploadTensor(backend, 'f32', [2, 64], new Array(128).fill(1));
  const out = (n: number) => uploadTensor(backend, 'f32', [2, n], new Array(2 * n).fill(0));
  const weight = (n: number, k = 64) => ({
    weight: uploadTensor(backend, 'bf16', [n, k], new Array(n * k).fill(0.5)),
  });

  it('names the weight or output that is wrong', () => {
    expect(() => backend.fused.linears!([out(3)], x, [weight(3), weight(4)])).toThrow(
      /linears: 1 outputs for 2 weights/,
    );
    expect(() => backend.fused.linears!([out(3), out(4)], x, [weight(3), weight(4, 32)])).toThrow(
      /linears: x f32\[2, 64\] does not match weights\[1\] bf16\[4, 32\]/,
    );
    expect(() => backend.fused.linears!([out(3), out(5)], x, [weight(3), weight(4)])).toThrow(
      /linears: outs\[1\]/,
    );
    const f8 = { weight: uploadTensor(backend, 'f8_e4m3', [4, 64], new Array(256).fill(0.5)) };
    expect(() => backend.fused.linears!([out(3), out(4)], x, [weight(3), f8])).toThrow(
      /linears: weights\[1\]: f8_e4m3 weight without scaleInv/,
    );
  });

  it('writes nothing when one weight is wrong', async () => {
    const first = out(3);
    expect(() => backend.fused.linears!([first, out(4)], x, [weight(3), weight(4, 32)])).toThrow();
    expect([...(await downloadTensor(backend, first))]).toEqual(new Array(6).fill(0));
  });
});
