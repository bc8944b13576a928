// Test helper (not built into dist): what a model makes of a prompt, teacher-forced and greedily, for the tests
// that compare two loads of one model (a GGUF quant type against its f32 twin, a GGUF export against its
// safetensors source).
import { generate } from '../generate.js';
import type { DeepseekModel } from './deepseek-model.js';

/**
 * The logits [ids.length, vocab] of every position of `ids` (one fresh cache sequence, released afterwards),
 * then `maxTokens` greedy tokens after `greedyPrompt` (no stop tokens).
 */
export async function forcedLogitsAndGreedy(
  model: DeepseekModel,
  ids: readonly number[],
  greedyPrompt: readonly number[],
  maxTokens: number,
): Promise<{ logits: Float32Array; tokens: number[] }> {
  const sequence = model.cache.createSequence();
  const result = await model.forward([{ sequence, tokens: ids }], { logits: 'all' });
  const logits = new Float32Array(ids.length * model.config.vocabSize);
  await model.backend.download(result.logits, logits);
  model.cache.release(sequence);
  const tokens: number[] = [];
  for await (const t of generate(model, { prompt: greedyPrompt, maxTokens, stopTokenIds: [] }))
    tokens.push(t.id);
  return { logits, tokens };
}
