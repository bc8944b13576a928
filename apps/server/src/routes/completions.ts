import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type SamplingFields, startGeneration, toGenerateRequest } from '../generation.js';
import { completionSchema } from '../request-schemas.js';
import type { ServerContext } from '../server-context.js';
import { SseWriter } from '../sse.js';
import { usage } from './chat-completions.js';

interface CompletionBody extends SamplingFields {
  prompt: string | number[];
  logprobs?: number | null;
  echo?: boolean;
}

/** POST /v1/completions: plain text (or token ids) in, text out. */
export function completionsRoute(app: FastifyInstance, context: ServerContext): void {
  app.post(
    '/v1/completions',
    { schema: { body: completionSchema } },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const body = request.body as CompletionBody;
      context.checkModel(body.model);
      const prompt =
        typeof body.prompt === 'string'
          ? context.tokenizer.encode(body.prompt, { addSpecialTokens: true })
          : body.prompt;
      const top = body.logprobs ?? undefined;
      const generateRequest = toGenerateRequest(body, prompt, context.defaults, top);
      const controller = new AbortController();
      const events = startGeneration(context.engine, generateRequest, controller.signal);
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) controller.abort();
      });
      const id = `cmpl-${randomUUID()}`;
      const created = Math.floor(Date.now() / 1000);
      const model = context.modelName;
      const echo = body.echo && typeof body.prompt === 'string' ? body.prompt : '';
      const logprobs = {
        tokens: [] as string[],
        token_logprobs: [] as number[],
        top_logprobs: [] as Record<string, number>[],
        text_offset: [] as number[],
      };
      let text = echo;
      const record = (event: {
        id: number;
        logprob?: number;
        topLogprobs?: readonly { id: number; logprob: number }[];
      }) => {
        if (top === undefined) return;
        logprobs.tokens.push(context.tokenizer.decode([event.id]));
        logprobs.token_logprobs.push(event.logprob ?? 0);
        logprobs.top_logprobs.push(
          Object.fromEntries(
            (event.topLogprobs ?? []).map((t) => [context.tokenizer.decode([t.id]), t.logprob]),
          ),
        );
        logprobs.text_offset.push(text.length);
      };

      if (body.stream) {
        const sse = new SseWriter(reply);
        const chunk = (piece: string, finish: string | null, lp: unknown = null) =>
          sse.send({
            id,
            object: 'text_completion',
            created,
            model,
            choices: [{ index: 0, text: piece, logprobs: lp, finish_reason: finish }],
          });
        if (echo) chunk(echo, null);
        try {
          for await (const event of events) {
            if (event.type === 'token') {
              record(event);
              const lp =
                top !== undefined
                  ? {
                      tokens: logprobs.tokens.slice(-1),
                      token_logprobs: logprobs.token_logprobs.slice(-1),
                      top_logprobs: logprobs.top_logprobs.slice(-1),
                      text_offset: logprobs.text_offset.slice(-1),
                    }
                  : null;
              text += event.text ?? '';
              if (event.text || lp) chunk(event.text ?? '', null, lp);
            } else if (event.reason !== 'cancelled') {
              chunk(event.text ?? '', event.reason === 'length' ? 'length' : 'stop');
              if (body.stream_options?.include_usage)
                sse.send({
                  id,
                  object: 'text_completion',
                  created,
                  model,
                  choices: [],
                  usage: usage(event.usage),
                });
            }
          }
        } catch (error) {
          sse.fail({
            error: {
              message: `generation failed: ${(error as Error).message}`,
              type: 'server_error',
              param: null,
              code: null,
            },
          });
          return;
        }
        sse.done();
        return;
      }

      let finish = 'stop';
      let counts = null;
      for await (const event of events) {
        if (event.type === 'token') {
          record(event);
          text += event.text ?? '';
        } else {
          text += event.text ?? '';
          finish = event.reason === 'length' ? 'length' : 'stop';
          counts = usage(event.usage);
        }
      }
      return {
        id,
        object: 'text_completion',
        created,
        model,
        choices: [{ index: 0, text, logprobs: top !== undefined ? logprobs : null, finish_reason: finish }],
        usage: counts,
      };
    },
  );
}
