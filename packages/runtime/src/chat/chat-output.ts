import type { ParsedToolCall, ThinkingMode } from './chat-message.js';
import { CompletionStreamParser } from './dsv32-stream-parser.js';

/** One piece of a chat answer as the OpenAI API reports it. */
export type ChatDelta =
  | { readonly kind: 'reasoning_content' | 'content'; readonly text: string }
  | { readonly kind: 'tool_call'; readonly index: number; readonly toolCall: ParsedToolCall };

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
