/**
 * Per-sequence sampling settings for the `sample` kernel. Temperature 0 means greedy (argmax,
 * lowest index on ties). Filters apply in the order top-k, top-p, min-p, on the
 * temperature-scaled distribution; the draw is the exponential race `argmax(p_i / E_i)` with
 * `E_i = -ln(u_i)` and `u_i = rngUniform(seed, step, i)`, so every backend draws the same token.
 */
export interface SamplingRow {
  readonly temperature: number;
  /** Keep the k most likely tokens; 0 disables. */
  readonly topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p; 1 disables. */
  readonly topP?: number;
  /** Drop tokens whose probability is below minP × the largest; 0 disables. */
  readonly minP?: number;
  /** 32-bit seed of this sequence. */
  readonly seed?: number;
  /** Index of this draw within the sequence (the decode step). */
  readonly step?: number;
}

function mix32(x: number): number {
  // murmur3 fmix32: a bijective avalanche on 32-bit integers.
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The counter-based uniform draw every backend uses: a number in (0, 1) from (seed, step, index),
 * built only from 32-bit integer operations so that C++, CUDA and TypeScript agree bit for bit.
 */
export function rngUniform(seed: number, step: number, index: number): number {
  const h = mix32(mix32(mix32(seed >>> 0) ^ (step >>> 0)) ^ Math.imul(index >>> 0, 0x9e3779b9));
  return ((h >>> 8) + 0.5) / 16777216;
}
