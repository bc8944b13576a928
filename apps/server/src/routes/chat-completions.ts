import { randomUUID } from 'node:crypto';
import { type ChatMessage, ChatOutput, renderChatPrompt, type ThinkingMode } from '@dsa/runtime';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type SamplingFields, startGeneration, toGenerateRequest, tokenLogprob } from '../generation.js';
import { OpenAIError } from '../openai-error.js';
import { chatCompletionSchema } from '../request-schemas.js';
import type { ServerContext } from '../server-context.js';
import { SseWriter } from '../sse.js';

interface ChatBody extends SamplingFields {
  messages: (Omit<ChatMessage, 'content'> & {
    content?: string | null | { type: 'text'; text?: string }[];
  })[];
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  tools?: ChatMessage['tools'];
  tool_choice?: unknown;
  reasoning?: boolean | { enabled?: boolean; effort?: string };
  reasoning_effort?: string | null;
  chat_template_kwargs?: { thinking?: boolean };
}

/** Whether the request asks the model to think first. */
function thinkingMode(body: ChatBody): ThinkingMode {
  const r = body.reasoning;
  const on =
    (typeof r === 'boolean' ? r : typeof r === 'object' ? r.enabled !== false : undefined) ??
    body.chat_template_kwargs?.thinking ??
    (body.reasoning_effort ? body.reasoning_effort !== 'none' : false);
  return on ? 'thinking' : 'chat';
}

/** The prompt text for the request's messages (content parts joined; tools unless tool_choice is none). */
function renderPrompt(context: ServerContext, body: ChatBody, mode: ThinkingMode): string {
  const messages = body.messages.map((m) => ({
    ...m,
    content: Array.isArray(m.content) ? m.content.map((part) => part.text ?? '').join('') : m.content,
  })) as ChatMessage[];
  try {
    return renderChatPrompt(context.tokenizer, messages, {
      thinking: mode,
      tools: body.tool_choice === 'none' ? null : (body.tools ?? null),
    });
  } catch (error) {
    throw new OpenAIError(400, `messages: ${(error as Error).message}`, 'invalid_request_error', 'messages');
  }
}

/** POST /v1/chat/completions */
export function chatCompletionsRoute(app: FastifyInstance, context: ServerContext): void {
  app.post(
    '/v1/chat/completions',
    { schema: { body: chatCompletionSchema } },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const body = request.body as ChatBody;
      context.checkModel(body.model);
      const mode = thinkingMode(body);
      const prompt = context.tokenizer.encode(renderPrompt(context, body, mode));
      const top = body.logprobs ? (body.top_logprobs ?? 0) : undefined;
      const generateRequest = toGenerateRequest(body, prompt, context.defaults, top);
      const controller = new AbortController();
      const events = startGeneration(context.engine, generateRequest, controller.signal);
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) controller.abort();
      });
      const id = `chatcmpl-${randomUUID()}`;
      const created = Math.floor(Date.now() / 1000);
      const model = context.modelName;
      const output = new ChatOutput(mode);
      const toolCalls: {
        index: number;
        id: string;
        type: 'function';
        function: { name: string; arguments: string };
      }[] = [];
      const logprobs: unknown[] = [];

      if (body.stream) {
        const sse = new SseWriter(reply);
        const chunk = (
          delta: Record<string, unknown>,
          finish: string | null = null,
          extra: Record<string, unknown> = {},
        ) =>
          sse.send({
            id,
            object: 'chat.completion.chunk',
            created,
            model,
            choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...extra }],
          });
        chunk({ role: 'assistant', content: '' });
        const emit = (deltas: ReturnType<ChatOutput['push']>) => {
          for (const d of deltas) {
            if (d.kind === 'tool_call') {
              const call = {
                index: d.index,
                id: `call_${randomUUID().slice(0, 8)}`,
                type: 'function' as const,
                function: d.toolCall.function,
              };
              toolCalls.push(call);
              chunk({ tool_calls: [call] });
            } else chunk({ [d.kind]: d.text });
          }
        };
        try {
          for await (const event of events) {
            if (event.type === 'token') {
              if (top !== undefined && event.logprob !== undefined) {
                chunk({}, null, { logprobs: { content: [logprobEntry(context, event)] } });
              }
              emit(output.push(event.text ?? ''));
            } else {
              emit(output.push(event.text ?? ''));
              emit(output.finish());
              const finish = toolCalls.length ? 'tool_calls' : event.reason === 'length' ? 'length' : 'stop';
              if (event.reason !== 'cancelled') {
                chunk({}, finish);
                if (body.stream_options?.include_usage)
                  sse.send({
                    id,
                    object: 'chat.completion.chunk',
                    created,
                    model,
                    choices: [],
                    usage: usage(event.usage),
                  });
              }
            }
          }
        } catch (error) {
          sse.fail(
            new OpenAIError(500, `generation failed: ${(error as Error).message}`, 'server_error').body(),
          );
          return;
        }
        sse.done();
        return;
      }

      let content = '';
      let reasoning = '';
      let finish = 'stop';
      let usageCounts = null;
      const collect = (deltas: ReturnType<ChatOutput['push']>) => {
        for (const d of deltas) {
          if (d.kind === 'tool_call')
            toolCalls.push({
              index: d.index,
              id: `call_${randomUUID().slice(0, 8)}`,
              type: 'function',
              function: d.toolCall.function,
            });
          else if (d.kind === 'content') content += d.text;
          else reasoning += d.text;
        }
      };
      for await (const event of events) {
        if (event.type === 'token') {
          if (top !== undefined && event.logprob !== undefined) logprobs.push(logprobEntry(context, event));
          collect(output.push(event.text ?? ''));
        } else {
          collect(output.push(event.text ?? ''));
          collect(output.finish());
          finish = toolCalls.length ? 'tool_calls' : event.reason === 'length' ? 'length' : 'stop';
          usageCounts = usage(event.usage);
        }
      }
      return {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: content || (toolCalls.length ? null : ''),
              ...(mode === 'thinking' ? { reasoning_content: reasoning } : {}),
              ...(toolCalls.length ? { tool_calls: toolCalls.map(({ index: _, ...call }) => call) } : {}),
            },
            logprobs: top !== undefined ? { content: logprobs } : null,
            finish_reason: finish,
          },
        ],
        usage: usageCounts,
      };
    },
  );
}

function logprobEntry(
  context: ServerContext,
  event: { id: number; logprob?: number; topLogprobs?: readonly { id: number; logprob: number }[] },
) {
  return {
    ...tokenLogprob(context.tokenizer, event.id, event.logprob ?? 0),
    top_logprobs: (event.topLogprobs ?? []).map((t) => tokenLogprob(context.tokenizer, t.id, t.logprob)),
  };
}

/** OpenAI usage counts. */
export function usage(u: { promptTokens: number; completionTokens: number; cachedTokens: number }) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
  };
}
