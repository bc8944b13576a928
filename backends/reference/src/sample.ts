import { checkSampleArguments, type SamplingOutputs, type SamplingRow, sampleOnHost } from '@dsa/backend';
import { narrow, type TensorView } from '@dsa/tensor';
import { read, write } from './strided.js';

export function sample(
  out: TensorView,
  logits: TensorView,
  rows: readonly SamplingRow[],
  outputs: SamplingOutputs = {},
): void {
  const k = 'sample';
  const { vocab, top } = checkSampleArguments(out, logits, rows, outputs);
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
