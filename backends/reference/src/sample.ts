import { KernelArgumentError, rngUniform, type SamplingOutputs, type SamplingRow } from '@dsa/backend';
import { narrow, type TensorView } from '@dsa/tensor';
import { expectDType, expectRank, expectShape, read, write } from './strided.js';

/** Logit bias and penalties applied to a copy of `logits`, as the contract orders them. */
export function processLogits(
  logits: ArrayLike<number>,
  row: SamplingRow,
  history: ArrayLike<number> | null,
): Float64Array {
  const x = Float64Array.from(logits);
  for (const [id, bias] of row.logitBias ?? []) if (id >= 0 && id < x.length) x[id]! += bias;
  if (history) {
    const promptLength = row.history!.promptLength;
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

/** Draws one token from processed logits with `row`'s settings, exactly as the contract specifies. */
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
    const e = -Math.log(rngUniform(row.seed ?? 0, row.step ?? 0, i));
    const key = p[i]! / e;
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

export function sample(
  out: TensorView,
  logits: TensorView,
  rows: readonly SamplingRow[],
  outputs: SamplingOutputs = {},
): void {
  const k = 'sample';
  expectRank(k, 'logits', logits, 2);
  expectDType(k, 'out', out, 'i32');
  const [batch, vocab] = logits.shape as [number, number];
  expectShape(k, 'out', out, [batch]);
  if (rows.length !== batch)
    throw new KernelArgumentError(k, `${rows.length} sampling rows for ${batch} logits rows`);
  const top = outputs.topIds?.shape[1] ?? 0;
  if (outputs.logprobs) expectShape(k, 'logprobs', outputs.logprobs, [batch]);
  if (outputs.topIds) expectShape(k, 'topIds', outputs.topIds, [batch, top]);
  if (outputs.topLogprobs) expectShape(k, 'topLogprobs', outputs.topLogprobs, [batch, top]);
  const v = read(logits, k);
  const ids: number[] = [];
  const chosen: number[] = [];
  const topIds: number[] = [];
  const topValues: number[] = [];
  rows.forEach((row, b) => {
    const history = row.history ? read(narrow(row.history.tokens, 0, 0, row.history.length), k) : null;
    const x = processLogits(v.subarray(b * vocab, (b + 1) * vocab), row, history);
    const id = sampleRow(x, row);
    ids.push(id);
    if (outputs.logprobs || top > 0) {
      const lp = logSoftmax(x);
      chosen.push(lp[id]!);
      const order = Array.from({ length: vocab }, (_, i) => i).sort((a, c) => lp[c]! - lp[a]! || a - c);
      for (let j = 0; j < top; j++) {
        topIds.push(order[j]!);
        topValues.push(lp[order[j]!]!);
      }
    }
  });
  write(out, ids, k);
  if (outputs.logprobs) write(outputs.logprobs, chosen, k);
  if (outputs.topIds) write(outputs.topIds, topIds, k);
  if (outputs.topLogprobs) write(outputs.topLogprobs, topValues, k);
}
