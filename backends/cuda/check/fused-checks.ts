// Each fused kernel of the cuda backend against the composite fallback that defines it, run on the
// reference backend, with random inputs and small paged batches (like backends/cpu/src/fused-kernels.test.ts).
// Shared by the vitest file (fused-kernels.cuda.test.ts) and the device suite.
import {
  type Backend,
  downloadTensor,
  type ExpertWeights,
  type IndexerKeyCache,
  type LinearWeight,
  uploadTensor,
  Workspace,
} from '@dsa/backend';
import {
  emptyTensor,
  MOE_ROUTE_CASES,
  mismatches,
  type PagedLayout,
  Random,
  relativeError,
  SMALL_PAGED_LAYOUT,
  sparseIndices,
  uploadBatch,
  uploadLinearWeight,
} from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { indexerTopK } from '@dsa/indexer';
import { mlaAttention } from '@dsa/mla';
import { moeExperts, moeRoute } from '@dsa/moe';
import type { DType } from '@dsa/tensor';
import type { CudaBackend } from '../src/cuda-backend.js';
import type { FusedKernelHost } from '../src/fused/fused-host.js';
import { fastLinear } from '../src/fused/linear.js';
import { mlaAttention as cudaMlaAttention } from '../src/fused/mla-attention.js';
import { type CheckResult, runCheck } from './check-result.js';

/** The fused-kernel host of `backend` (its launcher, workspace, allocate and upload). */
function cudaHost(backend: CudaBackend): FusedKernelHost {
  return {
    launcher: backend.launcher,
    workspace: backend.workspace,
    allocate: (bytes, usage) => backend.allocate(bytes, usage),
    upload: (destination, source, stream) => backend.upload(destination, source, stream),
  };
}

/** Two long sequences (5000 and 3001 tokens) in blocks of 64, shuffled over the pool. */
function longLayout(random: Random): PagedLayout {
  const blocks = Array.from({ length: 79 + 47 }, (_, i) => i).sort(() => random.next() - 0.5);
  const row0 = blocks.slice(0, 79);
  const row1 = [...blocks.slice(79), ...new Array(79 - 47).fill(-1)];
  return {
    blockSize: 64,
    blockTable: [row0, row1],
    sequenceIds: [0, 1],
    positions: [4999, 3000],
    slots: 126 * 64,
  };
}

/** One sequence of 20000 positions (313 shuffled blocks of 64): long enough for the v2 top-k filter. */
function longerLayout(random: Random): PagedLayout {
  const blocks = Array.from({ length: 313 }, (_, i) => i).sort(() => random.next() - 0.5);
  return { blockSize: 64, blockTable: [blocks], sequenceIds: [0], positions: [19999], slots: 313 * 64 };
}

/** One fused-kernel check: its name, allowed error and body (cuda backend, reference backend). */
export interface FusedCheck {
  /** `fused <kernel>: <case>`. */
  readonly name: string;
  /** The largest allowed error (0 = exact). */
  readonly tolerance: number;
  /** Runs the fused kernel on `cuda` and the composite on `reference`; returns the measured error. */
  readonly run: (cuda: Backend, reference: Backend) => Promise<{ error: number; detail?: string }>;
}

function needs(backend: Backend, kernel: keyof Backend['fused']): void {
  if (!backend.fused[kernel]) throw new Error(`the backend has no fused ${kernel} (not wired)`);
}

const checks: FusedCheck[] = [];

