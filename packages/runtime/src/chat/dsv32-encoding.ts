import { ChatEncodingError } from './chat-encoding-error.js';
import type { ChatMessage, ChatTool, ChatToolCall, ThinkingMode } from './chat-message.js';
import { DSV32_TOKENS } from './dsv32-tokens.js';
import { pythonFloatRepr } from './python-float.js';
import { pyJsonDumps } from './python-json.js';
import { pyJsonLoads } from './python-json-parse.js';

/** Options of {@link encodeMessages}. */
export interface EncodeMessagesOptions {
  /** `thinking`: the last user/developer turn ends with `<think>`; `chat`: every turn ends with `</think>`. */
  readonly thinkingMode: ThinkingMode;
  /**
   * The earlier part of the conversation, already encoded and sent (for incremental encoding). It is not
   * rendered again, but it counts when finding the last user turn and the assistant message that tool results
   * belong to. No BOS is added when it is non-empty.
   */
  readonly context?: readonly ChatMessage[] | null;
  /** In thinking mode, drop the reasoning of assistant turns before the last user turn. Default true. */
  readonly dropThinking?: boolean;
  /** Start the prompt with BOS (only when there is no context). Default true. */
  readonly addDefaultBosToken?: boolean;
}

const { bos, eos, user, assistant, thinkingStart, thinkingEnd, dsml } = DSV32_TOKENS;

const TOOLS_INSTRUCTIONS = [
  '## Tools',
  "You have access to a set of tools you can use to answer the user's question.",
  `You can invoke functions by writing a "<${dsml}function_calls>" block like the following as part of your reply to the user:`,
  `<${dsml}function_calls>`,
  `<${dsml}invoke name="$FUNCTION_NAME">`,
  `<${dsml}parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</${dsml}parameter>`,
  '...',
  `</${dsml}invoke>`,
  `<${dsml}invoke name="$FUNCTION_NAME2">`,
  '...',
  `</${dsml}invoke>`,
  `</${dsml}function_calls>`,
  'String and scalar parameters should be specified as is without any escaping or quotes, while lists and objects should use JSON format. The "string" attribute should be set to "true" for string type parameters and "false" for other types (numbers, booleans, arrays, objects).',
  'If the thinking_mode is enabled, then after function results you should strongly consider outputting a thinking block. Here is an example:',
  `<${dsml}function_calls>`,
  '...',
  `</${dsml}function_calls>`,
  '<function_results>',
  '...',
  '</function_results>',
  `${thinkingStart}...thinking about results${thinkingEnd}`,
  'Here are the functions available in JSONSchema format:',
  '<functions>',
].join('\n');

const RESPONSE_FORMAT_INTRO =
  '## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n';

/** Python truthiness of a JSON-ish value: None, False, 0, "" and empty containers are false. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** Python `str(v)` for the scalar values a message field can hold (what `str.format` inserts). */
function pyStr(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v).toString() : pythonFloatRepr(v);
  if (typeof v === 'bigint') return v.toString();
  throw new ChatEncodingError(`${what} must be a string, got ${Array.isArray(v) ? 'a list' : typeof v}`);
}

/** `## Tools` block: the calling instructions plus one JSON schema (the `function` object) per line. */
function renderTools(tools: readonly ChatTool[]): string {
  const schemas = tools.map((t) => pyJsonDumps(t.function)).join('\n');
  return `${TOOLS_INSTRUCTIONS}\n${schemas}\n</functions>\n`;
}

function renderResponseFormat(responseFormat: unknown): string {
  return RESPONSE_FORMAT_INTRO + pyJsonDumps(responseFormat);
}

