import fs from 'node:fs';
import path from 'node:path';
import koffi, { type LibraryHandle } from 'koffi';
import { CUDA_DEFAULT_SETTINGS, type CudaSettings } from './cuda-settings.js';
import type { KernelProfile } from './kernel-profile.js';

// Prototypes and enum values from NVIDIA's public cublasLt.h / library_types.h (cuBLAS docs,
// https://docs.nvidia.com/cuda/cublas/#using-the-cublaslt-api): see docs/backends/cuda.md, "cuBLASLt".
/** cudaDataType_t values used here. */
export const CUDA_R = {
  /** CUDA_R_32F */
  f32: 0,
  /** CUDA_R_16F */
  f16: 2,
  /** CUDA_R_16BF */
  bf16: 14,
} as const;
const CUBLAS_COMPUTE_32F = 68;
const CUBLAS_OP_N = 0;
const CUBLAS_OP_T = 1;
const MATMUL_DESC_SCALE_TYPE = 1;
const MATMUL_DESC_TRANSA = 3;
const MATMUL_DESC_TRANSB = 4;
const MATRIX_LAYOUT_BATCH_COUNT = 5;
const MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6;
const MATMUL_PREF_MAX_WORKSPACE_BYTES = 1;
/** CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_{A,B,C,D}_BYTES (default 256: we promise 16). */
const MATMUL_PREF_MIN_ALIGNMENT = [5, 6, 7, 8];
/** Byte alignment every pointer, leading dimension and batch stride handed to cuBLASLt must have. */
export const CUBLASLT_ALIGNMENT = 16;
/** sizeof(cublasLtMatmulHeuristicResult_t): algo (64 B), workspaceSize, state, wavesCount, reserved[4]. */
const HEURISTIC_BYTES = 96;
/** Workspace handed to every cublasLtMatmul. */
export const CUBLASLT_WORKSPACE_BYTES = 32 * 1024 * 1024;

/** A column-major operand for {@link CublasLt.matmul}: rows × cols, leading dimension, batches. */
export interface LtMatrix {
  /** cudaDataType_t ({@link CUDA_R}). */
  readonly type: number;
  /** Rows (column-major). */
  readonly rows: number;
  /** Columns. */
  readonly cols: number;
  /** Leading dimension in elements (≥ rows). */
  readonly ld: number;
  /** Batch count (1 = not batched). */
  readonly batch?: number;
  /** Elements between batches (0 broadcasts). */
  readonly batchStride?: number;
}

/** One GEMM: D = alpha · op(A) · op(B) + beta · C with C = D (column-major, cuBLAS convention). */
export interface LtGemm {
  /** Layout of A (as stored). */
  readonly a: LtMatrix;
  /** Layout of B (as stored). */
  readonly b: LtMatrix;
  /** Layout of C = D (f32). */
  readonly d: LtMatrix;
  /** op(A) = Aᵀ. */
  readonly transA: boolean;
  /** op(B) = Bᵀ. */
  readonly transB: boolean;
  /** Device address of A. */
  readonly aPtr: bigint;
  /** Device address of B. */
  readonly bPtr: bigint;
  /** Device address of C = D. */
  readonly dPtr: bigint;
  /** Scale of op(A)·op(B). */
  readonly alpha: number;
  /** Scale of the prior D (0: overwrite). */
  readonly beta: number;
}

type Fn = ReturnType<LibraryHandle['func']>;

interface Plan {
  readonly desc: bigint;
  readonly layouts: readonly [bigint, bigint, bigint];
  readonly algo: Uint8Array;
}

/**
 * Candidate locations of libcublasLt: `first` (the setting `cublasLtPath`, DSA_CUDA_CUBLASLT_PATH), the
 * loader's path, CUDA toolkits, pip wheels.
 */
export function cublasLtCandidates(first?: string): string[] {
  const names = ['libcublasLt.so.13', 'libcublasLt.so.12'];
  const out: string[] = [];
  if (first) out.push(first);
  out.push(...names);
  const dirs = ['/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib'];
  for (const root of ['/usr/local/lib', '/usr/lib', '/opt/conda/lib']) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(root).filter((e) => e.startsWith('python3'));
    } catch {}
    for (const py of entries)
      for (const site of ['site-packages', 'dist-packages'])
        dirs.push(
          path.join(root, py, site, 'nvidia/cublas/lib'),
          path.join(root, py, site, 'nvidia/cu13/lib'),
        );
  }
  for (const dir of dirs) for (const name of names) out.push(path.join(dir, name));
  return out;
}

