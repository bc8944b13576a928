/** `chat`: answer directly (the prompt ends with `</think>`); `thinking`: reason first (it ends with `<think>`). */
export type ThinkingMode = 'chat' | 'thinking';

/** The roles the DeepSeek-V3.2 encoder understands. */
export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

/** A function tool's description in the OpenAI `tools` format (`parameters` is a JSON schema). */
export interface ChatToolFunction {
  /** The function name the model calls. */
  readonly name: string;
  /** What the function does. */
  readonly description?: string;
  /** JSON schema of the arguments object. */
  readonly parameters?: unknown;
  readonly [key: string]: unknown;
}

/** One entry of an OpenAI-format `tools` list. */
export interface ChatTool {
  /** Always `function`. */
  readonly type?: 'function';
  /** The function's description; rendered into the prompt as one JSON line. */
  readonly function: ChatToolFunction;
}

/**
 * A tool call made by the assistant, in OpenAI format. `arguments` is the JSON text of the arguments object
 * (an already-parsed object is accepted too).
 */
export interface ChatToolCall {
  /** Call id (not rendered). */
  readonly id?: string;
  /** Always `function`. */
  readonly type?: 'function';
  /** Name and arguments of the call. */
  readonly function: {
    /** Name of the function to call. */
    readonly name: string;
    /** Arguments as JSON text or an already-parsed object. */
    readonly arguments: string | Readonly<Record<string, unknown>>;
  };
}

/**
 * An OpenAI-style chat message as the DeepSeek-V3.2 encoder reads it. Field names follow the wire format.
 * `tools` and `response_format` are read on `system` and `developer` messages; `reasoning_content` (or
 * `reasoning`) and `tool_calls` on `assistant` messages. `id`/`tool_call_id`/`name` are carried but not
 * rendered: tool results are matched to calls by position.
 */
export interface ChatMessage {
  /** Who speaks. */
  readonly role: ChatRole;
  /** The text. A missing `content` renders as `None` on user, developer and tool messages, as in the reference. */
  readonly content?: string | null;
  /** The assistant's thinking text (rendered only after the last user turn, in thinking mode). */
  readonly reasoning_content?: string | null;
  /** Same as `reasoning_content`; takes precedence when both are non-empty. */
  readonly reasoning?: string | null;
  /** Tools offered to the model (system or developer message). */
  readonly tools?: readonly ChatTool[] | null;
  /** An OpenAI `response_format` object, rendered as JSON into the prompt. */
  readonly response_format?: unknown;
  /** Calls made by the assistant, rendered as DSML. */
  readonly tool_calls?: readonly ChatToolCall[] | null;
  /** Id of the call a tool message answers (not rendered: results are matched by position). */
  readonly tool_call_id?: string;
  /** Participant name (not rendered). */
  readonly name?: string;
}

/** A tool call parsed from a completion, in OpenAI format; `arguments` is JSON text. */
export interface ParsedToolCall {
  /** Always `function`. */
  readonly type: 'function';
  /** Name and JSON arguments of the call. */
  readonly function: {
    /** Name of the function to call. */
    readonly name: string;
    /** Arguments as JSON text. */
    readonly arguments: string;
  };
}

/** The assistant message parsed from a DeepSeek-V3.2 completion (the reference parser's output shape). */
export interface ParsedAssistantMessage {
  /** Always `assistant`. */
  readonly role: 'assistant';
  /** The answer text (without markup). */
  readonly content: string;
  /** The thinking text (empty in chat mode). */
  readonly reasoning_content: string;
  /** The same text as `reasoning_content`. */
  readonly reasoning: string;
  /** The tool calls, in order (empty when there are none). */
  readonly tool_calls: readonly ParsedToolCall[];
}
