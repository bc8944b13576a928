import type { GenerateEvent } from '@dsa/runtime';

/** A generated-token event of the engine. */
export type TokenEvent = Extract<GenerateEvent, { type: 'token' }>;
/** The engine's last event of a request. */
export type DoneEvent = Extract<GenerateEvent, { type: 'done' }>;

/**
 * What differs between chat and text completions; one object per request (it may keep state, such as the
 * tool-call parser or the text offset). Everything else, from starting the generation to writing SSE chunks
 * or one JSON answer, is shared by {@link serveCompletion}.
 */
export interface CompletionProtocol<Piece> {
  /** Prefix of response ids: `chatcmpl` or `cmpl`. */
  readonly idPrefix: string;
  /** `object` of a collected answer. */
  readonly object: string;
  /** `object` of a streamed chunk. */
  readonly chunkObject: string;
  /** Pieces sent before the first token (the assistant role, an echoed prompt). */
  begin(): Piece[];
  /** Pieces of one generated token. */
  token(event: TokenEvent): Piece[];
  /** Pieces held back until the end, and the OpenAI finish reason. */
  end(event: DoneEvent): { pieces: Piece[]; finishReason: string };
  /** The streamed choice carrying one piece (`finish_reason` is added by the encoder). */
  chunkChoice(piece: Piece): Record<string, unknown>;
  /** The streamed choice that carries only the finish reason. */
  finishChoice(finishReason: string): Record<string, unknown>;
  /** The single choice of a collected (non-streamed) answer. */
  collect(pieces: readonly Piece[], finishReason: string): Record<string, unknown>;
}

/** Fields every response object of one request shares. */
export interface CompletionMeta {
  /** `chatcmpl-…` or `cmpl-…`. */
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  /** The served model id. */
  readonly model: string;
}
