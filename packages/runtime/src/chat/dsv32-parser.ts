import type { ParsedAssistantMessage, ParsedToolCall, ThinkingMode } from './chat-message.js';
import {
  DSML_MARKERS,
  dsmlToolCall,
  FORBIDDEN_IN_CONTENT,
  matchInvokeName,
  matchParameter,
} from './dsv32-dsml.js';
import { Dsv32ParseError } from './dsv32-parse-error.js';
import { DSV32_TOKENS } from './dsv32-tokens.js';

const { eos, thinkingEnd } = DSV32_TOKENS;
const { toolCallsStart, toolCallsEnd, invokeStart, invokeEnd, parameterStart, parameterEnd } = DSML_MARKERS;

interface Read {
  /** Index after the stop (or the text's length when no stop was found). */
  readonly next: number;
  /** Text from the start index to the stop. */
  readonly content: string;
  readonly stop: string | undefined;
}

/** The earliest of `stops` at or after `from` (the first listed wins a tie); the rest of the text if none. */
function readUntilStop(text: string, from: number, stops: readonly string[]): Read {
  let best = -1;
  let stop: string | undefined;
  for (const s of stops) {
    const pos = text.indexOf(s, from);
    if (pos !== -1 && (best === -1 || pos < best)) {
      best = pos;
      stop = s;
    }
  }
  if (stop === undefined) return { next: text.length, content: text.slice(from), stop: undefined };
  return { next: best + stop.length, content: text.slice(from, best), stop };
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Dsv32ParseError(message);
}

function parseToolCalls(text: string, start: number): { next: number; toolCalls: ParsedToolCall[] } {
  const toolCalls: ParsedToolCall[] = [];
  let index = start;
  let stop: string | undefined;
  while (index < text.length) {
    const head = readUntilStop(text, index, [invokeStart, toolCallsEnd]);
    index = head.next;
    stop = head.stop;
    check(head.content === '>\n', 'Tool call format error');
    if (stop === toolCallsEnd) break;
    check(stop !== undefined, 'Missing special token');

    const nameRead = readUntilStop(text, index, [parameterStart, invokeEnd]);
    index = nameRead.next;
    stop = nameRead.stop;
    const name = matchInvokeName(nameRead.content);
    check(name !== undefined, 'Tool name format error');

    const args = new Map<string, { value: string; isString: boolean }>();
    while (stop === parameterStart) {
      const paramRead = readUntilStop(text, index, [parameterEnd]);
      index = paramRead.next;
      const param = matchParameter(paramRead.content);
      check(param !== undefined, 'Parameter format error');
      check(!args.has(param.name), 'Duplicate parameter name');
      args.set(param.name, { value: param.value, isString: param.isString });

      const tail = readUntilStop(text, index, [parameterStart, invokeEnd]);
      index = tail.next;
      stop = tail.stop;
      check(tail.content === '>\n', 'Parameter format error');
    }
    toolCalls.push(dsmlToolCall(name, args));
  }
  return { next: index, toolCalls };
}

/**
 * Parse a DeepSeek-V3.2 completion (the text generated after an {@link encodeMessages} prompt) into an
 * assistant message: a TypeScript port of the reference `parse_message_from_completion_text`, strict in the
 * same places. In thinking mode the text is `reasoning</think>answer`; a tool-call block
 * `\n\n<｜DSML｜function_calls>...</｜DSML｜function_calls>` may follow the answer; the text ends with
 * `<｜end▁of▁sentence｜>` (optional only after tool calls). Decode with special tokens kept so that EOS is in
 * the text. Tool-call `arguments` are built as the reference builds them: `string="true"` values
 * JSON-encoded, others inserted verbatim, pairs joined with `", "` and `": "`.
 * @throws {@link Dsv32ParseError} with the reference's assertion message when the text is malformed.
 */
export function parseMessageFromCompletionText(
  text: string,
  thinkingMode: ThinkingMode,
): ParsedAssistantMessage {
  let index = 0;
  let reasoning = '';
  let toolCalls: ParsedToolCall[] = [];

  if (thinkingMode === 'thinking') {
    const r = readUntilStop(text, index, [thinkingEnd, toolCallsStart]);
    index = r.next;
    reasoning = r.content;
    check(r.stop === thinkingEnd, 'Invalid thinking format');
  }

  const summary = readUntilStop(text, index, [eos, toolCallsStart]);
  index = summary.next;
  let stop = summary.stop;
  const content = summary.content;
  if (stop === toolCallsStart) {
    const tools = parseToolCalls(text, index);
    index = tools.next;
    toolCalls = tools.toolCalls;
    const rest = readUntilStop(text, index, [eos]);
    index = rest.next;
    stop = rest.stop;
    check(rest.content === '', 'Unexpected content after tool calls');
  } else {
    check(stop === eos, 'Invalid summary format');
  }
  check(index === text.length && (stop === eos || stop === undefined), 'Unexpected content at end');
  for (const token of FORBIDDEN_IN_CONTENT) {
    check(!content.includes(token) && !reasoning.includes(token), 'Unexpected special token in content');
  }
  return { role: 'assistant', content, reasoning_content: reasoning, reasoning, tool_calls: toolCalls };
}