/** One `<｜DSML｜parameter>` line per argument: strings raw with string="true", other values as JSON. */
function encodeArgumentsToDsml(call: ChatToolCall): string {
  const raw = call.function.arguments;
  let entries: [string, unknown][];
  if (typeof raw === 'string') {
    let parsed: unknown;
    try {
      parsed = pyJsonLoads(raw);
    } catch (cause) {
      throw new ChatEncodingError(`tool call arguments are not valid JSON: ${(cause as Error).message}`);
    }
    if (!(parsed instanceof Map)) throw new ChatEncodingError('tool call arguments must be a JSON object');
    entries = [...parsed.entries()];
  } else {
    entries = Object.entries(raw).filter(([, v]) => v !== undefined);
  }
  return entries
    .map(([k, v]) => {
      const isStr = typeof v === 'string';
      const value = isStr ? v : pyJsonDumps(v);
      return `<${dsml}parameter name="${k}" string="${isStr ? 'true' : 'false'}">${value}</${dsml}parameter>`;
    })
    .join('\n');
}

function renderToolCalls(calls: readonly ChatToolCall[]): string {
  const invokes = calls.map(
    (c) =>
      `<${dsml}invoke name="${pyStr(c.function.name, 'tool call name')}">\n${encodeArgumentsToDsml(c)}\n</${dsml}invoke>`,
  );
  return `\n\n<${dsml}function_calls>\n${invokes.join('\n')}\n</${dsml}function_calls>`;
}

/** Index of the last user or developer message, or -1. */
function lastUserIndex(messages: readonly ChatMessage[]): number {
  for (let i = messages.length - 1; i >= 0; i--) {
    const role = messages[i]!.role;
    if (role === 'user' || role === 'developer') return i;
  }
  return -1;
}

/** `list[i]` with Python's negative indexing. */
function pyAt<T>(list: readonly T[], i: number): T {
  const v = list[i < 0 ? list.length + i : i];
  if (v === undefined) throw new ChatEncodingError(`message index ${i} out of range`);
  return v;
}

function renderMessage(index: number, messages: readonly ChatMessage[], mode: ThinkingMode): string {
  const msg = messages[index]!;
  const lastUser = lastUserIndex(messages);
  const { role, content } = msg;
  const reasoning = truthy(msg.reasoning) ? msg.reasoning : msg.reasoning_content;
  const tools = truthy(msg.tools) ? msg.tools! : undefined;
  const toolCalls = truthy(msg.tool_calls) ? msg.tool_calls! : undefined;
  const openOrClose = (open: boolean): string => (open && mode === 'thinking' ? thinkingStart : thinkingEnd);

  switch (role) {
    case 'system': {
      let out = truthy(content) ? pyStr(content, 'system content') : '';
      if (tools) out += `\n\n${renderTools(tools)}`;
      if (truthy(msg.response_format)) out += `\n\n${renderResponseFormat(msg.response_format)}`;
      return out;
    }
    case 'developer': {
      if (!truthy(content)) throw new ChatEncodingError(`Invalid message for role \`developer\` at ${index}`);
      let inner = '';
      if (tools) inner += `\n\n${renderTools(tools)}`;
      if (truthy(msg.response_format)) inner += `\n\n${renderResponseFormat(msg.response_format)}`;
      inner += `\n\n# The user's message is: ${pyStr(content, 'developer content')}`;
      return `${user}${inner}${assistant}${openOrClose(index === lastUser)}`;
    }
    case 'user':
      return `${user}${pyStr(content, 'user content')}${assistant}${openOrClose(index === lastUser)}`;
    case 'tool': {
      // Tool results follow their assistant message; the n-th result answers the n-th call.
      let prev = index - 1;
      let owner = pyAt(messages, prev);
      while (prev >= 0 && owner.role === 'tool') {
        prev--;
        owner = pyAt(messages, prev);
      }
      if (!(index === 0 || (prev >= 0 && owner.role === 'assistant'))) {
        throw new ChatEncodingError(
          `Invalid messages at ${index}: a tool result must follow an assistant message`,
        );
      }
      const order = index - prev;
      const calls = owner.tool_calls;
      if (!truthy(calls) || calls!.length < order)
        throw new ChatEncodingError('No tool calls but found tool output');
      let out = order === 1 ? '\n\n<function_results>' : '';
      out += `\n<result>${pyStr(content, 'tool content')}</result>`;
      if (order === calls!.length) out += `\n</function_results>\n\n${openOrClose(index >= lastUser)}`;
      return out;
    }
    case 'assistant': {
      const toolCallsText = toolCalls ? renderToolCalls(toolCalls) : '';
      let thinking = '';
      if (mode === 'thinking' && index > lastUser) {
        if (!truthy(reasoning) && !toolCalls) {
          throw new ChatEncodingError(
            `ThinkingMode: thinking, invalid assistant message at ${index} without reasoning_content/tool_calls after last user message`,
          );
        }
        thinking = (truthy(reasoning) ? pyStr(reasoning, 'reasoning_content') : '') + thinkingEnd;
      }
      const text = truthy(content) ? pyStr(content, 'assistant content') : '';
      return `${thinking}${text}${toolCallsText}${eos}`;
    }
    default:
      throw new ChatEncodingError(`Unknown role: ${String(role)}`);
  }
}

