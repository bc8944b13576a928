import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatEncodingError } from './chat-encoding-error.js';
import type { ChatMessage, ThinkingMode } from './chat-message.js';
import { type EncodeMessagesOptions, encodeMessages } from './dsv32-encoding.js';
import { DSV32_TOKENS } from './dsv32-tokens.js';

interface EncodeCase {
  name: string;
  thinking_mode: ThinkingMode;
  messages: ChatMessage[];
  options: { context?: ChatMessage[]; drop_thinking?: boolean; add_default_bos_token?: boolean };
  prompt: string;
}

interface ChatFixture {
  meta: { special_tokens: Record<string, string>; counts: { encode_cases: number; parse_cases: number } };
  encode_cases: EncodeCase[];
}

const fixture = JSON.parse(
  await readFile(join(import.meta.dirname, '../../../../fixtures/chat/deepseek-v32-encoding.json'), 'utf8'),
) as ChatFixture;

function optionsOf(c: EncodeCase): EncodeMessagesOptions {
  const o: { -readonly [K in keyof EncodeMessagesOptions]: EncodeMessagesOptions[K] } = {
    thinkingMode: c.thinking_mode,
  };
  if (c.options.context !== undefined) o.context = c.options.context;
  if (c.options.drop_thinking !== undefined) o.dropThinking = c.options.drop_thinking;
  if (c.options.add_default_bos_token !== undefined) o.addDefaultBosToken = c.options.add_default_bos_token;
  return o;
}

const TOOLS = fixture.encode_cases.find((c) => c.name === 'system_tools_chat')!.messages[0]!.tools!;

describe('encodeMessages on the DeepSeek-V3.2 reference fixture', () => {
  it('covers all 21 cases and the same special tokens', () => {
    expect(fixture.encode_cases).toHaveLength(21);
    expect(fixture.meta.counts.encode_cases).toBe(21);
    expect(fixture.meta.special_tokens).toEqual({
      bos: DSV32_TOKENS.bos,
      eos: DSV32_TOKENS.eos,
      user: '<｜User｜>',
      assistant: '<｜Assistant｜>',
      thinking_start: DSV32_TOKENS.thinkingStart,
      thinking_end: DSV32_TOKENS.thinkingEnd,
      dsml: DSV32_TOKENS.dsml,
    });
  });

  it.each(fixture.encode_cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const prompt = encodeMessages(c.messages, optionsOf(c));
    // Code point for code point.
    expect([...prompt]).toEqual([...c.prompt]);
    expect(prompt).toBe(c.prompt);
  });

  it('does not modify the input messages', () => {
    const c = fixture.encode_cases.find((x) => x.name === 'thinking_drop_earlier_reasoning_keep_last')!;
    const before = JSON.stringify(c.messages);
    encodeMessages(c.messages, optionsOf(c));
    expect(JSON.stringify(c.messages)).toBe(before);
  });
});

