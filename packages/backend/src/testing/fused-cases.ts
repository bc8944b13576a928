import { type DType, Random } from '@dsa/tensor';
import type { Backend } from '../backend.js';
import { COMPOSITE_KERNELS } from '../composite/composite-kernels.js';
import { scatterLatentRows } from '../composite/latent-rows.js';
import { fp8LatentCache, fp8LatentRowBytes } from '../fp8-latent-cache.js';
import type { FusedKernelName, FusedKernels, IndexerKeyCache } from '../fused-kernels.js';
import { downloadTensor, uploadTensor } from '../host-tensor.js';
import type { LatentCache } from '../latent-cache.js';
import type { ExpertWeights } from '../linear-weight.js';
import { Workspace } from '../workspace.js';
import { uploadLinearWeight } from './linear-weights.js';
import { MOE_ROUTE_CASES } from './moe-route-cases.js';
import {
  emptyTensor,
  longerPagedLayout,
  longPagedLayout,
  mismatches,
  type PagedLayout,
  relativeError,
  SMALL_PAGED_LAYOUT,
  sparseIndices,
  uploadBatch,
} from './paged-batch.js';

/** What one fused-kernel case measured: the error (0 = identical) and, on a failure, what differed. */
export interface FusedOutcome {
  readonly error: number;
  readonly detail?: string;
}

/**
 * One check of a backend's fused kernel against the composite that defines it (`COMPOSITE_KERNELS`),
 * or of a behaviour the contract states for it (zeros for an empty selection, argument checks).
 */
export interface FusedCase {
  /** `<kernel>: <what>`. */
  readonly name: string;
  /** The fused kernel under test. */
  readonly kernel: FusedKernelName;
  /** Largest allowed error; 0 demands identical results. */
  readonly tolerance: number;
  /**
   * Runs the case: the candidate's fused kernel, and (where the case compares) the composite on the
   * oracle with the same inputs. Throws when the candidate lacks the fused kernel.
   */
  check(candidate: Backend, oracle: Backend): Promise<FusedOutcome>;
}

/** How one backend runs the fused suite: its instance of the one suite every backend shares. */
export interface FusedCaseOptions {
  /**
   * Adds the long cases (3001 to 20000 positions, k up to 2048, DeepSeek-V3.2's 20 × (512 + 64)
   * attention heads, bf16 queries): seconds on a GPU, minutes on CPUs.
   */
  readonly long?: boolean;
  /** Per-kernel tolerance overrides, for a backend whose documented precision is looser (bf16 activations). */
  readonly tolerances?: Partial<Record<FusedKernelName, number>>;
  /** The backend's router may list a token's experts in any order: compared sorted by expert id. */
  readonly anyRouteOrder?: boolean;
  /** Kernels whose fused result must equal the composite run on the candidate itself, bit for bit. */
  readonly exactOnCandidate?: readonly FusedKernelName[];
}

/** Whether a run is the backend's fused kernel or the composite definition on that backend. */
type How = 'fused' | 'composite';

/** One run of a case on `backend`: host copies of its outputs. */
type Run = (backend: Backend, how: How) => Promise<ArrayLike<number>[]>;

/** Runs `kernel` on `backend`: its fused implementation, or the contract's composite. */
async function apply<K extends FusedKernelName>(
  backend: Backend,
  how: How,
  kernel: K,
  ...args: Parameters<FusedKernels[K]>
): Promise<void> {
  if (how === 'fused') {
    const fused = backend.fused[kernel] as ((...a: Parameters<FusedKernels[K]>) => void) | undefined;
    if (!fused) throw new Error(`the backend has no fused ${kernel}`);
    fused(...args);
    return;
  }
  const composite = COMPOSITE_KERNELS[kernel] as (
    backend: Backend,
    workspace: Workspace,
    ...a: Parameters<FusedKernels[K]>
  ) => void | Promise<void>;
  await composite(backend, new Workspace(backend), ...args);
}

/** Compares outputs: those listed in `exact` must be identical, the others within relative error. */
function compare(
  got: ArrayLike<number>[],
  want: ArrayLike<number>[],
  exact: readonly number[],
  label = '',
): FusedOutcome {
  if (got.length !== want.length) return { error: Number.POSITIVE_INFINITY, detail: `${label}output count` };
  let error = 0;
  for (let o = 0; o < want.length; o++) {
    if (exact.includes(o)) {
      const same = mismatches(got[o]!, want[o]!);
      if (same.error !== 0)
        return { error: Number.POSITIVE_INFINITY, detail: `${label}output ${o}: ${same.detail}` };
    } else error = Math.max(error, relativeError(got[o]!, want[o]!));
  }
  return { error };
}