/**
 * In thinking mode, the reference drops the reasoning of assistant turns before the last user turn; its
 * filter also drops `developer` (and unknown-role) messages that come before the last user turn.
 */
function dropThinkingMessages(messages: readonly ChatMessage[]): ChatMessage[] {
  const lastUser = lastUserIndex(messages);
  const out: ChatMessage[] = [];
  messages.forEach((msg, idx) => {
    const role = msg.role;
    if (role === 'user' || role === 'system' || role === 'tool' || idx >= lastUser) {
      out.push(msg);
    } else if (role === 'assistant') {
      const { reasoning_content: _rc, reasoning: _r, ...rest } = msg;
      out.push(rest);
    }
  });
  return out;
}

/**
 * Build a DeepSeek-V3.2 prompt from OpenAI-style messages: a TypeScript port of the reference encoder
 * `encode_messages` (`encoding/encoding_dsv32.py` published with deepseek-ai/DeepSeek-V3.2), giving the same
 * string code point for code point. Special tokens appear as their literal text; tokenize the result with
 * added tokens recognized and without adding another BOS.
 *
 * - system: its content, then the `## Tools` block and `## Response Format:` block when given.
 * - user: `<｜User｜>{content}<｜Assistant｜>` then `<think>` (last user/developer turn in thinking mode) or
 *   `</think>`.
 * - developer: a user turn whose content is the tools/format blocks plus `# The user's message is: ...`.
 * - assistant: `{reasoning}</think>` (thinking mode, after the last user turn only) + content + DSML tool
 *   calls + `<｜end▁of▁sentence｜>`.
 * - tool: `<function_results>` blocks, one `<result>` per call, closed after the last call's result.
 *
 * JSON inside the prompt is written as Python's `json.dumps(..., ensure_ascii=False)` would
 * ({@link pyJsonDumps}); tool-call arguments given as JSON text are re-read with {@link pyJsonLoads} so that
 * number formats (`1.0`) and key order survive as in Python.
 * @throws {@link ChatEncodingError} where the reference asserts (a tool result without a matching call, an
 *   empty developer message, an assistant turn without reasoning or tool calls after the last user turn in
 *   thinking mode, an unknown role).
 */
export function encodeMessages(messages: readonly ChatMessage[], options: EncodeMessagesOptions): string {
  const mode = options.thinkingMode;
  if (mode !== 'chat' && mode !== 'thinking')
    throw new ChatEncodingError(`Invalid thinking_mode \`${String(mode)}\``);
  const context = options.context && options.context.length > 0 ? options.context : [];
  let full: readonly ChatMessage[] = [...context, ...messages];
  let prompt = options.addDefaultBosToken !== false && context.length === 0 ? bos : '';
  if (mode === 'thinking' && options.dropThinking !== false) full = dropThinkingMessages(full);
  for (let i = 0; i < messages.length; i++) {
    const index = i + context.length;
    if (index >= full.length) throw new ChatEncodingError(`message index ${index} out of range`);
    prompt += renderMessage(index, full, mode);
  }
  return prompt;
}