checks.push({
  name: 'fused addRmsNorm: residual += x, out = rmsNorm(residual) (residual exact)',
  tolerance: 1e-6,
  run: async (cuda, reference) => {
    needs(cuda, 'addRmsNorm');
    const random = new Random(1);
    const [n, d] = [5, 96];
    const residual = random.normals(n * d, 2);
    const x = random.normals(n * d);
    const weight = random.normals(d);
    const run = async (backend: Backend, fused: boolean) => {
      const r = uploadTensor(backend, 'f32', [n, d], residual);
      const xv = uploadTensor(backend, 'f32', [n, d], x);
      const w = uploadTensor(backend, 'bf16', [d], weight);
      const out = emptyTensor(backend, 'f32', [n, d]);
      if (fused) backend.fused.addRmsNorm!(out, r, xv, w, 1e-6);
      else {
        backend.kernels.binary(r, r, xv, 'add');
        backend.kernels.rmsNorm(out, r, w, 1e-6);
      }
      return [await downloadTensor(backend, out), await downloadTensor(backend, r)] as const;
    };
    const [out, res] = await run(cuda, true);
    const [wantOut, wantRes] = await run(reference, false);
    const residualError = mismatches(res, wantRes);
    if (residualError.error !== 0)
      return { error: Number.POSITIVE_INFINITY, detail: `residual: ${residualError.detail}` };
    return { error: relativeError(out, wantOut) };
  },
});

checks.push({
  name: 'fused swiglu: out = silu(gate) · up',
  tolerance: 1e-6,
  run: async (cuda, reference) => {
    needs(cuda, 'swiglu');
    const random = new Random(2);
    const [n, i] = [7, 130];
    const gate = random.normals(n * i, 3);
    const up = random.normals(n * i);
    const run = async (backend: Backend, fused: boolean) => {
      const g = uploadTensor(backend, 'f32', [n, i], gate);
      const u = uploadTensor(backend, 'f32', [n, i], up);
      const out = emptyTensor(backend, 'f32', [n, i]);
      if (fused) backend.fused.swiglu!(out, g, u);
      else {
        backend.kernels.unary(out, g, 'silu');
        backend.kernels.binary(out, out, u, 'mul');
      }
      return downloadTensor(backend, out);
    };
    return { error: relativeError(await run(cuda, true), await run(reference, false)) };
  },
});

function mlaCheck(
  label: string,
  layout: (random: Random) => PagedLayout,
  dims: { heads: number; c: number; r: number; k: number | null; seed: number; cache: DType; q?: DType },
  tolerance = 1e-5,
): FusedCheck {
  return {
    name: `fused mlaAttention: ${label}`,
    tolerance,
    run: async (cuda, reference) => {
      needs(cuda, 'mlaAttention');
      const random = new Random(dims.seed);
      const l = layout(random);
      const { heads, c, r } = dims;
      const s = l.positions.length;
      const q = random.normals(s * heads * (c + r));
      const cache = random.normals(l.slots * (c + r));
      const indices = dims.k === null ? null : sparseIndices(random, l, dims.k);
      const scale = 1 / Math.sqrt(c + r);
      const workspace = new Workspace(reference);
      const run = async (backend: Backend, fused: boolean) => {
        const qv = uploadTensor(backend, dims.q ?? 'f32', [s, heads, c + r], q);
        const cv = uploadTensor(backend, dims.cache, [l.slots, c + r], cache);
        const iv = indices ? uploadTensor(backend, 'i32', [s, dims.k!], indices) : null;
        const out = emptyTensor(backend, 'f32', [s, heads, c]);
        const batch = uploadBatch(backend, l);
        if (fused) backend.fused.mlaAttention!(out, qv, cv, batch, iv, scale);
        else mlaAttention(backend, workspace, out, qv, cv, batch, iv, scale);
        return downloadTensor(backend, out);
      };
      return { error: relativeError(await run(cuda, true), await run(reference, false)) };
    },
  };
}