/** Runs `enqueue` on the candidate and expects it to throw (now or at the next synchronize) a message matching `pattern`. */
async function rejects(
  candidate: Backend,
  enqueue: () => Promise<void>,
  pattern: RegExp,
): Promise<FusedOutcome> {
  try {
    await enqueue();
    await candidate.synchronize();
  } catch (error) {
    const message = (error as Error).message;
    return pattern.test(message) ? { error: 0 } : { error: 1, detail: message };
  }
  return { error: 1, detail: 'no error thrown' };
}

/**
 * Routing of `n` tokens over `e` experts, `a` slots: distinct ascending experts per token (as the
 * router writes them), except token 1 (descending) and, with `skips`, token 2 (a -1 slot) and
 * token 3 (no expert).
 */
function randomRouting(
  random: Random,
  n: number,
  e: number,
  a: number,
  skips: boolean,
): { indices: number[]; weights: number[] } {
  const indices: number[] = [];
  for (let t = 0; t < n; t++) {
    const experts = Array.from({ length: e }, (_, i) => i)
      .sort(() => random.next() - 0.5)
      .slice(0, a)
      .sort((p, q) => (t === 1 ? q - p : p - q));
    if (skips && t === 2) experts[a - 1] = -1;
    if (skips && t === 3) experts.fill(-1);
    indices.push(...experts);
  }
  return { indices, weights: Array.from({ length: n * a }, () => 0.1 + random.next()) };
}

/** Each row's (index, weight) pairs sorted by index, for routers that list the best expert first. */
function byExpert(indices: ArrayLike<number>, weights: ArrayLike<number>, k: number): number[][] {
  const ids: number[] = [];
  const ws: number[] = [];
  for (let row = 0; row < indices.length / k; row++) {
    const pairs = Array.from(
      { length: k },
      (_, j) => [indices[row * k + j]!, weights[row * k + j]!] as const,
    );
    pairs.sort((p, q) => p[0] - q[0]);
    for (const [i, w] of pairs) {
      ids.push(i);
      ws.push(w);
    }
  }
  return [ids, ws];
}

/**
 * The fused-kernel suite of the conformance kit: every fused kernel against its composite definition
 * on the oracle (the reference backend), with random inputs over paged batches, plus the behaviours
 * the contract states. Each backend runs it with its own `options`, skipping the cases of kernels it
 * does not offer.
 */
