import * as fs from 'node:fs';
import * as path from 'node:path';
import { fuzzCorpus, fuzzSettings } from '@dsa/backend/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChatEncodingError } from '../chat/chat-encoding-error.js';
import { renderChatPrompt } from '../chat/chat-prompt.js';
import { DEEPSEEK_V3_TOKENIZER_DIR } from './test-tokenizer.js';
import { Tokenizer } from './tokenizer.js';
import { TokenizerError } from './tokenizer-error.js';

const settings = fuzzSettings();
const root = path.resolve(import.meta.dirname, '../../../..');
const corpus = path.join(root, 'tests/fuzz-corpus/tokenizer');
const read = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
const tokenizerJson = read(path.join(root, 'fixtures/tiny-chat/tokenizer.json'));
const tokenizerConfig = read(path.join(root, 'fixtures/tiny-chat/tokenizer_config.json'));
const v3Template = read(path.join(DEEPSEEK_V3_TOKENIZER_DIR, 'tokenizer_config.json'))
  .chat_template as string;

const junk = fc.oneof(
  fc.integer(),
  fc.constantFrom(null, true, -1, 2 ** 53, '', 'BPE', 'ByteLevel', [], {}),
  fc.string({ maxLength: 8 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Jinja-ish fragments, so that broken templates are near misses rather than plain text. */
const jinjaFragment = fc.oneof(
  fc.constantFrom(
    '{{',
    '}}',
    '{%',
    '%}',
    '{#',
    '#}',
    ' for ',
    ' endfor ',
    ' if ',
    ' endif ',
    ' else ',
    '|',
    '(',
    ')',
  ),
  fc.constantFrom(
    'messages',
    'message[',
    "['content']",
    'raise_exception(',
    'range(',
    'loop.',
    '"',
    "'",
    '\\',
  ),
  fc.string({ maxLength: 4 }),
);

/** A chat template: DeepSeek-V3's with fragments spliced in or cut out, or fragments alone. */
const template = fc.oneof(
  fc.tuple(fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), jinjaFragment), { maxLength: 3 })).map(([edits]) =>
    edits.reduce((t, [at, cut, text]) => {
      const i = at % (t.length + 1);
      return t.slice(0, i) + text + t.slice(i + cut);
    }, v3Template),
  ),
  fc.array(jinjaFragment, { maxLength: 12 }).map((parts) => parts.join('')),
);

/** tokenizer.json and tokenizer_config.json with a few fields broken. */
const files = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.constantFrom('model', 'added_tokens', 'pre_tokenizer', 'decoder', 'normalizer', 'post_processor'),
        fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
        junk,
      ),
      { maxLength: 2 },
    ),
    fc.array(
      fc.tuple(
        fc.constantFrom('bos_token', 'eos_token', 'add_bos_token', 'chat_template'),
        fc.oneof(junk, template),
      ),
      { maxLength: 2 },
    ),
    fc.option(template, { nil: undefined }),
  )
  .map(([tokenizerEdits, configEdits, chatTemplate]) => {
    const t = structuredClone(tokenizerJson);
    for (const [field, key, value] of tokenizerEdits) {
      const target = t[field];
      if (key !== undefined && typeof target === 'object' && target !== null && !Array.isArray(target))
        (target as Record<string, unknown>)[key] = value;
      else if (key !== undefined && Array.isArray(target) && target.length > 0)
        target[key.length % target.length] = value;
      else t[field] = value;
    }
    const c: Record<string, unknown> = structuredClone(tokenizerConfig);
    if (chatTemplate !== undefined) c.chat_template = chatTemplate;
    for (const [field, value] of configEdits) c[field] = value;
    return { tokenizer: t as unknown, config: c as unknown };
  });

const outcomes = { loaded: 0, refused: 0 };

/** Property: loads (and then encodes, decodes and renders a prompt) or throws a typed error naming the file. */
function check(input: { tokenizer: unknown; config: unknown }, text: string): void {
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromJson(input.tokenizer, input.config);
  } catch (error) {
    expect(error).toBeInstanceOf(TokenizerError);
    expect(['tokenizer.json', 'tokenizer_config.json']).toContain((error as TokenizerError).file);
    expect((error as TokenizerError).message).toContain((error as TokenizerError).file);
    outcomes.refused++;
    return;
  }
  outcomes.loaded++;
  const ids = tokenizer.encode(text);
  for (const id of ids) expect(Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize).toBe(true);
  expect(typeof tokenizer.decode(ids)).toBe('string');
  try {
    const prompt = renderChatPrompt(tokenizer, [{ role: 'user', content: text }], { thinking: 'chat' });
    expect(typeof prompt).toBe('string');
  } catch (error) {
    expect(error).toBeInstanceOf(ChatEncodingError);
  }
}

describe('Tokenizer.fromJson and chat templates on hostile files (property)', () => {
  it(
    'loads a working tokenizer or throws TokenizerError naming the file; prompts render or throw ChatEncodingError',
    () => {
      fc.assert(fc.property(files, fc.string({ maxLength: 24 }), check), {
        numRuns: settings.numRuns,
        seed: settings.seed,
      });
      expect(outcomes.loaded).toBeGreaterThan(settings.numRuns / 20);
      expect(outcomes.refused).toBeGreaterThan(settings.numRuns / 20);
    },
    settings.timeoutMs * 3,
  );

  for (const entry of fuzzCorpus(corpus)) {
    it(`corpus: ${entry.name}`, () => {
      const { tokenizer, config, text } = JSON.parse(Buffer.from(entry.bytes).toString('utf8'));
      check({ tokenizer, config }, text ?? 'hello');
    });
  }
});