for (const mode of ['dense', 'sparse'] as const) {
  for (const cache of ['f32', 'bf16'] as const) {
    checks.push(
      mlaCheck(`${mode} over a paged ${cache} latent cache`, () => SMALL_PAGED_LAYOUT, {
        heads: 4,
        c: 32,
        r: 8,
        k: mode === 'sparse' ? 6 : null,
        seed: mode === 'dense' ? 3 : 4,
        cache,
      }),
    );
  }
}
checks.push(
  mlaCheck(
    'sparse decode shape (20 heads, 512 + 64, top-160 over 5000 and 3001 tokens, bf16 cache)',
    longLayout,
    {
      heads: 20,
      c: 512,
      r: 64,
      k: 160,
      seed: 12,
      cache: 'bf16',
    },
  ),
);

// The f32 kernel splits a query's keys over CTAs when the batch is small (the setting mlaSplit forces it):
// the split launch + combine and the one-CTA merge must give the same bits, and match the reference.
for (const mode of ['dense', 'sparse'] as const) {
  checks.push({
    name: `fused mlaAttention: ${mode} keys split over CTAs and merged in one CTA give identical bits (5000 and 3001 tokens${mode === 'sparse' ? ', top-2048' : ''})`,
    tolerance: 1e-5,
    run: async (cuda, reference) => {
      needs(cuda, 'mlaAttention');
      const random = new Random(mode === 'dense' ? 21 : 22);
      const l = longLayout(random);
      const [heads, c, r] = [20, 512, 64];
      const s = l.positions.length;
      const q = random.normals(s * heads * (c + r));
      const cache = random.normals(l.slots * (c + r));
      const k = 2048;
      const indices = mode === 'sparse' ? sparseIndices(random, l, k) : null;
      const scale = 1 / Math.sqrt(c + r);
      const workspace = new Workspace(reference);
      const run = async (backend: Backend, split: 'on' | 'off' | null) => {
        const qv = uploadTensor(backend, 'f32', [s, heads, c + r], q);
        const cv = uploadTensor(backend, 'f32', [l.slots, c + r], cache);
        const iv = indices ? uploadTensor(backend, 'i32', [s, k], indices) : null;
        const out = emptyTensor(backend, 'f32', [s, heads, c]);
        const batch = uploadBatch(backend, l);
        if (split) {
          const host = backend as CudaBackend;
          cudaMlaAttention(
            { ...cudaHost(host), settings: { ...host.settings, mlaSplit: split } },
            out,
            qv,
            cv,
            batch,
            iv,
            scale,
          );
        } else mlaAttention(backend, workspace, out, qv, cv, batch, iv, scale);
        return downloadTensor(backend, out);
      };
      const split = await run(cuda, 'on');
      const merged = await run(cuda, 'off');
      const same = mismatches(split, merged);
      if (same.error !== 0)
        return { error: Number.POSITIVE_INFINITY, detail: `split vs one-CTA merge: ${same.detail}` };
      return { error: relativeError(split, await run(reference, null)) };
    },
  });
}

// bf16 q and cache select the tensor-core kernel; P is rounded to bf16 there, hence 1e-2.
for (const mode of ['dense', 'sparse'] as const) {
  checks.push(
    mlaCheck(
      `${mode}, bf16 q + bf16 cache (tensor-core kernel)`,
      mode === 'dense' ? () => SMALL_PAGED_LAYOUT : longLayout,
      { heads: 20, c: 512, r: 64, k: mode === 'sparse' ? 160 : null, seed: 14, cache: 'bf16', q: 'bf16' },
      1e-2,
    ),
  );
}

checks.push({
  name: 'fused mlaAttention: a query whose indices are all -1 gets zeros',
  tolerance: 0,
  run: async (cuda) => {
    needs(cuda, 'mlaAttention');
    const [heads, c, r] = [2, 16, 4];
    const s = SMALL_PAGED_LAYOUT.positions.length;
    const random = new Random(5);
    const qv = uploadTensor(cuda, 'f32', [s, heads, c + r], random.normals(s * heads * (c + r)));
    const cv = uploadTensor(
      cuda,
      'f32',
      [SMALL_PAGED_LAYOUT.slots, c + r],
      random.normals(SMALL_PAGED_LAYOUT.slots * (c + r)),
    );
    const iv = uploadTensor(cuda, 'i32', [s, 2], new Array(2 * s).fill(-1));
    const out = uploadTensor(cuda, 'f32', [s, heads, c], new Array(s * heads * c).fill(7));
    cuda.fused.mlaAttention!(out, qv, cv, uploadBatch(cuda, SMALL_PAGED_LAYOUT), iv, 0.1);
    return mismatches(await downloadTensor(cuda, out), new Array(s * heads * c).fill(0));
  },
});

