import { randomUUID } from 'node:crypto';
import { type ChatMessage, ChatOutput, renderChatPrompt, type ThinkingMode } from '@dsa/runtime';
import type { FastifyInstance } from 'fastify';
import type { CompletionProtocol, DoneEvent, TokenEvent } from '../completion-protocol.js';
import { type SamplingFields, tokenLogprob } from '../generation.js';
import { OpenAIError } from '../openai-error.js';
import { chatCompletionSchema } from '../request-schemas.js';
import { completionRoute } from '../serve-completion.js';
import type { ServerContext } from '../server-context.js';

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

/** A tool call as OpenAI sends it. */
interface ToolCall {
  index: number;
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One piece of a chat answer: the role, text, reasoning text, a tool call, or a token's logprobs. */
type ChatPiece =
  | { readonly kind: 'role' }
  | { readonly kind: 'content' | 'reasoning_content'; readonly text: string }
  | { readonly kind: 'tool_call'; readonly call: ToolCall }
  | { readonly kind: 'logprobs'; readonly entry: ReturnType<typeof logprobEntry> };

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

/** Chat completions: text goes through the reasoning/tool-call parser; logprobs per token. */
class ChatProtocol implements CompletionProtocol<ChatPiece> {
  readonly idPrefix = 'chatcmpl';
  readonly object = 'chat.completion';
  readonly chunkObject = 'chat.completion.chunk';
  private readonly output: ChatOutput;
  private sawToolCall = false;

  constructor(
    private readonly context: ServerContext,
    private readonly mode: ThinkingMode,
    /** Alternatives per token when logprobs are asked for. */
    private readonly top: number | undefined,
  ) {
    this.output = new ChatOutput(mode);
  }

  begin(): ChatPiece[] {
    return [{ kind: 'role' }];
  }

  token(event: TokenEvent): ChatPiece[] {
    const pieces: ChatPiece[] = [];
    if (this.top !== undefined && event.logprob !== undefined)
      pieces.push({ kind: 'logprobs', entry: logprobEntry(this.context, event) });
    return pieces.concat(this.pieces(this.output.push(event.text ?? '')));
  }

  end(event: DoneEvent): { pieces: ChatPiece[]; finishReason: string } {
    const pieces = [...this.pieces(this.output.push(event.text ?? '')), ...this.pieces(this.output.finish())];
    const finishReason = this.sawToolCall ? 'tool_calls' : event.reason === 'length' ? 'length' : 'stop';
    return { pieces, finishReason };
  }

  chunkChoice(piece: ChatPiece): Record<string, unknown> {
    switch (piece.kind) {
      case 'role':
        return { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null };
      case 'logprobs':
        return { index: 0, delta: {}, logprobs: { content: [piece.entry] } };
      case 'tool_call':
        return { index: 0, delta: { tool_calls: [piece.call] }, logprobs: null };
      default:
        return { index: 0, delta: { [piece.kind]: piece.text }, logprobs: null };
    }
  }

  finishChoice(): Record<string, unknown> {
    return { index: 0, delta: {}, logprobs: null };
  }

  collect(pieces: readonly ChatPiece[], finishReason: string): Record<string, unknown> {
    let content = '';
    let reasoning = '';
    const toolCalls: Omit<ToolCall, 'index'>[] = [];
    const logprobs: ReturnType<typeof logprobEntry>[] = [];
    for (const piece of pieces) {
      if (piece.kind === 'content') content += piece.text;
      else if (piece.kind === 'reasoning_content') reasoning += piece.text;
      else if (piece.kind === 'logprobs') logprobs.push(piece.entry);
      else if (piece.kind === 'tool_call') {
        const { index: _, ...call } = piece.call;
        toolCalls.push(call);
      }
    }
    return {
      index: 0,
      message: {
        role: 'assistant',
        content: content || (toolCalls.length ? null : ''),
        ...(this.mode === 'thinking' ? { reasoning_content: reasoning } : {}),
        ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
      },
      logprobs: this.top !== undefined ? { content: logprobs } : null,
      finish_reason: finishReason,
    };
  }

  private pieces(deltas: ReturnType<ChatOutput['push']>): ChatPiece[] {
    return deltas.map((d): ChatPiece => {
      if (d.kind !== 'tool_call') return { kind: d.kind, text: d.text };
      this.sawToolCall = true;
      return {
        kind: 'tool_call',
        call: {
          index: d.index,
          id: `call_${randomUUID().slice(0, 8)}`,
          type: 'function',
          function: d.toolCall.function,
        },
      };
    });
  }
}

/** POST /v1/chat/completions */
export function chatCompletionsRoute(app: FastifyInstance, context: ServerContext): void {
  completionRoute(app, context, '/v1/chat/completions', chatCompletionSchema, (body: ChatBody) => {
    const mode = thinkingMode(body);
    const prompt = context.tokenizer.encode(renderPrompt(context, body, mode));
    const top = body.logprobs ? (body.top_logprobs ?? 0) : undefined;
    return { protocol: new ChatProtocol(context, mode, top), prompt, top };
  });
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
