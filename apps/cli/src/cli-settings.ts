import { readSettings, type SettingsOf } from '@dsa/backend';

/**
 * The environment variables the CLI reads (the only file of `@dsa/cli` that reads the environment;
 * backends and the runtime read their own, see their settings files).
 */
export const CLI_SETTING_SPECS = {
  /** `DSA_DEBUG` (any non-empty value): print the stack of an unexpected error. */
  debug: { kind: 'string', env: 'DSA_DEBUG' },
  /** `DSA_API_KEY`: the bearer key `dsa serve` requires when `--api-key` is not given. */
  apiKey: { kind: 'string', env: 'DSA_API_KEY' },
  /** `DSA_BENCH_CPU_GHZ`: the clock `dsa bench` assumes for the cpu peak (default: /proc/cpuinfo). */
  benchCpuGhz: { kind: 'number', min: 0, env: 'DSA_BENCH_CPU_GHZ' },
  /** `DSA_BENCH_FMA_UNITS`: FMA units per core for the cpu peak (default 2, 1 for `portable`). */
  benchFmaUnits: { kind: 'number', integer: true, min: 1, env: 'DSA_BENCH_FMA_UNITS' },
  /**
   * `DSA_BENCH_KERNELS=1`: `dsa bench` also prints the cpu backend's per-kernel tables, of the prefill and of the decode steps (it always keeps
   * the profile behind host_fraction; backends that profile only on request print theirs anyway).
   */
  benchKernels: { kind: 'flag', env: 'DSA_BENCH_KERNELS' },
  /** `HF_ENDPOINT`: the hub `dsa pull` downloads from (default https://huggingface.co), as the hub's own tools read it. */
  hubEndpoint: { kind: 'string', env: 'HF_ENDPOINT' },
  /** `HF_TOKEN`: the access token `dsa pull` sends when `--token` is not given (private or gated models). */
  hubToken: { kind: 'string', env: 'HF_TOKEN' },
} as const;

/** The CLI's environment settings; absent fields take the command's default. */
export type CliSettings = SettingsOf<typeof CLI_SETTING_SPECS>;

/**
 * Reads one of the CLI's environment settings (only that one: a bad `DSA_BENCH_*` never fails another
 * command); a bad value throws `InvalidSettingError` naming the variable.
 */
export function cliSetting<K extends keyof typeof CLI_SETTING_SPECS>(
  key: K,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): CliSettings[K] {
  const spec = { [key]: CLI_SETTING_SPECS[key] } as Pick<typeof CLI_SETTING_SPECS, K>;
  return (readSettings(spec, {}, environment) as CliSettings)[key];
}
