import { rngUniform, type SamplingRow } from '@dsa/backend';

/** What {@link sampleOnHost} returns: ids [B], chosen logprobs [B], and the top-N ids / logprobs [B, N]. */
export interface HostSample {
  /** Sampled token per row. */
  readonly ids: Int32Array;
  /** Log-probability of each sampled token. */
  readonly logprobs: Float32Array;
  /** [B, N] most likely token ids. */
  readonly topIds: Int32Array;
  /** [B, N] their log-probabilities. */
  readonly topLogprobs: Float32Array;
}

function processLogits(logits: Float32Array, row: SamplingRow, history: Int32Array | null): Float64Array {
  const x = Float64Array.from(logits);
  for (const [id, bias] of row.logitBias ?? []) if (id >= 0 && id < x.length) x[id]! += bias;
  if (history && row.history) {
    const counts = new Map<number, number>();
    const seen = new Set<number>();
    history.forEach((id, i) => {
      seen.add(id);
      if (i >= row.history!.promptLength) counts.set(id, (counts.get(id) ?? 0) + 1);
    });
    const repetition = row.repetitionPenalty ?? 1;
    if (repetition !== 1)
      for (const id of seen) x[id] = x[id]! > 0 ? x[id]! / repetition : x[id]! * repetition;
    for (const [id, count] of counts)
      x[id]! -= (row.frequencyPenalty ?? 0) * count + (row.presencePenalty ?? 0);
  }
  return x;
}

function draw(logits: Float64Array, row: SamplingRow): number {
  const n = logits.length;
  let best = 0;
  if (row.temperature <= 0) {
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
  best = -1;
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

function logSoftmax(x: Float64Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  for (const v of x) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return x.map((v) => v - lse);
}

/**
 * The contract's sampler (see `SamplingRow`) over host logits [B, V]: bias, penalties, logprobs,
 * then greedy or the seeded exponential race. Used by the ascend `sample` kernel.
 */
export function sampleOnHost(
  logits: Float32Array,
  vocab: number,
  rows: readonly SamplingRow[],
  histories: readonly (Int32Array | null)[],
  top: number,
): HostSample {
  const ids = new Int32Array(rows.length);
  const logprobs = new Float32Array(rows.length);
  const topIds = new Int32Array(rows.length * top);
  const topLogprobs = new Float32Array(rows.length * top);
  rows.forEach((row, b) => {
    const x = processLogits(logits.subarray(b * vocab, (b + 1) * vocab), row, histories[b] ?? null);
    const id = draw(x, row);
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
