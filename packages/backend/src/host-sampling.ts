import { rngUniform, type SamplingRow } from './sampling.js';

/** What {@link sampleOnHost} returns for B rows. */
export interface HostSample {
  /** [B] sampled token per row. */
  readonly ids: Int32Array;
  /** [B] log-probability of each sampled token. */
  readonly logprobs: Float32Array;
  /** [B, N] most likely token ids (N = `top`). */
  readonly topIds: Int32Array;
  /** [B, N] their log-probabilities. */
  readonly topLogprobs: Float32Array;
}

/**
 * Logit bias, then repetition, frequency and presence penalties, applied to a f64 copy of one row's
 * `logits` [V] in the order {@link SamplingRow} specifies. `history` holds the row's prompt and
 * generated tokens (the first `row.history.promptLength` are the prompt), or null.
 */
export function processLogits(
  logits: ArrayLike<number>,
  row: SamplingRow,
  history: ArrayLike<number> | null,
): Float64Array {
  const x = Float64Array.from(logits);
  for (const [id, bias] of row.logitBias ?? []) if (id >= 0 && id < x.length) x[id]! += bias;
  if (history && row.history) {
    const promptLength = row.history.promptLength;
    const counts = new Map<number, number>();
    const seen = new Set<number>();
    for (let i = 0; i < history.length; i++) {
      const id = history[i]!;
      seen.add(id);
      if (i >= promptLength) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const repetition = row.repetitionPenalty ?? 1;
    if (repetition !== 1)
      for (const id of seen) x[id] = x[id]! > 0 ? x[id]! / repetition : x[id]! * repetition;
    for (const [id, count] of counts)
      x[id]! -= (row.frequencyPenalty ?? 0) * count + (row.presencePenalty ?? 0);
  }
  return x;
}

/**
 * Draws one token from processed logits [V] with `row`'s settings: greedy at temperature 0, else
 * top-k, top-p and min-p filtering and the seeded exponential race over `rngUniform` (@dsa/backend).
 */
export function sampleRow(logits: ArrayLike<number>, row: SamplingRow): number {
  const n = logits.length;
  if (row.temperature <= 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]! / row.temperature);
  const p = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.exp(logits[i]! / row.temperature - max);
    sum += p[i]!;
  }
  for (let i = 0; i < n; i++) p[i]! /= sum;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[b]! - p[a]! || a - b);
  const keep = new Uint8Array(n);
  let count = row.topK && row.topK > 0 ? Math.min(row.topK, n) : n;
  if (row.topP !== undefined && row.topP < 1) {
    let cumulative = 0;
    for (let j = 0; j < count; j++) {
      cumulative += p[order[j]!]!;
      if (cumulative >= row.topP) {
        count = j + 1;
        break;
      }
    }
  }
  const floor = row.minP && row.minP > 0 ? row.minP * p[order[0]!]! : 0;
  for (let j = 0; j < count; j++) if (j === 0 || p[order[j]!]! >= floor) keep[order[j]!] = 1;
  let best = -1;
  let bestKey = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    if (!keep[i]) continue;
    const key = p[i]! / -Math.log(rngUniform(row.seed ?? 0, row.step ?? 0, i));
    if (key > bestKey) {
      bestKey = key;
      best = i;
    }
  }
  return best;
}

/** log(softmax(x)) of one row, in f64. */
export function logSoftmax(x: Float64Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  for (const v of x) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return x.map((v) => v - lse);
}

/**
 * The contract's sampler over host logits [B, V]: {@link processLogits}, {@link sampleRow}, and the
 * logprobs of the chosen and the `top` most likely tokens (ties to the lower id). The reference
 * backend's `sample` and host fallbacks of device backends share it, so every backend draws the same ids.
 */
export function sampleOnHost(
  logits: Float32Array | Float64Array,
  vocab: number,
  rows: readonly SamplingRow[],
  histories: readonly (ArrayLike<number> | null)[],
  top: number,
): HostSample {
  const ids = new Int32Array(rows.length);
  const logprobs = new Float32Array(rows.length);
  const topIds = new Int32Array(rows.length * top);
  const topLogprobs = new Float32Array(rows.length * top);
  rows.forEach((row, b) => {
    const x = processLogits(logits.subarray(b * vocab, (b + 1) * vocab), row, histories[b] ?? null);
    const id = sampleRow(x, row);
    ids[b] = id;
    const lp = logSoftmax(x);
    logprobs[b] = lp[id]!;
    if (top > 0) {
      const order = Array.from({ length: vocab }, (_, i) => i).sort((a, c) => lp[c]! - lp[a]! || a - c);
      for (let j = 0; j < top; j++) {
        topIds[b * top + j] = order[j]!;
        topLogprobs[b * top + j] = lp[order[j]!]!;
      }
    }
  });
  return { ids, logprobs, topIds, topLogprobs };
}
