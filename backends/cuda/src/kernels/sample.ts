import {
  checkSampleArguments,
  KernelArgumentError,
  type Kernels,
  type SamplingOutputs,
  type SamplingRow,
} from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { devicePointer } from '../device-pointer.js';
import { tensorArgs } from '../tensor-args.js';
import { expectDType, expectRank, type KernelContext, rowGrid } from './kernel-context.js';

/** Doubles per row in the settings block of dsa_sample (kRowFields). */
export const SAMPLE_ROW_FIELDS = 16;
/** Threads per row of dsa_sample. */
export const SAMPLE_THREADS = 256;

/**
 * The settings block dsa_sample reads: {@link SAMPLE_ROW_FIELDS} doubles per row (temperature, topK,
 * topP, minP, seed, step, repetition, frequency, presence, bias offset, bias count, history address,
 * history stride, history length, prompt length, 0), then every row's logit-bias pairs.
 */
export function packSamplingRows(rows: readonly SamplingRow[], vocab: number): Float64Array {
  const biasCount = rows.reduce((sum, row) => sum + (row.logitBias?.length ?? 0), 0);
  const data = new Float64Array(rows.length * SAMPLE_ROW_FIELDS + 2 * biasCount);
  let bias = rows.length * SAMPLE_ROW_FIELDS;
  rows.forEach((row, b) => {
    const k = 'sample';
    if (!(row.temperature >= 0))
      throw new KernelArgumentError(k, `rows[${b}].temperature ${row.temperature} must be >= 0`);
    const o = b * SAMPLE_ROW_FIELDS;
    data[o] = row.temperature;
    data[o + 1] = row.topK ?? 0;
    data[o + 2] = row.topP ?? 1;
    data[o + 3] = row.minP ?? 0;
    data[o + 4] = (row.seed ?? 0) >>> 0;
    data[o + 5] = (row.step ?? 0) >>> 0;
    data[o + 6] = row.repetitionPenalty ?? 1;
    data[o + 7] = row.frequencyPenalty ?? 0;
    data[o + 8] = row.presencePenalty ?? 0;
    data[o + 9] = bias;
    data[o + 10] = row.logitBias?.length ?? 0;
    for (const [id, value] of row.logitBias ?? []) {
      data[bias++] = id;
      data[bias++] = value;
    }
    const history = row.history;
    if (history) {
      const tokens: TensorView = history.tokens;
      expectRank(k, `rows[${b}].history.tokens`, tokens, 1);
      expectDType(k, `rows[${b}].history.tokens`, tokens, 'i32');
      if (!Number.isInteger(history.length) || history.length < 0 || history.length > tokens.shape[0]!) {
        throw new KernelArgumentError(
          k,
          `rows[${b}].history.length ${history.length} exceeds its ${tokens.shape[0]} tokens`,
        );
      }
      data[o + 11] = Number(devicePointer(tokens, `rows[${b}].history.tokens`));
      data[o + 12] = tokens.strides[0]!;
      data[o + 13] = history.length;
      data[o + 14] = history.promptLength;
    }
  });
  if (vocab < 1) throw new KernelArgumentError('sample', `logits have ${vocab} columns`);
  return data;
}

/** sample: one block per row (see kernels/primitives/sample.cu). */
export function sampleKernels(context: KernelContext): Pick<Kernels, 'sample'> {
  return {
    sample(out, logits, rows: readonly SamplingRow[], outputs: SamplingOutputs = {}) {
      const k = 'sample';
      const { batch, vocab, top } = checkSampleArguments(out, logits, rows, outputs);
      if (batch === 0) return;
      const packed = packSamplingRows(rows, vocab);
      const settings = context.stage('sample.rows', new Uint8Array(packed.buffer));
      const cells = batch * vocab;
      const scratch = context.scratch('sample', cells * 20 + 512);
      const p = scratch + BigInt(Math.ceil((cells * 8) / 256) * 256);
      const aux = p + BigInt(Math.ceil((cells * 8) / 256) * 256);
      context.launch(
        'dsa_sample',
        rowGrid(batch),
        [SAMPLE_THREADS, 1, 1],
        [
          ...tensorArgs(k, 'out', out),
          ...tensorArgs(k, 'logits', logits),
          { ptr: settings },
          { ptr: scratch },
          { ptr: p },
          { ptr: aux },
          ...tensorArgs(k, 'logprobs', outputs.logprobs),
          { i32: outputs.logprobs ? 1 : 0 },
          ...tensorArgs(k, 'topIds', outputs.topIds),
          ...tensorArgs(k, 'topLogprobs', outputs.topLogprobs),
          { i32: top },
          { i32: outputs.topLogprobs ? 1 : 0 },
        ],
      );
    },
  };
}
