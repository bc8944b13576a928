import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEEPSEEK_V3_TOKENIZER_DIR,
  loadDeepseekV3Tokenizer,
  readTokenizerFixture,
} from './test-tokenizer.js';
import { Tokenizer } from './tokenizer.js';
import { TokenizerError } from './tokenizer-error.js';

const fixture = await readTokenizerFixture();
const modelDir = DEEPSEEK_V3_TOKENIZER_DIR;
const tok = await loadDeepseekV3Tokenizer();

describe('Tokenizer on the DeepSeek-V3 fixture', () => {
  it('has 28 encode cases and 6 chat cases', () => {
    expect(fixture.encode).toHaveLength(28);
    expect(fixture.chat).toHaveLength(6);
  });

  it.each(fixture.encode.map((c, i) => [i, c] as const))(
    'case %i: ids match the Python tokenizers reference',
    (_, c) => {
      expect(tok.encode(c.text)).toEqual(c.ids);
      expect(tok.encode(c.text, { addSpecialTokens: false })).toEqual(c.ids);
    },
  );

  it.each(fixture.encode.map((c, i) => [i, c] as const))('case %i: decode round-trips exactly', (_, c) => {
    expect(tok.decode(c.ids)).toBe(c.decoded);
    expect(c.decoded).toBe(c.text);
  });

  it('prepends BOS (add_bos_token: true) with addSpecialTokens', () => {
    for (const c of fixture.encode) {
      expect(tok.encode(c.text, { addSpecialTokens: true })).toEqual([fixture.meta.bos_id, ...c.ids]);
    }
  });

  it('reports vocabulary size, BOS/EOS and the config flags', () => {
    expect(tok.vocabSize).toBe(fixture.meta.vocab_size_with_added);
    expect(tok.bosTokenId).toBe(fixture.meta.bos_id);
    expect(tok.eosTokenId).toBe(fixture.meta.eos_id);
    expect(tok.bosToken).toBe('<｜begin▁of▁sentence｜>');
    expect(tok.eosToken).toBe('<｜end▁of▁sentence｜>');
    expect(tok.addBosToken).toBe(true);
    expect(tok.addEosToken).toBe(false);
    expect(tok.isByteLevel).toBe(true);
    expect(tok.chatTemplate).toBeTypeOf('string');
    expect(tok.chatTemplate).toHaveLength(2145);
  });

  it('maps special tokens to single ids and back', () => {
    const table: [number, string][] = [
      [0, '<｜begin▁of▁sentence｜>'],
      [1, '<｜end▁of▁sentence｜>'],
      [2, '<｜▁pad▁｜>'],
      [128000, '<｜place▁holder▁no▁0｜>'],
      [128800, '<｜fim▁hole｜>'],
      [128803, '<｜User｜>'],
      [128804, '<｜Assistant｜>'],
      [128805, '<|EOT|>'],
      [128806, '<｜tool▁calls▁begin｜>'],
      [128814, '<｜tool▁sep｜>'],
    ];
    for (const [id, text] of table) {
      expect(tok.tokenToId(text)).toBe(id);
      expect(tok.idToToken(id)).toBe(text);
      expect(tok.encode(text)).toEqual([id]);
      expect(tok.decode([id])).toBe(text);
    }
    expect(tok.encode('<｜User｜>hi<｜Assistant｜>')).toEqual([128803, 6366, 128804]);
    expect(tok.tokenToId('no such token')).toBeUndefined();
    expect(tok.idToToken(200000)).toBeUndefined();
  });

  it('tokenizes rendered chat prompts with one BOS from the text', () => {
    const ids = tok.encode(fixture.chat[0]!.rendered);
    expect(ids.slice(0, 2)).toEqual([0, 128803]);
    expect(ids.filter((id) => id === 0)).toHaveLength(1);
    expect(ids.at(-1)).toBe(128804);
    expect(tok.decode(ids)).toBe(fixture.chat[0]!.rendered);
  });

  it('skips special tokens on request and ignores ids outside the vocabulary', () => {
    const ids = [0, 128803, 19923, 14, 2058, 3, 128804, 1];
    expect(tok.decode(ids)).toBe(
      '<｜begin▁of▁sentence｜><｜User｜>Hello, world!<｜Assistant｜><｜end▁of▁sentence｜>',
    );
    // <｜User｜> and <｜Assistant｜> are added tokens but not marked special.
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('<｜User｜>Hello, world!<｜Assistant｜>');
    expect(tok.isSpecialId(0)).toBe(true);
    expect(tok.isSpecialId(128803)).toBe(false);
    expect(tok.decode([])).toBe('');
    expect(tok.decode([19923, 129000, 129279])).toBe('Hello');
  });

  it('decodes a lone piece of a multi-byte character to U+FFFD', () => {
    const ids = fixture.encode.find((c) => c.text.startsWith('한국어'))!.ids;
    const partial = ids.find((id) => tok.decode([id]).includes('\ufffd'));
    expect(partial).toBeDefined();
  });
});

describe('Tokenizer loading', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dsa-tokenizer-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fromJson accepts parsed objects and JSON text', async () => {
    const tjText = await readFile(join(modelDir, 'tokenizer.json'), 'utf8');
    const cfgText = await readFile(join(modelDir, 'tokenizer_config.json'), 'utf8');
    const a = Tokenizer.fromJson(JSON.parse(tjText), JSON.parse(cfgText));
    const b = Tokenizer.fromJson(tjText, cfgText);
    expect(a.encode('Hello, world!')).toEqual([19923, 14, 2058, 3]);
    expect(b.encode('Hello, world!')).toEqual([19923, 14, 2058, 3]);
  });

  it('names the missing file', async () => {
    const err = await Tokenizer.fromFolder(join(dir, 'nowhere')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenizerError);
    expect((err as TokenizerError).message).toMatch(/tokenizer(_config)?\.json/);
    expect((err as TokenizerError).file).toMatch(/nowhere/);
  });

  it('names the file that is not valid JSON', async () => {
    await writeFile(join(dir, 'tokenizer.json'), await readFile(join(modelDir, 'tokenizer.json')));
    await writeFile(join(dir, 'tokenizer_config.json'), '{ "add_bos_token": tru');
    const err = await Tokenizer.fromFolder(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenizerError);
    expect((err as TokenizerError).file).toBe(join(dir, 'tokenizer_config.json'));
    expect((err as TokenizerError).message).toContain('tokenizer_config.json is not valid JSON');
  });

  it('rejects JSON that is not a tokenizer', async () => {
    await writeFile(join(dir, 'tokenizer.json'), '{"version": "1.0"}');
    await writeFile(join(dir, 'tokenizer_config.json'), '{}');
    const err = await Tokenizer.fromFolder(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenizerError);
    expect((err as TokenizerError).message).toContain('does not describe a tokenizer');
    expect(() => Tokenizer.fromJson([], {})).toThrow(TokenizerError);
  });
});
