import { describe, expect, it } from 'vitest';
import type { ParsedAssistantMessage, ThinkingMode } from './chat-message.js';
import { PARSE_CASES } from './dsv32-parse-cases.js';
import { Dsv32ParseError } from './dsv32-parse-error.js';
import { parseMessageFromCompletionText } from './dsv32-parser.js';
import { CompletionStreamParser } from './dsv32-stream-parser.js';

/** Feed `text` to a streaming parser in pieces of `size` UTF-16 units, then finish. */
function streamParse(text: string, mode: ThinkingMode, size: number): ParsedAssistantMessage {
  const p = new CompletionStreamParser(mode);
  for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size));
  return p.finish();
}

const fixture = { parse_cases: PARSE_CASES };

type Expected =
  | { error: string }
  | { content: string; reasoning: string; toolCalls: [name: string, args: string][] };

/**
 * Malformed and edge-case completions (prefixes and mutations of the fixture texts, plus hand-made ones) with
 * the outcome of the reference Python parser, `parse_message_from_completion_text` from encoding_dsv32.py,
 * run on each: the assertion message, or the parsed fields. The streaming parser must agree too.
 */
const REFERENCE_EDGE_CASES: [text: string, mode: ThinkingMode, expected: Expected][] = [
  ['', 'chat', { error: 'Invalid summary format' }],
  ['Hello there! 2 + 2 = 4>\n.<｜▁of▁sentence｜>', 'chat', { error: 'Invalid summary format' }],
  ['\n\n<｜DSML｜function_calls', 'chat', { content: '', reasoning: '', toolCalls: [] }],
  [
    'I\'ll check the weather.\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="location" string="true">Paris</｜DSML｜parameter>\n',
    'chat',
    {
      content: "I'll check the weather.",
      reasoning: '',
      toolCalls: [['get_weather', '{"location": "Paris"}']],
    },
  ],
  ['Hello there! 2 + 2 = 4.<｜end▁of▁sentence｜>><', 'chat', { error: 'Unexpected content at end' }],
  [
    'The user asks 2+2. That is 4.</think>The answer is 4.<｜end▁\u0085of▁sentence｜<｜end▁of▁sentence｜>>\n',
    'chat',
    { error: 'Unexpected content at end' },
  ],
  ['</think>Just twe\u2003r.<｜end▁of▁sentence｜>', 'chat', { error: 'Unexpected special token in content' }],
  [
    'The >\nuser asks 2+2. That is 4.</thin<｜DSML｜parameter name="k" string="true">v</｜DSML｜parameter>\nk>The answer is 4.<｜end▁of▁sentence｜>',
    'chat',
    { error: 'Unexpected special token in content' },
  ],
  ['\n\n<｜DSML｜function_calls>', 'chat', { error: 'Tool call format error' }],
  [
    'Need weather for two cities.</think>Checking both.\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="location" string="true">Paris</｜DSML｜parameter>\n<｜DSML｜parameter name="unit" string="true">celsius</｜DSML｜parameter>\n</｜DSML｜invoke>\n<｜DSML｜invo',
    'chat',
    { error: 'Tool call format error' },
  ],
  ['', 'thinking', { error: 'Invalid thinking format' }],
  [
    '\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke >\nname="get_weather">\n<｜DSML｜parameter name="location" string="true">Rome</｜DSML｜parameter>\n</｜DSML｜"invoke>\n</｜DSML｜function_calls>',
    'thinking',
    { error: 'Invalid thinking format' },
  ],
  [
    '</think>Jhe answer.><｜end▁of▁sentence｜>',
    'thinking',
    { content: 'Jhe answer.>', reasoning: '', toolCalls: [] },
  ],
  [
    'Need weather for two cities.</think>Checking both.\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="location" string="true">Paris</｜DSML｜parameter>\n<｜DSML｜parameter name="unit" string="true">celsius</｜DSML｜parameter>\n</｜DSML｜invoke',
    'thinking',
    {
      content: 'Checking both.',
      reasoning: 'Need weather for two cities.',
      toolCalls: [['get_weather', '{"location": "Paris", "unit": "celsius"}']],
    },
  ],
  ['</think>', 'thinking', { error: 'Invalid summary format' }],
  ['The user asks 2+2. That is 4.</think>The answer is ', 'thinking', { error: 'Invalid summary format' }],
  [
    '用户想知道天气。🤔</think>好的 👍\n\n<｜DSML｜function_calls>',
    'thinking',
    { error: 'Tool call format error' },
  ],
  [
    '用户想知道天气。🤔</think>好的 👍\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="search_web">\n<｜DSML｜parameter name="query" string="true">北京 天气\nline two: a<b && c>d</｜DSML｜parameter>\n<｜DSML｜parameter name="filters" string="false">{"lang": "中文", "tags": ["☀️", null]}</｜DSML｜parameter>\n</｜DSML｜invoke>\n<｜DSML｜invoke name="get_time">\n\n</｜DSML｜invoke>\n</｜DSML｜func',
    'thinking',
    { error: 'Tool call format error' },
  ],
  [
    '</think>Just the a<think>nswer.<｜end▁of▁sentence｜>',
    'thinking',
    { error: 'Unexpected special token in content' },
  ],
  [
    'The user asks 2+2. Tha<｜DSML｜parameter name="k" string="true">v</｜DSML｜parameter>\nt is 4.</think>The<😀｜end▁of▁sentence｜> answer is 4.<｜end▁of▁sentence｜>',
    'thinking',
    { error: 'Unexpected special token in content' },
  ],
  [
    'The user asks 2+2. That is 4.</think>>The answers 4.<｜end▁of▁sent\n\n<｜DSML｜function_calls>\n</｜DSML｜function_calls>ence｜>',
    'chat',
    { error: 'Unexpected content after tool calls' },
  ],
  [
    '用户想知道天气。🤔</think>好的 👍\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="search_web">\n<｜DSML｜parameter name="query" string="true">北京 天气\nline two: a<b && c>d</｜DSML｜parameter>\n<｜DSML｜parameter name="filters" string="false">{"lang": "中文", "tags": ["☀️", null]}</｜DSML｜parameter>\n</｜DSML｜invoke>\n<｜DSML｜invoke name="get_time">\n\n</｜DSML｜invoke>\n</｜DSML｜function_calls><｜end▁of▁sentence｜',
    'chat',
    { error: 'Unexpected content after tool calls' },
  ],
  [
    '</think>Just th"e answer.<｜end▁of▁sentence｜>\u0085',
    'thinking',
    { error: 'Unexpected content at end' },
  ],
  [
    'The user asks 2+2. That is 4.</think>The answe<｜end▁of▁sentence｜>r is 4.<｜end▁of▁sentence｜>',
    'thinking',
    { error: 'Unexpected content at end' },
  ],
  ['\n\n<｜DSML｜function_calls>\n', 'chat', { error: 'Missing special token' }],
  [
    'I\'ll check the weather.\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="location" string="true">Paris</｜DSML｜parameter>\n<｜DSML｜parameter name="days" string="false">3</｜DSML｜parameter>\n</｜DSML｜invoke>\n',
    'chat',
    { error: 'Missing special token' },
  ],
  ['\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke', 'chat', { error: 'Tool name format error' }],
  [
    '\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=</｜DSML｜invoke>\n"get_weather">\n<｜DSML｜parameter name="location" string="true">Rome</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>',
    'chat',
    { error: 'Tool name format error' },
  ],
  [
    '\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="search_web">\n<｜DSML｜parameter',
    'chat',
    { error: 'Parameter format error' },
  ],
  [
    '用户想知道天气。🤔</think>好的 👍\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="search_web">\n<｜DSML｜parameter name="query" string="true">北京 天气\nline two: a<b && c>d</｜DSML｜parameter>\n<｜DSML｜parameter name="filters" string="false">{"lang": "中文", "tags": ["☀️", null]}</',
    'chat',
    { error: 'Parameter format error' },
  ],
  [
    '用户想知道天气。🤔</think>好的 👍\n\n<｜DSML｜function_calls>\n',
    'thinking',
    { error: 'Missing special token' },
  ],
  [
    '用户想知道天气。🤔</think>好的 👍\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="search_web">\n<｜DSML｜parameter name="query" string="true">北京 天气\nline two: a<b && c>d</｜DSML｜parameter>\n<｜DSML｜parameter name="filters" string="false">{"lang": "中文", "tags": ["☀️", null]}</｜DSML｜parameter>\n</｜DSML｜invoke>\n',
    'thinking',
    { error: 'Missing special token' },
  ],
  [
    '用户想知道天气。🤔</think>好的 👍\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke',
    'thinking',
    { error: 'Tool name format error' },
  ],
  [
    'Need weather for two cities.</think>Checking both.\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="location" string="true">Paris</｜DSML｜parameter>\n<｜DSML｜parameter name="unit" string="true">celsius</｜DSML｜parameter>\n</｜DSML｜invoke>\n<｜DSML｜invoke name="get_weather"',
    'thinking',
    { error: 'Tool name format error' },
  ],
  [
    '用户想知道天气。🤔</think>好的 👍\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="search_web">\n<｜DSML｜parameter',
    'thinking',
    { error: 'Parameter format error' },
  ],
  [
    'Need weather for two cities.</think>Checking both.\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="location" string="true">Paris</｜DSML｜parameter>\n<｜DSML｜parameter name="unit" string="true">celsius</｜DSML｜parameter>\n</｜DSML｜',
    'thinking',
    { error: 'Parameter format error' },
  ],
  [
    '用户想知道天气。🤔</think>好的 👍\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="search_web">\n<｜DSML｜parameter name="query" string="true">北京 天气\nline two: a<b && c>d</｜DSML｜parameter>\n<｜DSML｜parameter name="filters" string="false">{"lang": "中文", "tags": ["☀️", null]}</｜DSML｜parameter>\n</｜DSML｜invoke>\n<｜DSML｜invoke name="get_time">\n\n</｜DSML｜invoke>\n</｜DSML｜function_calls><',
    'thinking',
    { error: 'Unexpected content after tool calls' },
  ],
  [
    'Need weather for two cities.</think>Checking both.\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="location" string="true">Paris</｜DSML｜parameter>\n<｜DSML｜parameter name="unit" string="true">celsius</｜DSML｜parameter>\n</｜DSML｜invoke>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="location" string="true">Berlin</｜DSML｜parameter>\n<｜DSML｜parameter name="days" string="false">2</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls><',
    'thinking',
    { error: 'Unexpected content after tool calls' },
  ],
  ['abc', 'chat', { error: 'Invalid summary format' }],
  ['abc<｜end▁of▁sentence｜>x', 'chat', { error: 'Unexpected content at end' }],
  [
    '\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="x">\n',
    'chat',
    { content: '', reasoning: '', toolCalls: [['x', '{}']] },
  ],
  [
    '\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="x">\n</｜DSML｜invoke',
    'chat',
    { content: '', reasoning: '', toolCalls: [['x', '{}']] },
  ],
  [
    '\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="x">\n<｜DSML｜parameter name="a" string="true">1<\n/｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>',
    'chat',
    { content: '', reasoning: '', toolCalls: [['x', '{"a": "1"}']] },
  ],
  [
    '\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke \u2003\u0085name="a">\n\n</｜DSML｜invoke>\n</｜DSML｜function_calls>',
    'chat',
    { content: '', reasoning: '', toolCalls: [['a', '{}']] },
  ],
  [
    '\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke \ufeffname="a">\n\n</｜DSML｜invoke>\n</｜DSML｜function_calls>',
    'chat',
    { error: 'Tool name format error' },
  ],
  [
    '\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke \u001cname="a">\n\n</｜DSML｜invoke>\n</｜DSML｜function_calls>',
    'chat',
    { error: 'Tool name format error' },
  ],
  ['x</think>y<｜end▁of▁sentence｜>', 'chat', { error: 'Unexpected special token in content' }],
  ['x</think>y<｜end▁of▁sentence｜>', 'thinking', { content: 'y', reasoning: 'x', toolCalls: [] }],
  ['</think></think><｜end▁of▁sentence｜>', 'chat', { error: 'Unexpected special token in content' }],
  ['</think></think><｜end▁of▁sentence｜>', 'thinking', { error: 'Unexpected special token in content' }],
];

