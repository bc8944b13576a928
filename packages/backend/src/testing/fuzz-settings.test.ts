import { describe, expect, it } from 'vitest';
import { DEFAULT_FUZZ_SEED, fuzzSettings } from './fuzz-settings.js';

describe('fuzzSettings', () => {
  it('defaults to a small fixed run for CI', () => {
    expect(fuzzSettings({})).toEqual({ numRuns: 200, seed: DEFAULT_FUZZ_SEED, timeoutMs: 30_000 });
  });

  it('reads DSA_FUZZ_RUNS and DSA_FUZZ_SEED and scales the timeout', () => {
    expect(fuzzSettings({ DSA_FUZZ_RUNS: '10000', DSA_FUZZ_SEED: '42' }, 20)).toEqual({
      numRuns: 10_000,
      seed: 42,
      timeoutMs: 200_000,
    });
  });

  it('names the variable and value it cannot use', () => {
    expect(() => fuzzSettings({ DSA_FUZZ_RUNS: 'many' })).toThrow(
      'DSA_FUZZ_RUNS="many": expected a whole number',
    );
    expect(() => fuzzSettings({ DSA_FUZZ_SEED: '-1' })).toThrow(RangeError);
  });
});
