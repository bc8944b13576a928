import type { TensorView } from '@dsa/tensor';

/**
 * Per-sequence sampling settings for the `sample` kernel, applied in this order:
 * 1. logit bias (added);
 * 2. penalties from `history`: repetition (vLLM/HF rule: positive logits divided, negative multiplied)
 *    over prompt and generated tokens, frequency (− penalty × count) and presence (− penalty once)
 *    over generated tokens;
 * 3. logprobs are taken here (log-softmax of the penalized logits, before temperature);
 * 4. temperature 0 means greedy (argmax, lowest index on ties); otherwise top-k, top-p, min-p on the
 *    temperature-scaled distribution, then the exponential race `argmax(p_i / E_i)` with
 *    `E_i = -ln(u_i)`, `u_i = rngUniform(seed, step, i)`, so every backend draws the same token.
 */
export interface SamplingRow {
  /** Softmax temperature; 0 means greedy. */
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
  /** > 1 discourages tokens already in the prompt or output; 1 disables. */
  readonly repetitionPenalty?: number;
  /** Subtracted once per earlier occurrence in the output; 0 disables. */
  readonly frequencyPenalty?: number;
  /** Subtracted once if the token occurred in the output; 0 disables. */
  readonly presencePenalty?: number;
  /** [token id, bias] pairs added to the logits. */
  readonly logitBias?: readonly (readonly [number, number])[];
  /** The sequence's tokens so far, for penalties: `tokens` i32 [≥ length], the first `promptLength` are the prompt. */
  readonly history?: {
    /** i32 [≥ length]: prompt tokens followed by generated tokens. */
    readonly tokens: TensorView;
    /** Number of valid tokens in `tokens`. */
    readonly length: number;
    /** How many of the first tokens are the prompt. */
    readonly promptLength: number;
  };
}

/** Optional outputs of `sample`: log-probabilities of the chosen token and of the N most likely ones. */
export interface SamplingOutputs {
  /** f32 [B]: logprob of the sampled token. */
  readonly logprobs?: TensorView;
  /** i32 [B, N]: the N most likely tokens (descending probability, lower id first on ties). */
  readonly topIds?: TensorView;
  /** f32 [B, N]: their logprobs. */
  readonly topLogprobs?: TensorView;
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
