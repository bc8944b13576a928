// The cuda backend's fused kernels: the conformance kit's fused suite (each fused kernel against its
// composite definition on the reference backend, long cases included), and what only this backend has
// (keys split over CTAs, the decode GEMV). Shared by the vitest file (fused-kernels.cuda.test.ts) and
// the device suite.
import {
  type Backend,
  downloadTensor,
  type LinearWeight,
  mlaAttention,
  uploadTensor,
  Workspace,
} from '@dsa/backend';
import {
  emptyTensor,
  fusedCases,
  longPagedLayout,
  mismatches,
  Random,
  relativeError,
  sparseIndices,
  uploadBatch,
  uploadLinearWeight,
} from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
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

/** One fused-kernel check: its name, allowed error and body (cuda backend, reference backend). */
export interface FusedCheck {
  /** `fused <kernel>: <case>`. */
  readonly name: string;
  /** The largest allowed error (0 = exact). */
  readonly tolerance: number;
  /** Runs the fused kernel on `cuda` and the composite on `reference`; returns the measured error. */
  readonly run: (cuda: Backend, reference: Backend) => Promise<{ error: number; detail?: string }>;
}

/** Kit cases the device kernels do not meet: they do not range-check expert ids on the device. */
const SKIPPED = /rejects an expert index/;

/** Fused kernels of the contract this backend does not offer (callers run their composites). */
const NOT_OFFERED: ReadonlySet<string> = new Set(['linears']);

const checks: FusedCheck[] = fusedCases({ long: true })
  .filter((c) => !SKIPPED.test(c.name) && !NOT_OFFERED.has(c.kernel))
  .map((c) => ({
    name: `fused ${c.name}`,
    tolerance: c.tolerance,
    run: (cuda, reference) => c.check(cuda, reference),
  }));

/**
 * A long MLA attention problem (5000 and 3001 tokens, 512 + 64 wide, seeded): `run(backend, settings)` runs the
 * cuda host's kernel with those settings over, or (settings null) the fused dispatcher, on a cache of `cacheDtype`.
 */
function longMla(
  seed: number,
  heads: number,
  mode: 'dense' | 'sparse',
  cacheDtype: 'f32' | 'bf16',
  scale: number,
  dropEvery = 0,
) {
  const random = new Random(seed);
  const l = longPagedLayout(random);
  const [c, r, k] = [512, 64, 2048];
  const s = l.positions.length;
  const q = random.normals(s * heads * (c + r));
  const cache = random.normals(l.slots * (c + r));
  const indices =
    mode === 'sparse'
      ? sparseIndices(random, l, k).map((v, i) => (dropEvery > 0 && i % dropEvery === 5 ? -1 : v))
      : null;
  return async (backend: Backend, settings: Partial<CudaBackend['settings']> | null) => {
    const qv = uploadTensor(backend, 'f32', [s, heads, c + r], q);
    const cv = uploadTensor(backend, cacheDtype, [l.slots, c + r], cache);
    const iv = indices ? uploadTensor(backend, 'i32', [s, k], indices) : null;
    const out = emptyTensor(backend, 'f32', [s, heads, c]);
    const batch = uploadBatch(backend, l);
    if (settings) {
      const host = backend as CudaBackend;
      cudaMlaAttention(
        { ...cudaHost(host), settings: { ...host.settings, ...settings } },
        out,
        qv,
        cv,
        batch,
        iv,
        scale,
      );
    } else mlaAttention(backend, new Workspace(backend), out, qv, cv, batch, iv, scale);
    return downloadTensor(backend, out);
  };
}

// The f32 kernel splits a query's keys over CTAs when the batch is small (the setting mlaSplit forces it):
// the split launch + combine and the one-CTA merge must give the same bits, and match the reference.
for (const mode of ['dense', 'sparse'] as const) {
  checks.push({
    name: `fused mlaAttention: ${mode} keys split over CTAs and merged in one CTA give identical bits (5000 and 3001 tokens${mode === 'sparse' ? ', top-2048' : ''})`,
    tolerance: 1e-5,
    run: async (cuda, reference) => {
      const run = longMla(mode === 'dense' ? 21 : 22, 20, mode, 'f32', 1 / Math.sqrt(576));
      const split = await run(cuda, { mlaSplit: 'on' });
      const merged = await run(cuda, { mlaSplit: 'off' });
      const same = mismatches(split, merged);
      if (same.error !== 0)
        return { error: Number.POSITIVE_INFINITY, detail: `split vs one-CTA merge: ${same.detail}` };
      return { error: relativeError(split, await run(reference, null)) };
    },
  });
}

// The tensor-core MLA kernel at DeepSeek's shape (576 wide, 512 out, mma.sync v2): q and P are rounded to bf16,
// so the bound is bf16's, against the f32 reference on the same cache.
for (const mode of ['dense', 'sparse'] as const) {
  checks.push({
    name: `fused mlaAttention: tensor cores on a bf16 cache, 576/512, 130 heads, ${mode}${mode === 'sparse' ? ' top-2048 with -1 entries' : ''} (5000 and 3001 tokens)`,
    tolerance: 2e-2,
    run: async (cuda, reference) => {
      const run = longMla(mode === 'dense' ? 31 : 32, 130, mode, 'bf16', 1 / Math.sqrt(192), 97);
      return { error: relativeError(await run(cuda, { mlaTensorCores: 'on' }), await run(reference, null)) };
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
