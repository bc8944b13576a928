import { type CompletionEvent, openAIUsage } from './completion-events.js';
import type { CompletionMeta, CompletionProtocol } from './completion-protocol.js';
import { OpenAIError } from './openai-error.js';

/**
 * Collects a completion into one JSON answer. A generation that fails answers an OpenAI-shaped 500;
 * one cancelled by its client (the connection is gone) returns null, as nobody reads it.
 */
export async function encodeCollected<Piece>(
  protocol: CompletionProtocol<Piece>,
  meta: CompletionMeta,
  events: AsyncIterable<CompletionEvent<Piece>>,
): Promise<Record<string, unknown> | null> {
  const pieces: Piece[] = [];
  try {
    for await (const event of events) {
      if (event.type === 'piece') {
        pieces.push(event.piece);
        continue;
      }
      return {
        id: meta.id,
        object: protocol.object,
        created: meta.created,
        model: meta.model,
        choices: [protocol.collect(pieces, event.finishReason)],
        usage: openAIUsage(event.usage),
      };
    }
  } catch (error) {
    throw new OpenAIError(500, `generation failed: ${(error as Error).message}`, 'server_error');
  }
  return null;
}
