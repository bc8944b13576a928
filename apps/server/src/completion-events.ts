import type { GenerateEvent, Usage } from '@dsa/runtime';
import type { CompletionProtocol } from './completion-protocol.js';

/** What the shared completion path produces: pieces of the answer, then one finish (none if cancelled). */
export type CompletionEvent<Piece> =
  | { readonly type: 'piece'; readonly piece: Piece }
  | { readonly type: 'finish'; readonly finishReason: string; readonly usage: Usage };

/**
 * Turns the engine's events into the protocol's pieces, the one path both encoders (SSE and collecting)
 * consume. A request cancelled by its client ends without a finish. Engine failures are thrown.
 */
export async function* completionEvents<Piece>(
  protocol: CompletionProtocol<Piece>,
  events: AsyncIterable<GenerateEvent>,
): AsyncGenerator<CompletionEvent<Piece>> {
  for (const piece of protocol.begin()) yield { type: 'piece', piece };
  for await (const event of events) {
    if (event.type === 'token') {
      for (const piece of protocol.token(event)) yield { type: 'piece', piece };
      continue;
    }
    if (event.reason === 'cancelled') return;
    const { pieces, finishReason } = protocol.end(event);
    for (const piece of pieces) yield { type: 'piece', piece };
    yield { type: 'finish', finishReason, usage: event.usage };
  }
}

/** OpenAI usage counts. */
export function openAIUsage(usage: Usage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens },
  };
}
