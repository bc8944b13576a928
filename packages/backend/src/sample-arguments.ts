import { formatShape, type TensorView } from '@dsa/tensor';
import { KernelArgumentError } from './errors/kernel-argument-error.js';
import type { SamplingOutputs, SamplingRow } from './sampling.js';

/** The sizes {@link checkSampleArguments} found: B logits rows, V vocabulary entries, N top entries. */
export interface SampleSizes {
  /** B: rows of logits (and sampling rows). */
  readonly batch: number;
  /** V: vocabulary entries per row. */
  readonly vocab: number;
  /** N: most likely tokens asked for per row (0 without `topIds`). */
  readonly top: number;
}

/**
 * Checks the arguments of `Kernels.sample` as the contract states them, for every backend alike:
 * logits [B, V], i32 out [B], one sampling row per logits row, logprobs [B], topIds and topLogprobs
 * [B, N] with N ≤ V. Throws a {@link KernelArgumentError} naming `sample` and the argument.
 */
export function checkSampleArguments(
  out: TensorView,
  logits: TensorView,
  rows: readonly SamplingRow[],
  outputs: SamplingOutputs,
): SampleSizes {
  const fail = (message: string): never => {
    throw new KernelArgumentError('sample', message);
  };
  if (logits.shape.length !== 2)
    fail(`logits has rank ${logits.shape.length} (${formatShape(logits.shape)}), expected 2`);
  const [batch, vocab] = logits.shape as [number, number];
  if (out.dtype !== 'i32') fail(`out has dtype ${out.dtype}, expected i32`);
  const expect = (name: string, view: TensorView | undefined, shape: readonly number[]) => {
    if (view && (view.shape.length !== shape.length || shape.some((d, i) => d !== view.shape[i])))
      fail(`${name} has shape ${formatShape(view.shape)}, expected ${formatShape(shape)}`);
  };
  expect('out', out, [batch]);
  if (rows.length !== batch) fail(`${rows.length} sampling rows for ${batch} logits rows`);
  if (outputs.topIds && outputs.topIds.shape.length !== 2)
    fail(`topIds has rank ${outputs.topIds.shape.length} (${formatShape(outputs.topIds.shape)}), expected 2`);
  const top = outputs.topIds?.shape[1] ?? 0;
  expect('logprobs', outputs.logprobs, [batch]);
  expect('topIds', outputs.topIds, [batch, top]);
  expect('topLogprobs', outputs.topLogprobs, [batch, top]);
  if (top > vocab) fail(`topIds asks for ${top} tokens of a vocabulary of ${vocab}`);
  return { batch, vocab, top };
}