/**
 * cuBLASLt opened at run time with koffi (never linked): libcublasLt.so.13, then .12 (see
 * {@link cublasLtCandidates}). Descriptors, layouts and the heuristic's algorithm are cached per shape.
 * Compute type CUBLAS_COMPUTE_32F (no TF32), scale type f32. {@link CublasLt.open} returns null (and
 * says why in {@link CublasLt.unavailableReason}) when the library is missing or the setting `cublasLt` is false.
 */
export class CublasLt {
  /** Why cuBLASLt is not used, after a failed {@link CublasLt.open}. */
  static unavailableReason = '';
  /** The library file that was opened. */
  readonly path: string;
  private readonly fns: Record<string, Fn> = {};
  private readonly handle: bigint;
  private readonly preference: bigint;
  private readonly plans = new Map<string, Plan>();
  private readonly scalars = new Float32Array(2);
  /** Times each GEMM as `cublasLt` when set (the backend's {@link KernelProfile}, cleared while capturing). */
  profile: KernelProfile | null = null;

  private constructor(library: LibraryHandle, file: string) {
    this.path = file;
    const bind = (signature: string) => {
      const name = signature.match(/int (\w+)\(/)![1]!;
      this.fns[name] = library.func(signature);
    };
    bind('int cublasLtCreate(_Out_ uint64_t *handle)');
    bind('int cublasLtDestroy(uint64_t handle)');
    bind('int cublasLtMatmulDescCreate(_Out_ uint64_t *desc, int computeType, int scaleType)');
    bind(
      'int cublasLtMatmulDescSetAttribute(uint64_t desc, int attribute, const uint8_t *buf, uint64_t size)',
    );
    bind(
      'int cublasLtMatrixLayoutCreate(_Out_ uint64_t *layout, int type, uint64_t rows, uint64_t cols, int64_t ld)',
    );
    bind(
      'int cublasLtMatrixLayoutSetAttribute(uint64_t layout, int attribute, const uint8_t *buf, uint64_t size)',
    );
    bind('int cublasLtMatmulPreferenceCreate(_Out_ uint64_t *preference)');
    bind(
      'int cublasLtMatmulPreferenceSetAttribute(uint64_t preference, int attribute, const uint8_t *buf, uint64_t size)',
    );
    bind(
      'int cublasLtMatmulAlgoGetHeuristic(uint64_t handle, uint64_t desc, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t preference, int requested, _Out_ uint8_t *results, _Out_ int *returned)',
    );
    bind(
      'int cublasLtMatmul(uint64_t handle, uint64_t desc, const float *alpha, uint64_t A, uint64_t adesc, uint64_t B, uint64_t bdesc, const float *beta, uint64_t C, uint64_t cdesc, uint64_t D, uint64_t ddesc, const uint8_t *algo, uint64_t workspace, uint64_t workspaceBytes, uint64_t stream)',
    );
    const out = new BigUint64Array(1);
    this.call('cublasLtCreate', out);
    this.handle = out[0]!;
    this.call('cublasLtMatmulPreferenceCreate', out);
    this.preference = out[0]!;
    this.call(
      'cublasLtMatmulPreferenceSetAttribute',
      this.preference,
      MATMUL_PREF_MAX_WORKSPACE_BYTES,
      u64(CUBLASLT_WORKSPACE_BYTES),
      8,
    );
    for (const attribute of MATMUL_PREF_MIN_ALIGNMENT)
      this.call(
        'cublasLtMatmulPreferenceSetAttribute',
        this.preference,
        attribute,
        u32(CUBLASLT_ALIGNMENT),
        4,
      );
  }

  /**
   * Opens cuBLASLt, or returns null (reason in {@link CublasLt.unavailableReason}); `settings` are the
   * backend's `cublasLt` (false: never open it) and `cublasLtPath` (tried first).
   */
  static open(
    settings: Pick<CudaSettings, 'cublasLt' | 'cublasLtPath'> = CUDA_DEFAULT_SETTINGS,
  ): CublasLt | null {
    if (!settings.cublasLt) {
      CublasLt.unavailableReason = 'disabled by the setting cublasLt (DSA_CUDA_CUBLASLT=0)';
      return null;
    }
    const tried: string[] = [];
    for (const file of cublasLtCandidates(settings.cublasLtPath)) {
      if (file.includes('/') && !fs.existsSync(file)) continue;
      try {
        return new CublasLt(koffi.load(file), file);
      } catch (error) {
        tried.push(`${file}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    CublasLt.unavailableReason = `libcublasLt.so.13/.12 not loadable (${tried.slice(0, 3).join('; ')}); set DSA_CUDA_CUBLASLT_PATH`;
    return null;
  }

  /** Enqueues one (batched) GEMM on `stream`; `workspace` holds {@link CUBLASLT_WORKSPACE_BYTES}. */
  matmul(gemm: LtGemm, workspace: bigint, stream: bigint): void {
    const plan = this.plan(gemm);
    this.scalars[0] = gemm.alpha;
    this.scalars[1] = gemm.beta;
    if (this.profile) {
      const profile = this.profile;
      this.profile = null;
      try {
        profile.time('cublasLt', stream, () => this.matmul(gemm, workspace, stream));
      } finally {
        this.profile = profile;
      }
      return;
    }
    this.call(
      'cublasLtMatmul',
      this.handle,
      plan.desc,
      this.scalars.subarray(0, 1),
      gemm.aPtr,
      plan.layouts[0],
      gemm.bPtr,
      plan.layouts[1],
      this.scalars.subarray(1, 2),
      gemm.dPtr,
      plan.layouts[2],
      gemm.dPtr,
      plan.layouts[2],
      plan.algo,
      workspace,
      CUBLASLT_WORKSPACE_BYTES,
      stream,
    );
  }

  private plan(g: LtGemm): Plan {
    const key = JSON.stringify([g.a, g.b, g.d, g.transA, g.transB]);
    const cached = this.plans.get(key);
    if (cached) return cached;
    const out = new BigUint64Array(1);
    this.call('cublasLtMatmulDescCreate', out, CUBLAS_COMPUTE_32F, CUDA_R.f32);
    const desc = out[0]!;
    this.call('cublasLtMatmulDescSetAttribute', desc, MATMUL_DESC_SCALE_TYPE, i32(CUDA_R.f32), 4);
    this.call(
      'cublasLtMatmulDescSetAttribute',
      desc,
      MATMUL_DESC_TRANSA,
      i32(g.transA ? CUBLAS_OP_T : CUBLAS_OP_N),
      4,
    );
    this.call(
      'cublasLtMatmulDescSetAttribute',
      desc,
      MATMUL_DESC_TRANSB,
      i32(g.transB ? CUBLAS_OP_T : CUBLAS_OP_N),
      4,
    );
    const layout = (m: LtMatrix) => {
      this.call('cublasLtMatrixLayoutCreate', out, m.type, m.rows, m.cols, m.ld);
      const l = out[0]!;
      if ((m.batch ?? 1) > 1) {
        this.call('cublasLtMatrixLayoutSetAttribute', l, MATRIX_LAYOUT_BATCH_COUNT, i32(m.batch!), 4);
        this.call(
          'cublasLtMatrixLayoutSetAttribute',
          l,
          MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
          i64(m.batchStride ?? 0),
          8,
        );
      }
      return l;
    };
    const layouts = [layout(g.a), layout(g.b), layout(g.d)] as const;
    const results = new Uint8Array(HEURISTIC_BYTES);
    const returned = new Int32Array(1);
    this.call(
      'cublasLtMatmulAlgoGetHeuristic',
      this.handle,
      desc,
      layouts[0],
      layouts[1],
      layouts[2],
      layouts[2],
      this.preference,
      1,
      results,
      returned,
    );
    if (returned[0]! < 1) throw new Error(`cublasLtMatmulAlgoGetHeuristic found no algorithm for ${key}`);
    const plan = { desc, layouts, algo: results.slice(0, 64) };
    this.plans.set(key, plan);
    return plan;
  }

  private call(name: string, ...args: unknown[]): void {
    const status = this.fns[name]!(...args) as number;
    if (status !== 0) throw new Error(`${name} failed: cublasStatus_t ${status} (${this.path})`);
  }
}

function i32(v: number): Uint8Array {
  return new Uint8Array(new Int32Array([v]).buffer);
}
function u32(v: number): Uint8Array {
  return new Uint8Array(new Uint32Array([v]).buffer);
}
function i64(v: number): Uint8Array {
  return new Uint8Array(new BigInt64Array([BigInt(v)]).buffer);
}
function u64(v: number): Uint8Array {
  return new Uint8Array(new BigUint64Array([BigInt(v)]).buffer);
}
