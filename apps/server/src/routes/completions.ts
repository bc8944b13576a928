import type { FastifyInstance } from 'fastify';
import type { CompletionProtocol, DoneEvent, TokenEvent } from '../completion-protocol.js';
import type { SamplingFields } from '../generation.js';
import { completionSchema } from '../request-schemas.js';
import { completionRoute } from '../serve-completion.js';
import type { ServerContext } from '../server-context.js';

interface CompletionBody extends SamplingFields {
  prompt: string | number[];
  logprobs?: number | null;
  echo?: boolean;
}

/** Legacy completions logprobs of one token (or of several, once collected). */
interface TextLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

/** One piece of a text completion: text, with the token's logprobs when asked. */
interface TextPiece {
  readonly text: string;
  readonly logprobs: TextLogprobs | null;
}

/** Text completions: plain text, an optional echoed prompt, legacy logprobs with text offsets. */
class TextProtocol implements CompletionProtocol<TextPiece> {
  readonly idPrefix = 'cmpl';
  readonly object = 'text_completion';
  readonly chunkObject = 'text_completion';
  /** Characters of text so far (the echo included), for `text_offset`. */
  private offset = 0;

  constructor(
    private readonly context: ServerContext,
    private readonly echo: string,
    /** Alternatives per token when logprobs are asked for. */
    private readonly top: number | undefined,
  ) {}

  begin(): TextPiece[] {
    this.offset = this.echo.length;
    return this.echo ? [{ text: this.echo, logprobs: null }] : [];
  }

  token(event: TokenEvent): TextPiece[] {
    const text = event.text ?? '';
    const logprobs =
      this.top === undefined
        ? null
        : {
            tokens: [this.context.tokenizer.decode([event.id])],
            token_logprobs: [event.logprob ?? 0],
            top_logprobs: [
              Object.fromEntries(
                (event.topLogprobs ?? []).map((t) => [this.context.tokenizer.decode([t.id]), t.logprob]),
              ),
            ],
            text_offset: [this.offset],
          };
    this.offset += text.length;
    return text || logprobs ? [{ text, logprobs }] : [];
  }

  end(event: DoneEvent): { pieces: TextPiece[]; finishReason: string } {
    const tail = event.text ?? '';
    return {
      pieces: tail ? [{ text: tail, logprobs: null }] : [],
      finishReason: event.reason === 'length' ? 'length' : 'stop',
    };
  }

  chunkChoice(piece: TextPiece): Record<string, unknown> {
    return { index: 0, text: piece.text, logprobs: piece.logprobs };
  }

  finishChoice(): Record<string, unknown> {
    return { index: 0, text: '', logprobs: null };
  }

  collect(pieces: readonly TextPiece[], finishReason: string): Record<string, unknown> {
    const logprobs: TextLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    for (const piece of pieces) {
      if (!piece.logprobs) continue;
      logprobs.tokens.push(...piece.logprobs.tokens);
      logprobs.token_logprobs.push(...piece.logprobs.token_logprobs);
      logprobs.top_logprobs.push(...piece.logprobs.top_logprobs);
      logprobs.text_offset.push(...piece.logprobs.text_offset);
    }
    return {
      index: 0,
      text: pieces.map((p) => p.text).join(''),
      logprobs: this.top !== undefined ? logprobs : null,
      finish_reason: finishReason,
    };
  }
}

/** POST /v1/completions: plain text (or token ids) in, text out. */
export function completionsRoute(app: FastifyInstance, context: ServerContext): void {
  completionRoute(app, context, '/v1/completions', completionSchema, (body: CompletionBody) => {
    const prompt =
      typeof body.prompt === 'string'
        ? context.tokenizer.encode(body.prompt, { addSpecialTokens: true })
        : body.prompt;
    const top = body.logprobs ?? undefined;
    const echo = body.echo && typeof body.prompt === 'string' ? body.prompt : '';
    return { protocol: new TextProtocol(context, echo, top), prompt, top };
  });
}
