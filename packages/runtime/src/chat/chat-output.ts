import type { ParsedToolCall, ThinkingMode } from './chat-message.js';
import { CompletionStreamParser } from './dsv32-stream-parser.js';

/** One piece of a chat answer as the OpenAI API reports it. */
export type ChatDelta =
  | {
      /** Thinking text or answer text. */
      readonly kind: 'reasoning_content' | 'content';
      /** The next piece of it. */
      readonly text: string;
    }
  | {
      /** A complete tool call. */
      readonly kind: 'tool_call';
      /** Position of the call in the message, from 0. */
      readonly index: number;
      /** The parsed call. */
      readonly toolCall: ParsedToolCall;
    };

/**
 * Splits generated text into reasoning, content and DSML tool calls as it streams. If the model's output
 * stops making sense as DeepSeek-V3.2 markup, the rest is passed through as plain content rather than failing
 * the request.
 */
export class ChatOutput {
  private parser: CompletionStreamParser | null;

  constructor(mode: ThinkingMode) {
    this.parser = new CompletionStreamParser(mode);
  }

  /** Feeds the next piece of generated text; returns the deltas it completes. */
  push(text: string): ChatDelta[] {
    if (!text) return [];
    if (!this.parser) return [{ kind: 'content', text }];
    try {
      return this.parser.push(text).map(convert);
    } catch {
      this.parser = null;
      return [{ kind: 'content', text }];
    }
  }

  /** Ends generation: returns the deltas still held back (such as a final tool call); later pushes pass through as content. */
  finish(): ChatDelta[] {
    if (!this.parser) return [];
    try {
      return this.parser.flush().map(convert);
    } catch {
      return [];
    } finally {
      this.parser = null;
    }
  }
}

function convert(event: ReturnType<CompletionStreamParser['push']>[number]): ChatDelta {
  if (event.kind === 'tool_calls') return { kind: 'tool_call', index: event.index, toolCall: event.toolCall };
  return { kind: event.kind, text: event.text };
}