describe('parseMessageFromCompletionText', () => {
  it('has the 8 fixture cases', () => {
    expect(fixture.parse_cases).toHaveLength(8);
  });

  it.each(fixture.parse_cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const result = parseMessageFromCompletionText(c.text, c.thinking_mode);
    expect(result).toEqual(c.result);
    // Arguments strings compare exactly (", " and ": " separators).
    expect(result.tool_calls.map((t) => t.function.arguments)).toEqual(
      c.result.tool_calls.map((t) => t.function.arguments),
    );
  });

  it.each(REFERENCE_EDGE_CASES.map(([text, mode, expected], i) => [i, text, mode, expected] as const))(
    'edge case %i matches the reference',
    (_, text, mode, expected) => {
      if ('error' in expected) {
        expect(() => parseMessageFromCompletionText(text, mode)).toThrow(Dsv32ParseError);
        expect(() => parseMessageFromCompletionText(text, mode)).toThrow(expected.error);
        for (const size of [1, 3, text.length || 1])
          expect(() => streamParse(text, mode, size)).toThrow(expected.error);
      } else {
        const r = parseMessageFromCompletionText(text, mode);
        expect(r).toEqual({
          role: 'assistant',
          content: expected.content,
          reasoning_content: expected.reasoning,
          reasoning: expected.reasoning,
          tool_calls: expected.toolCalls.map(([name, args]) => ({
            type: 'function',
            function: { name, arguments: args },
          })),
        });
        for (const size of [1, 3, text.length || 1]) expect(streamParse(text, mode, size)).toEqual(r);
      }
    },
  );
});
