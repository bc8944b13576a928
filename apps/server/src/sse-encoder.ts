import type { FastifyReply } from 'fastify';
import { type CompletionEvent, openAIUsage } from './completion-events.js';
import type { CompletionMeta, CompletionProtocol } from './completion-protocol.js';
import { OpenAIError } from './openai-error.js';

/**
 * Writes a completion as Server-Sent Events: one `data: {chunk}` per piece, a chunk with the finish reason,
 * the usage chunk when asked, and `data: [DONE]`. A failure after the stream started is sent as an
 * OpenAI error event before `[DONE]` (the status line is already 200).
 */
export async function encodeSse<Piece>(
  reply: FastifyReply,
  protocol: CompletionProtocol<Piece>,
  meta: CompletionMeta,
  events: AsyncIterable<CompletionEvent<Piece>>,
  includeUsage: boolean,
): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const send = (data: unknown) => {
    if (!raw.writableEnded) raw.write(`data: ${JSON.stringify(data)}\n\n`);
  };
  const chunk = (choices: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
    send({
      id: meta.id,
      object: protocol.chunkObject,
      created: meta.created,
      model: meta.model,
      choices,
      ...extra,
    });
  try {
    for await (const event of events) {
      if (event.type === 'piece') chunk([{ ...protocol.chunkChoice(event.piece), finish_reason: null }]);
      else {
        chunk([{ ...protocol.finishChoice(event.finishReason), finish_reason: event.finishReason }]);
        if (includeUsage) chunk([], { usage: openAIUsage(event.usage) });
      }
    }
  } catch (error) {
    reply.request.log.error(error);
    send(new OpenAIError(500, `generation failed: ${(error as Error).message}`, 'server_error').body());
  }
  if (!raw.writableEnded) raw.end('data: [DONE]\n\n');
}
