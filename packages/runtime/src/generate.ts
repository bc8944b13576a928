import { Engine } from './engine/engine.js';
import type { SamplingParams } from './engine/generate-request.js';
import type { DeepseekModel } from './model/deepseek-model.js';

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** Prompt token ids. */
  readonly prompt: ArrayLike<number>;
  /** Tokens to generate at most. */
  readonly maxTokens: number;
  /** Sampling settings (default greedy; the seed defaults to 0). */
  readonly sampling?: SamplingParams;
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
 * One request on a one-request {@link Engine} over `model`: prefills the prompt (in chunks), then
 * decodes one token at a time with the KV cache, sampling on the backend. Throws at once what the
 * engine rejects (`RequestRejectedError`); the cache blocks are released when the iterator finishes,
 * stops early or throws. For many requests at once, use an `Engine`.
 */
export async function* generate(
  model: DeepseekModel,
  options: GenerateOptions,
): AsyncGenerator<GeneratedToken> {
  const engine = new Engine(model, { maxBatchTokens: options.prefillChunk ?? 512, maxRunning: 1 });
  try {
    const events = engine.generate(
      {
        prompt: Array.from(options.prompt),
        maxTokens: options.maxTokens,
        sampling: { ...options.sampling, seed: options.sampling?.seed ?? 0 },
        ...(options.stopTokenIds ? { stopTokenIds: options.stopTokenIds, ignoreEos: true } : {}),
      },
      options.signal ? { signal: options.signal } : {},
    );
    for await (const event of events) {
      if (event.type === 'token') yield { id: event.id, index: event.index };
    }
  } finally {
    await engine.close();
  }
}