checks.push({
  name: 'fused mlaAttention: rejects a batch whose block table does not cover a position',
  tolerance: 0,
  run: async (cuda) => {
    needs(cuda, 'mlaAttention');
    const [heads, c, r] = [2, 16, 4];
    const s = SMALL_PAGED_LAYOUT.positions.length;
    const qv = uploadTensor(cuda, 'f32', [s, heads, c + r], new Array(s * heads * (c + r)).fill(0));
    const cv = uploadTensor(
      cuda,
      'f32',
      [SMALL_PAGED_LAYOUT.slots, c + r],
      new Array(SMALL_PAGED_LAYOUT.slots * (c + r)).fill(0),
    );
    const out = emptyTensor(cuda, 'f32', [s, heads, c]);
    const batch = uploadBatch(cuda, SMALL_PAGED_LAYOUT);
    const broken = {
      ...batch,
      host: { ...batch.host, blockTable: batch.host.blockTable.map((b, i) => (i === 2 ? -1 : b)) },
    };
    try {
      cuda.fused.mlaAttention!(out, qv, cv, broken, null, 0.1);
    } catch (error) {
      const message = (error as Error).message;
      return /no cache block for position 8/.test(message) ? { error: 0 } : { error: 1, detail: message };
    }
    return { error: 1, detail: 'no error thrown' };
  },
});

function indexerCheck(
  label: string,
  keyMode: 'f32' | 'fp8',
  layout: (random: Random) => PagedLayout,
  k: number,
  seed: number,
  width = 32,
): FusedCheck {
  return {
    name: `fused indexerTopK: ${label} (exact indices)`,
    tolerance: 0,
    run: async (cuda, reference) => {
      needs(cuda, 'indexerTopK');
      const random = new Random(seed);
      const l = layout(random);
      const s = l.positions.length;
      const [heads, di] = [4, width];
      const q = random.normals(s * heads * di);
      const weights = random.normals(s * heads);
      const keys = random.normals(l.slots * di, 50);
      const scales = Array.from({ length: l.slots }, () => 2 ** (-8 + random.int(4)));
      const workspace = new Workspace(reference);
      const run = async (backend: Backend, fused: boolean) => {
        const cache: IndexerKeyCache =
          keyMode === 'f32'
            ? { keys: uploadTensor(backend, 'f32', [l.slots, di], keys) }
            : {
                keys: uploadTensor(backend, 'f8_e4m3', [l.slots, di], keys),
                scales: uploadTensor(backend, 'f32', [l.slots], scales),
              };
        const qv = uploadTensor(backend, 'f32', [s, heads, di], q);
        const wv = uploadTensor(backend, 'f32', [s, heads], weights);
        const out = emptyTensor(backend, 'i32', [s, k]);
        const batch = uploadBatch(backend, l);
        if (fused) backend.fused.indexerTopK!(out, qv, wv, cache, batch, k);
        else indexerTopK(backend, workspace, out, qv, wv, cache, batch, k);
        return Array.from(await downloadTensor(backend, out));
      };
      return mismatches(await run(cuda, true), await run(reference, false));
    },
  };
}

