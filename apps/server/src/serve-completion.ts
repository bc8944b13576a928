import { randomUUID } from 'node:crypto';
import type { GenerateRequest } from '@dsa/runtime';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { encodeCollected } from './collect-encoder.js';
import { completionEvents } from './completion-events.js';
import type { CompletionProtocol } from './completion-protocol.js';
import { type SamplingFields, startGeneration, toGenerateRequest } from './generation.js';
import type { ServerContext } from './server-context.js';
import { encodeSse } from './sse-encoder.js';

/** How one completion request is answered. */
export interface CompletionAnswer {
  /** The engine request. */
  readonly request: GenerateRequest;
  /** SSE (`stream: true`) or one JSON answer. */
  readonly stream: boolean;
  /** Send a usage chunk before `[DONE]` (`stream_options.include_usage`). */
  readonly includeUsage: boolean;
}

/**
 * The one path of every completion route: starts the generation (400/429 before anything is sent),
 * cancels it when the client goes away, and encodes the protocol's pieces as SSE or as one answer.
 */
export async function serveCompletion<Piece>(
  context: ServerContext,
  reply: FastifyReply,
  protocol: CompletionProtocol<Piece>,
  answer: CompletionAnswer,
): Promise<Record<string, unknown> | undefined> {
  const controller = new AbortController();
  const events = startGeneration(context.engine, answer.request, controller.signal);
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  const meta = {
    id: `${protocol.idPrefix}-${randomUUID()}`,
    created: Math.floor(Date.now() / 1000),
    model: context.modelName,
  };
  const pieces = completionEvents(protocol, events);
  if (answer.stream) {
    await encodeSse(reply, protocol, meta, pieces, answer.includeUsage);
    return undefined;
  }
  const body = await encodeCollected(protocol, meta, pieces);
  if (body === null) {
    // The client is gone; there is nobody to answer.
    reply.hijack();
    reply.raw.destroy();
    return undefined;
  }
  return body;
}

/** What a completion route makes of its request body. */
export interface CompletionInput<Piece> {
  /** The wire format of the answer. */
  readonly protocol: CompletionProtocol<Piece>;
  /** The prompt's token ids. */
  readonly prompt: number[];
  /** Alternatives per token for logprobs, or undefined for none. */
  readonly top: number | undefined;
}

/**
 * Registers the completion route POST `path`: the body is validated against `schema`, its model checked,
 * `prepare` gives the protocol and prompt, and {@link serveCompletion} answers.
 */
export function completionRoute<Body extends SamplingFields, Piece>(
  app: FastifyInstance,
  context: ServerContext,
  path: string,
  schema: object,
  prepare: (body: Body) => CompletionInput<Piece>,
): void {
  app.post(path, { schema: { body: schema } }, async (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body as Body;
    context.checkModel(body.model);
    const { protocol, prompt, top } = prepare(body);
    return serveCompletion(context, reply, protocol, {
      request: toGenerateRequest(body, prompt, context.defaults, top),
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
    });
  });
}
