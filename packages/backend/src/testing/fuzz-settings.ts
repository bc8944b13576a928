/** How property tests run: how many cases per property and from which seed. */
export interface FuzzSettings {
  /** Cases per property: `DSA_FUZZ_RUNS`, default 200 (CI); use 10000 or more to hunt locally. */
  readonly numRuns: number;
  /** fast-check seed: `DSA_FUZZ_SEED`, default a fixed one so CI is reproducible. */
  readonly seed: number;
  /** A vitest timeout that grows with `numRuns` (in ms). */
  readonly timeoutMs: number;
}

/** The seed used when `DSA_FUZZ_SEED` is not set. */
export const DEFAULT_FUZZ_SEED = 0x5eed_d5a;

/**
 * Reads `DSA_FUZZ_RUNS` and `DSA_FUZZ_SEED` once. A value that is not a whole number in range throws a
 * RangeError naming the variable and the value.
 *
 * @param env - the environment (default `process.env`).
 * @param msPerRun - the vitest timeout's allowance per case.
 */
export function fuzzSettings(env: NodeJS.ProcessEnv = process.env, msPerRun = 10): FuzzSettings {
  const read = (name: string, fallback: number, max: number): number => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0 || value > max)
      throw new RangeError(`${name}=${JSON.stringify(text)}: expected a whole number in [0, ${max}]`);
    return value;
  };
  const numRuns = Math.max(1, read('DSA_FUZZ_RUNS', 200, 10_000_000));
  const seed = read('DSA_FUZZ_SEED', DEFAULT_FUZZ_SEED, 2 ** 31 - 1);
  return { numRuns, seed, timeoutMs: Math.max(30_000, numRuns * msPerRun) };
}
