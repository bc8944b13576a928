import { type BackendOptions, readSettings, type SettingsOf } from '@dsa/backend';

/** The kernel sets, slowest first: the values of the `isa` setting, in the order of the addon's levels (0, 1, 2). */
export const CPU_ISAS = ['portable', 'avx2', 'avx512'] as const;

/** A kernel set of the cpu backend. */
export type CpuIsa = (typeof CPU_ISAS)[number];

/** The kernel sets a CPU runs, slowest first, given the best one's level (the native addon's `info().isa`). */
export function runnableIsas(bestLevel: number): readonly CpuIsa[] {
  return CPU_ISAS.slice(0, bestLevel + 1);
}

/**
 * Every setting of the cpu backend (`BackendOptions.settings`), with the environment variable that
 * overrides it. (`DSA_CPU_ISA` and `DSA_CPU_PROFILE` are read by the native addon itself.)
 */
export const CPU_SETTING_SPECS = {
  /** Caps the kernel set: `portable`, `avx2` or `avx512` (default: the best this CPU runs). */
  isa: { kind: 'choice', values: CPU_ISAS },
  /**
   * `queued` (default): kernel calls enqueue work on an in-order queue drained by an executor thread,
   * off the JavaScript thread. `synchronous`: every call runs to completion before it returns
   * (debugging: a kernel's own argument errors then throw from the call itself).
   */
  execution: { kind: 'choice', values: ['queued', 'synchronous'], env: 'DSA_CPU_EXECUTION' },
  /**
   * `f32` (default): every kernel matches the reference backend to f32 rounding. `bf16`: where the CPU
   * has AVX512_BF16 (and the AVX-512 set is in use), `linear` and `moeExperts` round x to bf16 and
   * multiply by vdpbf16ps with f32 accumulation: bf16 weights always, f8_e4m3 and GGUF Q8_0 (i8) weights
   * with block scales from 8 rows of x on (prefill; decode keeps the f32 kernels); elsewhere it falls back
   * to `f32`.
   */
  precision: { kind: 'choice', values: ['f32', 'bf16'], env: 'DSA_CPU_PRECISION' },
} as const;

/** `BackendOptions.settings` the cpu backend reads (see {@link CPU_SETTING_SPECS}). */
export type CpuBackendSettings = SettingsOf<typeof CPU_SETTING_SPECS>;

/**
 * Resolves the cpu backend's settings once: `DSA_CPU_EXECUTION` and `DSA_CPU_PRECISION` override the
 * fields of `settings`, which override the defaults (`queued`, `f32`; `isa` absent = the best the CPU
 * runs). A bad value throws `InvalidSettingError` naming the variable or field.
 */
export function cpuSettings(
  settings: BackendOptions['settings'] = {},
  environment: Readonly<Record<string, string | undefined>> = process.env,
): CpuBackendSettings & Required<Pick<CpuBackendSettings, 'execution' | 'precision'>> {
  return { execution: 'queued', precision: 'f32', ...readSettings(CPU_SETTING_SPECS, settings, environment) };
}
