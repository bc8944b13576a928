import type { SamplingRow } from '@dsa/backend';
import type { DeepseekModel } from './model/deepseek-model.js';

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** Prompt token ids. */
  readonly prompt: ArrayLike<number>;
  /** Tokens to generate at most. */
  readonly maxTokens: number;
  /** Sampling settings (default greedy). */
  readonly sampling?: Omit<SamplingRow, 'step'>;
  /** Stop when one of these ids is generated (default: the config's EOS ids). */
  readonly stopTokenIds?: readonly number[];
  /** Prefill at most this many tokens per forward step (default 512). */
  readonly prefillChunk?: number;
  /** Stops generation between steps. */
  readonly signal?: AbortSignal;
}

/** One generated token. */
export interface GeneratedToken {
  /** The token id. */
  readonly id: number;
  /** Index of the token in the generated sequence (0-based). */
  readonly index: number;
}

/**
 * Prefills the prompt (in chunks), then decodes one token at a time with the KV cache, sampling on
 * the backend so only the token id comes back each step. The sequence's cache blocks are released
 * when the iterator finishes, stops early or throws.
 */
export async function* generate(
  model: DeepseekModel,
  options: GenerateOptions,
): AsyncGenerator<GeneratedToken> {
  const { prompt, maxTokens } = options;
  if (prompt.length === 0) throw new RangeError('generate: the prompt is empty');
  const limit = model.config.maxPositionEmbeddings;
  if (prompt.length + maxTokens > limit) {
    throw new RangeError(
      `generate: prompt (${prompt.length}) + max tokens (${maxTokens}) exceeds the model's context of ${limit} tokens`,
    );
  }
  const sampling = options.sampling ?? { temperature: 0 };
  const stop = new Set(options.stopTokenIds ?? model.config.eosTokenIds);
  const chunk = options.prefillChunk ?? 512;
  const sequence = model.cache.createSequence();
  const backend = model.backend;
  const id = backend.allocate(4, 'activations');
  const idView = { buffer: id, byteOffset: 0, dtype: 'i32' as const, shape: [1], strides: [1] };
  const host = new Int32Array(1);
  try {
    let result = null;
    for (let start = 0; start < prompt.length; start += chunk) {
      const tokens = Array.from(
        { length: Math.min(chunk, prompt.length - start) },
        (_, i) => prompt[start + i]!,
      );
      result = await model.forward([{ sequence, tokens }]);
    }
    for (let index = 0; index < maxTokens; index++) {
      if (options.signal?.aborted) return;
      backend.kernels.sample(idView, result!.logits, [{ ...sampling, step: index }]);
      await backend.download(idView, host);
      const token = host[0]!;
      yield { id: token, index };
      if (stop.has(token) || index === maxTokens - 1) return;
      result = await model.forward([{ sequence, tokens: [token] }]);
    }
  } finally {
    model.cache.release(sequence);
    id.dispose();
  }
}
