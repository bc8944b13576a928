import type { ParsedToolCall } from './chat-message.js';
import { DSV32_TOKENS } from './dsv32-tokens.js';
import { pyJsonString } from './python-json.js';

const { dsml } = DSV32_TOKENS;

/**
 * The markers the DeepSeek-V3.2 completion parsers look for, in the order the reference searches them.
 * Internal to the parsers.
 */
export const DSML_MARKERS = {
  /** Start of a tool-call block in a completion (the blank line is part of it). */
  toolCallsStart: `\n\n<${dsml}function_calls`,
  toolCallsEnd: `</${dsml}function_calls>`,
  invokeStart: `<${dsml}invoke`,
  invokeEnd: `</${dsml}invoke`,
  parameterStart: `<${dsml}parameter`,
  /** The reference stops a parameter value at this text (without the `<`, which ends the value). */
  parameterEnd: `/${dsml}parameter`,
} as const;

/** Texts that must not occur in parsed content or reasoning. */
export const FORBIDDEN_IN_CONTENT: readonly string[] = [
  DSV32_TOKENS.bos,
  DSV32_TOKENS.eos,
  DSV32_TOKENS.thinkingStart,
  DSV32_TOKENS.thinkingEnd,
  dsml,
];

// Python `regex`'s \s (Unicode White_Space) and `$` (end, or before a final newline), written out for
// JavaScript, whose \s also has U+FEFF but lacks U+0085 and whose `$` is the end only.
const WS = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const INVOKE_NAME = new RegExp(`^${WS}*name="(.*?)">\\n\\n?$`, 's');
const PARAMETER = /^ name="(.*?)" string="(true|false)">(.*?)<\n?$/s;

/** The tool name from the text between `<｜DSML｜invoke` and the first parameter or `</｜DSML｜invoke`. */
export function matchInvokeName(text: string): string | undefined {
  return INVOKE_NAME.exec(text)?.[1];
}

/** One parameter: the text between `<｜DSML｜parameter` and `/｜DSML｜parameter` (it ends with `<`). */
export function matchParameter(text: string): { name: string; isString: boolean; value: string } | undefined {
  const m = PARAMETER.exec(text);
  return m === null ? undefined : { name: m[1]!, isString: m[2] === 'true', value: m[3]! };
}

/**
 * A tool call from its DSML parameters, as the reference builds it: `string="true"` values JSON-encoded,
 * others inserted verbatim, pairs joined with `", "` and `": "`.
 */
export function dsmlToolCall(
  name: string,
  args: ReadonlyMap<string, { value: string; isString: boolean }>,
): ParsedToolCall {
  const pairs = [...args].map(
    ([k, { value, isString }]) => `${pyJsonString(k)}: ${isString ? pyJsonString(value) : value}`,
  );
  return { type: 'function', function: { name, arguments: `{${pairs.join(', ')}}` } };
}
