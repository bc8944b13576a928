// Shared by the end-to-end tests and the device checks (backends/*/check, so no vitest here): reading
// reference tensors, comparing arrays, greedy decoding against the reference's step logits.
import type { DeepseekModel, SafetensorsFile } from '@dsa/runtime';

/** A float32 tensor of a golden file. */
export async function readF32(file: SafetensorsFile, name: string): Promise<Float32Array> {
  const bytes = await file.read(name);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** An int32 tensor of a golden file. */
export async function readI32(file: SafetensorsFile, name: string): Promise<Int32Array> {
  const bytes = await file.read(name);
  return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** max |a - b| over two arrays; infinite when their lengths differ or a difference is NaN. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return max;
}

/** Index of the largest entry (the lowest index on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Greedy decoding with the KV cache on a fresh sequence of `model`: the prompt, then `steps` tokens,
 * each the argmax of the previous logits. Returns the tokens and the max |logits − stepLogits| over the
 * steps + 1 logits rows (`stepLogits` [steps + 1, V], the reference's). The sequence is released.
 */
export async function greedyDecode(
  model: DeepseekModel,
  prompt: Int32Array,
  steps: number,
  stepLogits: Float32Array,
): Promise<{ tokens: number[]; worst: number }> {
  const vocab = model.config.vocabSize;
  const sequence = model.cache.createSequence();
  try {
    let result = await model.forward([{ sequence, tokens: prompt }]);
    const tokens: number[] = [];
    let worst = 0;
    for (let step = 0; step <= steps; step++) {
      const logits = new Float32Array(vocab);
      await model.backend.download(result.logits, logits);
      worst = Math.max(worst, maxAbsDiff(logits, stepLogits.subarray(step * vocab, (step + 1) * vocab)));
      if (step === steps) break;
      const best = argmax(logits);
      tokens.push(best);
      result = await model.forward([{ sequence, tokens: [best] }]);
    }
    return { tokens, worst };
  } finally {
    model.cache.release(sequence);
  }
}
