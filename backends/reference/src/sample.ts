import { KernelArgumentError, rngUniform, type SamplingRow } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { expectDType, expectRank, expectShape, read, write } from './strided.js';

/** Draws one token from `logits` with `row`'s settings, exactly as the contract specifies. */
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

export function sample(out: TensorView, logits: TensorView, rows: readonly SamplingRow[]): void {
  const k = 'sample';
  expectRank(k, 'logits', logits, 2);
  expectDType(k, 'out', out, 'i32');
  const [batch, vocab] = logits.shape as [number, number];
  expectShape(k, 'out', out, [batch]);
  if (rows.length !== batch)
    throw new KernelArgumentError(k, `${rows.length} sampling rows for ${batch} logits rows`);
  const v = read(logits, k);
  const ids = rows.map((row, b) => sampleRow(v.subarray(b * vocab, (b + 1) * vocab), row));
  write(out, ids, k);
}
