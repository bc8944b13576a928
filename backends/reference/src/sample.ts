import { KernelArgumentError, type SamplingOutputs, type SamplingRow, sampleOnHost } from '@dsa/backend';
import { narrow, type TensorView } from '@dsa/tensor';
import { expectDType, expectRank, expectShape, read, write } from './strided.js';

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
  const histories = rows.map((row) =>
    row.history ? read(narrow(row.history.tokens, 0, 0, row.history.length), k) : null,
  );
  const result = sampleOnHost(v, vocab, rows, histories, top);
  const ids = result.ids;
  const chosen = result.logprobs;
  const topIds = result.topIds;
  const topValues = result.topLogprobs;
  write(out, ids, k);
  if (outputs.logprobs) write(outputs.logprobs, chosen, k);
  if (outputs.topIds) write(outputs.topIds, topIds, k);
  if (outputs.topLogprobs) write(outputs.topLogprobs, topValues, k);
}
