import { describe, expect, it } from 'vitest';
import { loadDeepseekV3Tokenizer, readTokenizerFixture } from '../tokenizer/test-tokenizer.js';
import { ChatTemplate, renderChatTemplate } from './jinja-template.js';

const fixture = await readTokenizerFixture();
const tok = await loadDeepseekV3Tokenizer();

describe('ChatTemplate with the DeepSeek-V3 tokenizer_config.json template', () => {
  it('has 6 fixture renderings', () => {
    expect(fixture.chat).toHaveLength(6);
  });

  it.each(fixture.chat.map((c, i) => [i, c] as const))('rendering %i matches transformers', (_, c) => {
    const template = new ChatTemplate(tok.chatTemplate!, { bosToken: tok.bosToken, eosToken: tok.eosToken });
    const rendered = template.render({ messages: c.messages, addGenerationPrompt: c.add_generation_prompt });
    expect(rendered).toBe(c.rendered);
    // The same with the tokens passed at render time.
    expect(
      renderChatTemplate(tok.chatTemplate!, {
        messages: c.messages,
        addGenerationPrompt: c.add_generation_prompt,
        bosToken: '<｜begin▁of▁sentence｜>',
        eosToken: '<｜end▁of▁sentence｜>',
      }),
    ).toBe(c.rendered);
    // Tokenized with added tokens recognized: one BOS (from the text), User/Assistant as single ids.
    const ids = tok.encode(rendered);
    expect(ids[0]).toBe(0);
    expect(ids.filter((id) => id === 0)).toHaveLength(1);
    expect(ids.filter((id) => id === 128803)).toHaveLength(
      c.messages.filter((m) => m.role === 'user').length,
    );
    expect(tok.decode(ids)).toBe(rendered);
  });

  it('renders assistant tool calls (content null) the V3 way', () => {
    const rendered = new ChatTemplate(tok.chatTemplate!, { bosToken: tok.bosToken }).render({
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } },
          ],
        },
        { role: 'tool', content: '18C' },
      ],
      addGenerationPrompt: true,
    });
    expect(rendered).toBe(
      '<｜begin▁of▁sentence｜><｜User｜>Weather?<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function' +
        '<｜tool▁sep｜>get_weather\n```json\n{"city": "Paris"}\n```<｜tool▁call▁end｜>' +
        '<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>18C<｜tool▁output▁end｜><｜tool▁outputs▁end｜>',
    );
  });
});

describe('ChatTemplate variables', () => {
  // A V3.1 / V3.2-Exp style fragment: `thinking` and `tools` are optional and tested with `is defined`.
  const source =
    '{% if not thinking is defined %}{% set thinking = false %}{% endif %}{{ bos_token }}' +
    '{% if tools is defined %}{% for t in tools %}{{ t.function.name }}:{{ t.function | tojson }}\n{% endfor %}{% endif %}' +
    "{% for m in messages %}{% if m.role == 'user' %}<｜User｜>{{ m.content }}" +
    "{% elif m.role == 'assistant' %}<｜Assistant｜>{{ m.content.split('</think>')[-1] }}{{ eos_token }}{% endif %}{% endfor %}" +
    '{% if add_generation_prompt %}<｜Assistant｜>{% if thinking %}<think>{% else %}</think>{% endif %}{% endif %}';
  const template = new ChatTemplate(source, { bosToken: '<B>', eosToken: '<E>' });
  const messages = [
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'old thoughts</think>hello' },
    { role: 'user', content: 'again' },
  ];

  it('leaves thinking and tools undefined unless given', () => {
    expect(template.render({ messages, addGenerationPrompt: true })).toBe(
      '<B><｜User｜>hi<｜Assistant｜>hello<E><｜User｜>again<｜Assistant｜></think>',
    );
    expect(template.render({ messages, addGenerationPrompt: true, thinking: true })).toBe(
      '<B><｜User｜>hi<｜Assistant｜>hello<E><｜User｜>again<｜Assistant｜><think>',
    );
    expect(template.render({ messages })).toBe('<B><｜User｜>hi<｜Assistant｜>hello<E><｜User｜>again');
  });

  it('passes tools and extra variables through', () => {
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
    expect(template.render({ messages: [], tools, bosToken: '' })).toBe(
      'f:{"name": "f", "parameters": {"type": "object"}}\n',
    );
    expect(
      new ChatTemplate('{{ greeting }}, {{ name }}').render({
        messages: [],
        variables: { greeting: 'hi', name: 'x' },
      }),
    ).toBe('hi, x');
  });
});