describe('encodeMessages details', () => {
  const user = (content: string): ChatMessage => ({ role: 'user', content });

  it('re-serializes tool-call arguments as Python does (floats, key order, nesting)', () => {
    const prompt = encodeMessages(
      [
        user('go'),
        {
          role: 'assistant',
          content: '',
          tool_calls: [
            {
              type: 'function',
              function: {
                name: 'f',
                arguments:
                  '{"b":1.0,"2":1e-5,"1":[1E2,true,null],"s":"x\\ny","o":{"k":"中"},"big":12345678901234567890}',
              },
            },
          ],
        },
      ],
      { thinkingMode: 'chat' },
    );
    const P = (k: string, s: boolean, v: string): string =>
      `<｜DSML｜parameter name="${k}" string="${s}">${v}</｜DSML｜parameter>`;
    expect(prompt).toBe(
      `${DSV32_TOKENS.bos}<｜User｜>go<｜Assistant｜></think>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="f">\n` +
        [
          P('b', false, '1.0'),
          P('2', false, '1e-05'),
          P('1', false, '[100.0, true, null]'),
          P('s', true, 'x\ny'),
          P('o', false, '{"k": "中"}'),
          P('big', false, '12345678901234567890'),
        ].join('\n') +
        `\n</｜DSML｜invoke>\n</｜DSML｜function_calls>${DSV32_TOKENS.eos}`,
    );
  });

  it('accepts tool-call arguments given as an object', () => {
    const asText = encodeMessages(
      [
        user('go'),
        { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '{"a": 1, "b": "x"}' } }] },
      ],
      { thinkingMode: 'chat' },
    );
    const asObject = encodeMessages(
      [
        user('go'),
        { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: { a: 1, b: 'x' } } }] },
      ],
      { thinkingMode: 'chat' },
    );
    expect(asObject).toBe(asText);
  });

  it('renders a missing user content as None, like Python str.format', () => {
    expect(encodeMessages([{ role: 'user' }], { thinkingMode: 'chat', addDefaultBosToken: false })).toBe(
      '<｜User｜>None<｜Assistant｜></think>',
    );
  });

  it('uses `reasoning` over `reasoning_content` when both are set, after the last user turn only', () => {
    const prompt = encodeMessages(
      [user('q'), { role: 'assistant', content: 'a', reasoning: 'R1', reasoning_content: 'R2' }],
      { thinkingMode: 'thinking', addDefaultBosToken: false },
    );
    expect(prompt).toBe('<｜User｜>q<｜Assistant｜><think>R1</think>a<｜end▁of▁sentence｜>');
  });

  it('drops developer messages before the last user turn in thinking mode, as the reference does', () => {
    const msgs: ChatMessage[] = [{ role: 'developer', content: 'dev' }, user('u')];
    expect(encodeMessages(msgs, { thinkingMode: 'chat', addDefaultBosToken: false })).toBe(
      "<｜User｜>\n\n# The user's message is: dev<｜Assistant｜></think><｜User｜>u<｜Assistant｜></think>",
    );
    // drop_thinking filters the list it renders, so the developer turn disappears and indices shift.
    expect(() => encodeMessages(msgs, { thinkingMode: 'thinking' })).toThrow(ChatEncodingError);
    expect(
      encodeMessages(msgs, { thinkingMode: 'thinking', dropThinking: false, addDefaultBosToken: false }),
    ).toBe(
      "<｜User｜>\n\n# The user's message is: dev<｜Assistant｜></think><｜User｜>u<｜Assistant｜><think>",
    );
  });

  it('renders tools on a system message without content', () => {
    const prompt = encodeMessages([{ role: 'system', tools: TOOLS }, user('hi')], { thinkingMode: 'chat' });
    expect(prompt.startsWith(`${DSV32_TOKENS.bos}\n\n## Tools\n`)).toBe(true);
    expect(prompt.endsWith('</functions>\n<｜User｜>hi<｜Assistant｜></think>')).toBe(true);
  });

  it('throws where the reference asserts', () => {
    expect(() => encodeMessages([user('x')], { thinkingMode: 'fast' as ThinkingMode })).toThrow(
      /Invalid thinking_mode/,
    );
    expect(() => encodeMessages([{ role: 'developer', content: '' }], { thinkingMode: 'chat' })).toThrow(
      ChatEncodingError,
    );
    expect(() =>
      encodeMessages([user('x'), { role: 'tool', content: 'r' }], { thinkingMode: 'chat' }),
    ).toThrow(ChatEncodingError);
    expect(() =>
      encodeMessages([user('x'), { role: 'assistant', content: 'a' }, { role: 'tool', content: 'r' }], {
        thinkingMode: 'chat',
      }),
    ).toThrow('No tool calls but found tool output');
    expect(() =>
      encodeMessages([user('x'), { role: 'assistant', content: 'no reasoning' }], {
        thinkingMode: 'thinking',
      }),
    ).toThrow(/without reasoning_content\/tool_calls/);
    expect(() =>
      encodeMessages(
        [user('x'), { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '[1]' } }] }],
        {
          thinkingMode: 'chat',
        },
      ),
    ).toThrow('tool call arguments must be a JSON object');
    expect(() =>
      encodeMessages([{ role: 'robot' as 'user', content: 'x' }], { thinkingMode: 'chat' }),
    ).toThrow('Unknown role: robot');
  });
});