export function fusedCases(options: FusedCaseOptions = {}): FusedCase[] {
  const cases: FusedCase[] = [];
  const tolerance = (kernel: FusedKernelName, fallback: number) => options.tolerances?.[kernel] ?? fallback;

  /**
   * A case comparing the candidate's fused kernel with the composite on the oracle. `prepare` may use the
   * oracle to make inputs every backend then gets as the same bytes (fp8 latent rows).
   */
  const compared = (
    kernel: FusedKernelName,
    what: string,
    limit: number,
    seed: number,
    prepare: (random: Random, oracle: Backend) => Run | Promise<Run>,
    exact: readonly number[] = [],
  ): void => {
    cases.push({
      name: `${kernel}: ${what}`,
      kernel,
      tolerance: tolerance(kernel, limit),
      async check(candidate, oracle) {
        const run = await prepare(new Random(seed), oracle);
        const got = await run(candidate, 'fused');
        if (options.exactOnCandidate?.includes(kernel)) {
          const all = got.map((_, i) => i);
          const same = compare(
            got,
            await run(candidate, 'composite'),
            all,
            'vs the composite on the candidate: ',
          );
          if (same.error !== 0) return same;
        }
        return compare(got, await run(oracle, 'composite'), exact);
      },
    });
  };

  compared(
    'addRmsNorm',
    'residual += x, out = rmsNorm(residual) (residual exact)',
    1e-6,
    1,
    (random) => {
      const [n, d] = [5, 96];
      const residual = random.normals(n * d, 2);
      const x = random.normals(n * d);
      const weight = random.normals(d);
      return async (backend, how) => {
        const r = uploadTensor(backend, 'f32', [n, d], residual);
        const out = emptyTensor(backend, 'f32', [n, d]);
        const w = uploadTensor(backend, 'bf16', [d], weight);
        await apply(backend, how, 'addRmsNorm', out, r, uploadTensor(backend, 'f32', [n, d], x), w, 1e-6);
        return [await downloadTensor(backend, out), await downloadTensor(backend, r)];
      };
    },
    [1],
  );

  compared('swiglu', 'out = silu(gate) · up', 1e-6, 2, (random) => {
    const [n, i] = [7, 130];
    const gate = random.normals(n * i, 3);
    const up = random.normals(n * i);
    return async (backend, how) => {
      const out = emptyTensor(backend, 'f32', [n, i]);
      const g = uploadTensor(backend, 'f32', [n, i], gate);
      await apply(backend, how, 'swiglu', out, g, uploadTensor(backend, 'f32', [n, i], up));
      return [await downloadTensor(backend, out)];
    };
  });

  compared('linears', 'f32, bf16 and f8_e4m3 weights of one x', 1e-5, 14, (random) => {
    const [m, k] = [5, 160];
    const specs = [
      ['f32', 24],
      ['bf16', 17],
      ['f8_e4m3', 130],
    ] as const;
    const x = random.normals(m * k);
    const values = specs.map(([dtype, n]) => random.normals(n * k, dtype === 'f8_e4m3' ? 100 : 0.05));
    return async (backend, how) => {
      const weights = specs.map(([dtype, n], i) =>
        uploadLinearWeight(backend, dtype, [n, k], values[i]!, (count) => new Array(count).fill(2 ** -7)),
      );
      const outs = specs.map(([, n]) => emptyTensor(backend, 'f32', [m, n]));
      await apply(backend, how, 'linears', outs, uploadTensor(backend, 'f32', [m, k], x), weights);
      return Promise.all(outs.map((out) => downloadTensor(backend, out)));
    };
  });
  cases.push({
    name: 'linears: rejects a count of outputs unlike the count of weights',
    kernel: 'linears',
    tolerance: 0,
    async check(candidate) {
      const weight = uploadLinearWeight(candidate, 'f32', [3, 8], new Array(24).fill(1), () => []);
      const x = uploadTensor(candidate, 'f32', [1, 8], new Array(8).fill(1));
      return rejects(
        candidate,
        () =>
          apply(candidate, 'fused', 'linears', [emptyTensor(candidate, 'f32', [1, 3])], x, [weight, weight]),
        /1 outputs for 2 weights/,
      );
    },
  });

  /**
   * An mlaAttention case: heads × (c + r) queries over a paged latent cache, dense or top-`k` sparse. The
   * cache holds f32 or bf16 rows, or `fp8` rows (DeepSeek's layout) quantized once by the oracle's write
   * path (scatterLatentRows) and uploaded as the same bytes to every backend.
   */
  const mla = (
    what: string,
    layoutOf: (random: Random) => PagedLayout,
    dims: {
      heads: number;
      c: number;
      r: number;
      k: number | null;
      seed: number;
      cache: 'f32' | 'bf16' | 'fp8';
      q?: DType;
    },
    limit = 1e-5,
  ) =>
    compared('mlaAttention', what, limit, dims.seed, async (random, oracle) => {
      const layout = layoutOf(random);
      const { heads, c, r, k } = dims;
      const s = layout.positions.length;
      const q = random.normals(s * heads * (c + r));
      const cache = random.normals(layout.slots * (c + r));
      const indices = k === null ? null : sparseIndices(random, layout, k);
      const scale = 1 / Math.sqrt(c + r);
      const rows = dims.cache === 'fp8' ? await fp8LatentBytes(oracle, layout.slots, c, r, cache) : null;
      const latentOf = (backend: Backend): LatentCache => {
        if (!rows) return uploadTensor(backend, dims.cache as DType, [layout.slots, c + r], cache);
        const packed = uploadTensor(
          backend,
          'u8',
          [layout.slots, rows.length / layout.slots],
          rows,
          'kv-cache',
        );
        return fp8LatentCache(packed.buffer, layout.slots, c, r);
      };
      return async (backend, how) => {
        const out = emptyTensor(backend, 'f32', [s, heads, c]);
        await apply(
          backend,
          how,
          'mlaAttention',
          out,
          uploadTensor(backend, dims.q ?? 'f32', [s, heads, c + r], q),
          latentOf(backend),
          uploadBatch(backend, layout),
          indices ? uploadTensor(backend, 'i32', [s, k!], indices) : null,
          scale,
        );
        return [await downloadTensor(backend, out)];
      };
    });

  for (const mode of ['dense', 'sparse'] as const) {
    for (const cache of ['f32', 'bf16', 'fp8'] as const) {
      mla(`${mode} over a paged ${cache} latent cache`, () => SMALL_PAGED_LAYOUT, {
        heads: 4,
        c: 32,
        r: 8,
        k: mode === 'sparse' ? 6 : null,
        seed: mode === 'dense' ? 3 : 4,
        cache,
      });
    }
    // fp8 rows with several scale blocks and a partial last one (C = 200: 128 + 72), R = 6.
    mla(`${mode} over a paged fp8 latent cache, two scale blocks (C = 200)`, () => SMALL_PAGED_LAYOUT, {
      heads: 3,
      c: 200,
      r: 6,
      k: mode === 'sparse' ? 5 : null,
      seed: mode === 'dense' ? 15 : 16,
      cache: 'fp8',
    });
  }
  if (options.long) {
    const v32 = { heads: 20, c: 512, r: 64, cache: 'bf16' } as const;
    mla(
      'sparse decode shape (20 heads, 512 + 64, top-160 over 5000 and 3001 tokens, bf16 cache)',
      longPagedLayout,
      {
        ...v32,
        k: 160,
        seed: 12,
      },
    );
    // bf16 queries and cache: a backend may round the probabilities to bf16 (tensor cores), hence 1e-2.
    mla(
      'dense, bf16 q + bf16 cache',
      () => SMALL_PAGED_LAYOUT,
      { ...v32, k: null, seed: 14, q: 'bf16' },
      1e-2,
    );
    mla(
      'sparse, bf16 q + bf16 cache, top-160 over 5000 and 3001 tokens',
      longPagedLayout,
      {
        ...v32,
        k: 160,
        seed: 14,
        q: 'bf16',
      },
      1e-2,
    );
    // DeepSeek's 656-byte fp8 rows at the V3.2 shape (the layout FlashMLA's sparse decode reads).
    mla('sparse decode shape, fp8 656-byte cache, top-160 over 5000 and 3001 tokens', longPagedLayout, {
      ...v32,
      cache: 'fp8',
      k: 160,
      seed: 17,
    });
    mla(
      'dense, bf16 q + fp8 656-byte cache',
      () => SMALL_PAGED_LAYOUT,
      { ...v32, cache: 'fp8', k: null, seed: 18, q: 'bf16' },
      1e-2,
    );
  }

  const small = SMALL_PAGED_LAYOUT;
  const s = small.positions.length;
  cases.push({
    name: 'mlaAttention: a query whose indices are all -1 gets zeros',
    kernel: 'mlaAttention',
    tolerance: 0,
    async check(candidate) {
      const [heads, c, r] = [2, 16, 4];
      const random = new Random(5);
      const out = uploadTensor(candidate, 'f32', [s, heads, c], new Array(s * heads * c).fill(7));
      await apply(
        candidate,
        'fused',
        'mlaAttention',
        out,
        uploadTensor(candidate, 'f32', [s, heads, c + r], random.normals(s * heads * (c + r))),
        uploadTensor(candidate, 'f32', [small.slots, c + r], random.normals(small.slots * (c + r))),
        uploadBatch(candidate, small),
        uploadTensor(candidate, 'i32', [s, 2], new Array(2 * s).fill(-1)),
        0.1,
      );
      return mismatches(await downloadTensor(candidate, out), new Array(s * heads * c).fill(0));
    },
  });
  cases.push({
    name: 'mlaAttention: rejects a batch whose block table does not cover a position',
    kernel: 'mlaAttention',
    tolerance: 0,
    async check(candidate) {
      const [heads, c, r] = [2, 16, 4];
      const batch = uploadBatch(candidate, small);
      const broken = {
        ...batch,
        host: { ...batch.host, blockTable: batch.host.blockTable.map((b, i) => (i === 2 ? -1 : b)) },
      };
      const q = uploadTensor(candidate, 'f32', [s, heads, c + r], new Array(s * heads * (c + r)).fill(0));
      const cache = uploadTensor(
        candidate,
        'f32',
        [small.slots, c + r],
        new Array(small.slots * (c + r)).fill(0),
      );
      const out = emptyTensor(candidate, 'f32', [s, heads, c]);
      return rejects(
        candidate,
        () => apply(candidate, 'fused', 'mlaAttention', out, q, cache, broken, null, 0.1),
        /no cache block for position 8/,
      );
    },
  });

  /** An indexerTopk case: 4 heads of width `width` over f32 or fp8 (per-token scaled) keys; indices exact. */
  const indexer = (
    what: string,
    keyMode: 'f32' | 'fp8',
    layoutOf: (random: Random) => PagedLayout,
    k: number,
    seed: number,
    width = 32,
  ) =>
    compared(
      'indexerTopk',
      `${what} (exact indices)`,
      0,
      seed,
      (random) => {
        const layout = layoutOf(random);
        const rows = layout.positions.length;
        const heads = 4;
        const q = random.normals(rows * heads * width);
        const weights = random.normals(rows * heads);
        const keys = random.normals(layout.slots * width, 50);
        const scales = Array.from({ length: layout.slots }, () => 2 ** (-8 + random.int(4)));
        return async (backend, how) => {
          const cache: IndexerKeyCache =
            keyMode === 'f32'
              ? { keys: uploadTensor(backend, 'f32', [layout.slots, width], keys) }
              : {
                  keys: uploadTensor(backend, 'f8_e4m3', [layout.slots, width], keys), // encoded on upload
                  scales: uploadTensor(backend, 'f32', [layout.slots], scales),
                };
          const out = emptyTensor(backend, 'i32', [rows, k]);
          const qv = uploadTensor(backend, 'f32', [rows, heads, width], q);
          const wv = uploadTensor(backend, 'f32', [rows, heads], weights);
          await apply(backend, how, 'indexerTopk', out, qv, wv, cache, uploadBatch(backend, layout), k);
          return [await downloadTensor(backend, out)];
        };
      },
      [0],
    );

  indexer('f32 keys, small paged batch, k = 8', 'f32', () => SMALL_PAGED_LAYOUT, 8, 6);
  indexer('fp8 keys + scales, small paged batch, k = 8', 'fp8', () => SMALL_PAGED_LAYOUT, 8, 7);
  if (options.long) {
    indexer('fp8 keys, 5000 and 3001 positions, k = 2048', 'fp8', longPagedLayout, 2048, 13);
    indexer('fp8 keys, width 128, 20000 positions, k = 2048', 'fp8', longerPagedLayout, 2048, 14, 128);
  }

  for (const { label, options: route, withBias, experts } of MOE_ROUTE_CASES) {
    compared(
      'moeRoute',
      `${label} (indices exact)`,
      1e-6,
      8,
      (random) => {
        const [n, e] = [9, experts ?? 64];
        const logits = random.normals(n * e, 2);
        const bias = random.normals(e, 0.1);
        return async (backend, how) => {
          const indices = emptyTensor(backend, 'i32', [n, route.topk]);
          const weights = emptyTensor(backend, 'f32', [n, route.topk]);
          const lv = uploadTensor(backend, 'f32', [n, e], logits);
          const bv = withBias ? uploadTensor(backend, 'f32', [e], bias) : null;
          await apply(backend, how, 'moeRoute', indices, weights, lv, bv, route);
          const got = [await downloadTensor(backend, indices), await downloadTensor(backend, weights)];
          return options.anyRouteOrder ? byExpert(got[0]!, got[1]!, route.topk) : got;
        };
      },
      [0],
    );
  }

  /** Random experts of `dtype` ([32, 32] power-of-two block scales for fp8), the same on every backend. */
  const expertsOf = (random: Random, dtype: DType, count: number, hidden: number, inter: number) => {
    const raw = Array.from({ length: count }, () => ({
      gate: random.normals(inter * hidden, 0.3),
      up: random.normals(inter * hidden, 0.3),
      down: random.normals(hidden * inter, 0.3),
    }));
    const scales = Array.from({ length: 3 * count * 64 }, () => 2 ** -random.int(3));
    return (backend: Backend): ExpertWeights[] =>
      raw.map((w, i) => {
        const upload = (values: number[], shape: [number, number], part: number) =>
          uploadLinearWeight(
            backend,
            dtype,
            shape,
            values,
            (n) => scales.slice((3 * i + part) * 64, (3 * i + part) * 64 + n),
            [32, 32],
          );
        return {
          gate: upload(w.gate, [inter, hidden], 0),
          up: upload(w.up, [inter, hidden], 1),
          down: upload(w.down, [hidden, inter], 2),
        };
      });
  };

  /** moeExperts inputs: 13 tokens routed to 3 of 6 experts (see `randomRouting`); a run over `rows`. */
  const expertRun = (random: Random, dtype: DType, hidden: number, inter: number, skips = false) => {
    const [n, e, a] = [13, 6, 3];
    const experts = expertsOf(random, dtype, e, hidden, inter);
    const x = random.normals(n * hidden);
    const routing = randomRouting(random, n, e, a, skips);
    const pick = (values: readonly number[], width: number, rows: readonly number[]) =>
      rows.flatMap((t) => values.slice(t * width, (t + 1) * width));
    return {
      all: Array.from({ length: n }, (_, t) => t),
      run: async (backend: Backend, how: How, rows: readonly number[]) => {
        const m = rows.length;
        const out = uploadTensor(backend, 'f32', [m, hidden], new Array(m * hidden).fill(Number.NaN));
        await apply(
          backend,
          how,
          'moeExperts',
          out,
          uploadTensor(backend, 'f32', [m, hidden], pick(x, hidden, rows)),
          uploadTensor(backend, 'i32', [m, a], pick(routing.indices, a, rows)),
          uploadTensor(backend, 'f32', [m, a], pick(routing.weights, a, rows)),
          experts(backend),
        );
        return downloadTensor(backend, out);
      },
    };
  };

  for (const dtype of ['f32', 'bf16', 'f8_e4m3'] as const) {
    for (const [hidden, inter] of [
      [64, 48],
      [160, 40],
      [100, 24], // hidden not a multiple of 32 (the dot kernels' masked tail of K), inner not of 16
    ] as const) {
      compared('moeExperts', `${dtype} experts, hidden ${hidden}, inner ${inter}`, 1e-5, 11, (random) => {
        const { all, run } = expertRun(random, dtype, hidden, inter);
        return async (backend, how) => [await run(backend, how, all)];
      });
    }
    cases.push({
      name: `moeExperts: ${dtype} experts, each token alone gets the bits it gets in the batch`,
      kernel: 'moeExperts',
      tolerance: 0,
      async check(candidate) {
        const { all, run } = expertRun(new Random(12), dtype, 64, 48);
        const batched = await run(candidate, 'fused', all);
        for (const t of all) {
          const alone = await run(candidate, 'fused', [t]);
          const same = mismatches(alone, batched.subarray(t * 64, (t + 1) * 64));
          if (same.error !== 0)
            return { error: Number.POSITIVE_INFINITY, detail: `token ${t}: ${same.detail}` };
        }
        return { error: 0 };
      },
    });
  }
  compared(
    'moeExperts',
    'a -1 slot is skipped, a token with no expert gets zeros (bf16 experts)',
    1e-5,
    11,
    (random) => {
      const { all, run } = expertRun(random, 'bf16', 64, 48, true);
      return async (backend, how) => [await run(backend, how, all)];
    },
  );
  cases.push({
    name: 'moeExperts: rejects an expert index out of range',
    kernel: 'moeExperts',
    tolerance: 0,
    async check(candidate) {
      const d = 32;
      const experts = expertsOf(new Random(13), 'bf16', 2, d, 16)(candidate);
      const xv = uploadTensor(candidate, 'f32', [1, d], new Array(d).fill(1));
      const iv = uploadTensor(candidate, 'i32', [1, 2], [0, 5]);
      const wv = uploadTensor(candidate, 'f32', [1, 2], [0.5, 0.5]);
      const out = emptyTensor(candidate, 'f32', [1, d]);
      return rejects(
        candidate,
        () => apply(candidate, 'fused', 'moeExperts', out, xv, iv, wv, experts),
        /router picked expert 5 of 2/,
      );
    },
  });
  return cases;
}

/**
 * The bytes of an fp8 latent cache of `slots` rows holding `values` [slots, C+R], written on `oracle` by
 * the write path every backend runs (scatterLatentRows: quantizeFp8 with UE8M0 scales, scatterRows into
 * the strided views): [slots · rowBytes] u8.
 */
async function fp8LatentBytes(
  oracle: Backend,
  slots: number,
  c: number,
  r: number,
  values: readonly number[],
): Promise<number[]> {
  const rowBytes = fp8LatentRowBytes(c, r);
  const cache = fp8LatentCache(oracle.allocate(slots * rowBytes, 'kv-cache'), slots, c, r);
  const rows = uploadTensor(oracle, 'f32', [slots, c + r], values);
  const all = uploadTensor(
    oracle,
    'i32',
    [slots],
    Array.from({ length: slots }, (_, i) => i),
  );
  scatterLatentRows(oracle, new Workspace(oracle), cache, rows, all);
  const bytes = new Uint8Array(slots * rowBytes);
  await oracle.download(cache.packed, bytes);
  return Array.from(bytes);
}