checks.push(indexerCheck('f32 keys, small paged batch, k = 8', 'f32', () => SMALL_PAGED_LAYOUT, 8, 6));
checks.push(
  indexerCheck('fp8 keys + scales, small paged batch, k = 8', 'fp8', () => SMALL_PAGED_LAYOUT, 8, 7),
);
checks.push(indexerCheck('fp8 keys, 5000 and 3001 positions, k = 2048', 'fp8', longLayout, 2048, 13));
// width 128 takes the tensor-core scores (v2) and 20000 positions the top-k filter (v2)
checks.push(
  indexerCheck('fp8 keys, width 128, 20000 positions, k = 2048', 'fp8', longerLayout, 2048, 14, 128),
);

for (const { label, options, withBias } of MOE_ROUTE_CASES) {
  checks.push({
    name: `fused moeRoute: ${label} (indices exact, weights 1e-6)`,
    tolerance: 1e-6,
    run: async (cuda, reference) => {
      needs(cuda, 'moeRoute');
      const random = new Random(8);
      const [n, e] = [9, 64];
      const logits = random.normals(n * e, 2);
      const bias = random.normals(e, 0.1);
      const workspace = new Workspace(reference);
      const run = async (backend: Backend) => {
        const lv = uploadTensor(backend, 'f32', [n, e], logits);
        const bv = withBias ? uploadTensor(backend, 'f32', [e], bias) : null;
        const indices = emptyTensor(backend, 'i32', [n, options.topk]);
        const weights = emptyTensor(backend, 'f32', [n, options.topk]);
        moeRoute(backend, workspace, indices, weights, lv, bv, options);
        return [await downloadTensor(backend, indices), await downloadTensor(backend, weights)] as const;
      };
      const [gotIndices, gotWeights] = await run(cuda);
      const [wantIndices, wantWeights] = await run(reference);
      const exact = mismatches(gotIndices, wantIndices);
      if (exact.error !== 0) return { error: Number.POSITIVE_INFINITY, detail: `indices: ${exact.detail}` };
      return { error: relativeError(gotWeights, wantWeights) };
    },
  });
}

function linearWeight(
  backend: Backend,
  dtype: DType,
  rows: number,
  cols: number,
  values: number[],
  scales: number[],
): LinearWeight {
  return uploadLinearWeight(backend, dtype, [rows, cols], values, () => scales, [32, 32]);
}

for (const dtype of ['f32', 'bf16', 'f8_e4m3'] as const) {
  checks.push({
    name: `fused moeExperts: ${dtype} experts vs gather + SwiGLU + indexAdd; rows bit-identical alone and batched`,
    tolerance: 1e-5,
    run: async (cuda, reference) => {
      needs(cuda, 'moeExperts');
      const random = new Random(9);
      const [n, hidden, inter, e, a] = [5, 64, 48, 6, 3]; // multiples of 16: bf16/fp8 take the v2 GEMMs
      const x = random.normals(n * hidden);
      const routing: number[] = [];
      for (let t = 0; t < n; t++) {
        const picks = Array.from({ length: e }, (_, i) => i)
          .sort(() => random.next() - 0.5)
          .slice(0, a)
          .sort((p, q) => p - q);
        routing.push(...picks);
      }
      routing[2 * a + 1] = -1; // a skipped slot
      const weights = Array.from({ length: n * a }, () => 0.2 + random.next() * 0.5);
      const blocks = (rows: number, cols: number) => Math.ceil(rows / 32) * Math.ceil(cols / 32);
      const raw = Array.from({ length: e }, () => ({
        gate: random.normals(inter * hidden, 0.3),
        up: random.normals(inter * hidden, 0.3),
        down: random.normals(hidden * inter, 0.3),
        gs: Array.from({ length: blocks(inter, hidden) }, () => 2 ** -random.int(3)),
        us: Array.from({ length: blocks(inter, hidden) }, () => 2 ** -random.int(3)),
        ds: Array.from({ length: blocks(hidden, inter) }, () => 2 ** -random.int(3)),
      }));
      const expertsOn = (backend: Backend): ExpertWeights[] =>
        raw.map((w) => ({
          gate: linearWeight(backend, dtype, inter, hidden, w.gate, w.gs),
          up: linearWeight(backend, dtype, inter, hidden, w.up, w.us),
          down: linearWeight(backend, dtype, hidden, inter, w.down, w.ds),
        }));
      const run = async (backend: Backend, experts: ExpertWeights[], rows: number, fused: boolean) => {
        const xv = uploadTensor(backend, 'f32', [rows, hidden], x.slice(0, rows * hidden));
        const iv = uploadTensor(backend, 'i32', [rows, a], routing.slice(0, rows * a));
        const wv = uploadTensor(backend, 'f32', [rows, a], weights.slice(0, rows * a));
        const out = emptyTensor(backend, 'f32', [rows, hidden]);
        if (fused) backend.fused.moeExperts!(out, xv, iv, wv, experts);
        else await moeExperts(backend, new Workspace(backend), out, xv, iv, wv, experts);
        return downloadTensor(backend, out);
      };
      const cudaExperts = expertsOn(cuda);
      const got = await run(cuda, cudaExperts, n, true);
      const alone = await run(cuda, cudaExperts, 1, true);
      const same = mismatches(alone, got.slice(0, hidden));
      if (same.error !== 0)
        return { error: Number.POSITIVE_INFINITY, detail: `token 0 alone vs batched: ${same.detail}` };
      return { error: relativeError(got, await run(reference, expertsOn(reference), n, false)) };
    },
  });
}

