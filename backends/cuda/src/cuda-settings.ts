import { type BackendOptions, readSettings, type SettingsOf } from '@dsa/backend';

/**
 * Every setting of the cuda backend, with the environment variable that overrides it. These are
 * product switches and diagnostics; the kernel chosen for each op is fixed (the competing versions
 * live in `backends/cuda/dev/`).
 */
export const CUDA_SETTING_SPECS = {
  /** Load this fatbin instead of the package's `build/dsa-kernels.fatbin`. */
  fatbin: { kind: 'string', env: 'DSA_CUDA_FATBIN' },
  /** Open cuBLASLt for prefill GEMMs when present (false: `dsa_gemm_mma`). */
  cublasLt: { kind: 'flag', env: 'DSA_CUDA_CUBLASLT' },
  /** Open this cuBLASLt before the usual locations. */
  cublasLtPath: { kind: 'string', env: 'DSA_CUDA_CUBLASLT_PATH' },
  /** `linear`/`matmul` with M > 16 run a GEMM (false: the batch-invariant decode kernels for every M). */
  gemm: { kind: 'flag', env: 'DSA_CUDA_GEMM' },
  /** cuBLASLt prefill GEMM in one bf16 pass (faster, bf16 accuracy). */
  gemmFast: { kind: 'flag', env: 'DSA_CUDA_GEMM_FAST' },
  /** Bytes of x / W staged per prefill GEMM chunk (tests force chunking with a small value). */
  gemmStagingBytes: { kind: 'number', integer: true, min: 1, env: 'DSA_CUDA_GEMM_STAGING_BYTES' },
  /** `linear` with M ≤ 16 runs the decode GEMV (false: the warp-per-column kernel). */
  fusedGemv: { kind: 'flag', env: 'DSA_CUDA_FUSED_GEMV' },
  /** The f32 MLA kernel's key split over CTAs: `auto` (when the GPU would not fill), `on` or `off`; same bits. */
  mlaSplit: {
    kind: 'choice',
    values: ['auto', 'on', 'off'],
    aliases: { '1': 'on', '0': 'off' },
    env: 'DSA_CUDA_MLA_SPLIT',
  },
  /** The bf16 tensor-core MLA kernel: `auto` (bf16 cache and q), `on` (any q, rounded to bf16) or `off`. */
  mlaTensorCores: {
    kind: 'choice',
    values: ['auto', 'on', 'off'],
    aliases: { '1': 'on', '0': 'off' },
    env: 'DSA_CUDA_MLA_MMA',
  },
  /** Per-kernel GPU times from CUDA events (`backend.kernelProfile`, read by `dsa bench`). */
  profile: { kind: 'flag', env: 'DSA_CUDA_PROFILE' },
  /** Milliseconds of GPU spin enqueued after each host wait while profiling (exact eager tables). */
  profileLeadMs: { kind: 'number', min: 0, env: 'DSA_CUDA_PROFILE_LEAD_MS' },
  /** Synchronize after every launch and name the kernel that faulted (debug, slow). */
  syncLaunches: { kind: 'flag', env: 'DSA_CUDA_SYNC_LAUNCHES' },
} as const;

/** The cuda backend's settings, every field resolved (see {@link CUDA_SETTING_SPECS}). */
export type CudaSettings = Required<Omit<SettingsOf<typeof CUDA_SETTING_SPECS>, 'fatbin' | 'cublasLtPath'>> &
  Pick<SettingsOf<typeof CUDA_SETTING_SPECS>, 'fatbin' | 'cublasLtPath'>;

/** Defaults of {@link CudaSettings}. */
export const CUDA_DEFAULT_SETTINGS: CudaSettings = {
  cublasLt: true,
  gemm: true,
  gemmFast: false,
  gemmStagingBytes: 256 * 1024 * 1024,
  fusedGemv: true,
  mlaSplit: 'auto',
  mlaTensorCores: 'auto',
  profile: false,
  profileLeadMs: 0,
  syncLaunches: false,
};

/**
 * Resolves the cuda backend's settings once: the `DSA_CUDA_*` environment variables override the fields
 * of `settings` (`createBackend({ settings })` or a config file's `settings`), which override the
 * defaults. A bad value throws `InvalidSettingError` naming the variable or field.
 */
export function cudaSettings(
  settings: BackendOptions['settings'] = {},
  environment: Readonly<Record<string, string | undefined>> = process.env,
): CudaSettings {
  return { ...CUDA_DEFAULT_SETTINGS, ...readSettings(CUDA_SETTING_SPECS, settings, environment) };
}