for (const dtype of ['f32', 'bf16', 'f8_e4m3'] as const) {
  checks.push({
    name: `fastLinear (decode GEMV): ${dtype} weight, K = 200 and 256, M = 1, 3, 16 vs reference linear`,
    tolerance: 1e-5,
    run: async (cuda, reference) => {
      if (!('launcher' in cuda && 'workspace' in cuda))
        throw new Error('the backend has no launcher/workspace');
      const host = cuda as unknown as FusedKernelHost;
      const random = new Random(15);
      let error = 0;
      // K = 200: v1 kernels; K = 256: v2 (bf16/fp8, K % 16 == 0)
      for (const [n, k, m] of [
        [72, 200, 1],
        [72, 200, 3],
        [72, 200, 16],
        [72, 256, 1],
        [72, 256, 3],
        [72, 256, 16],
      ] as const) {
        const values = random.normals(n * k, 0.5);
        const scales = Array.from(
          { length: Math.ceil(n / 32) * Math.ceil(k / 32) },
          () => 2 ** -random.int(4),
        );
        const x = random.normals(m * k);
        const run = async (backend: Backend, fast: boolean) => {
          const xv = uploadTensor(backend, 'f32', [m, k], x);
          const out = emptyTensor(backend, 'f32', [m, n]);
          const weight = linearWeight(backend, dtype, n, k, values, scales);
          if (fast) {
            if (!fastLinear(host, out, xv, weight)) throw new Error(`fastLinear declined M = ${m}`);
          } else backend.kernels.linear(out, xv, weight);
          return downloadTensor(backend, out);
        };
        error = Math.max(error, relativeError(await run(cuda, true), await run(reference, false)));
      }
      return { error };
    },
  });
}

/** Every fused-kernel check, in a fixed order. */
export const FUSED_CHECKS: readonly FusedCheck[] = checks;

/**
 * Runs {@link FUSED_CHECKS} (optionally those whose name contains `filter`) against `cuda`, with
 * `reference` (default: a fresh ReferenceBackend) computing the composites; one result per check.
 */
export async function fusedChecks(
  cuda: Backend,
  reference: Backend = new ReferenceBackend(),
  filter?: string,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of FUSED_CHECKS) {
    if (filter && !check.name.includes(filter)) continue;
    results.push(await runCheck(check.name, check.tolerance, () => check.run(cuda, reference)));
  }
  return results;
}
