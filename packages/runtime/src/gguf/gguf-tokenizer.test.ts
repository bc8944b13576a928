import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import { GgufFile } from './gguf-file.js';
import { isDeepseekV3PreTokenizer, tokenizerFromGguf, tokenizerToGguf } from './gguf-tokenizer.js';
import { writeGguf } from './gguf-writer.js';

const TINY_CHAT = resolve(import.meta.dirname, '../../../../fixtures/tiny-chat');

async function tinyChat(): Promise<{ json: Record<string, unknown>; config: Record<string, unknown> }> {
  const [json, config] = await Promise.all(
    ['tokenizer.json', 'tokenizer_config.json'].map(async (f) =>
      JSON.parse(await readFile(join(TINY_CHAT, f), 'utf8')),
    ),
  );
  return { json, config };
}

describe('tokenizerToGguf: the pre-tokenizer', () => {
  it("names DeepSeek-V3's split deepseek-v3", async () => {
    const { json, config } = await tinyChat();
    expect(isDeepseekV3PreTokenizer(json.pre_tokenizer)).toBe(true);
    expect(tokenizerToGguf(json, config, 1024, 'tokenizer.json').get('tokenizer.ggml.pre')?.value).toBe(
      'deepseek-v3',
    );
  });

  it('refuses another split, which llama.cpp would apply differently', async () => {
    const { json, config } = await tinyChat();
    const pre = structuredClone(json.pre_tokenizer) as { pretokenizers: { pattern?: { Regex: string } }[] };
    pre.pretokenizers[0]!.pattern!.Regex = '\\p{N}+';
    expect(isDeepseekV3PreTokenizer(pre)).toBe(false);
    expect(isDeepseekV3PreTokenizer({ type: 'ByteLevel', add_prefix_space: false })).toBe(false);
    const convert = () => tokenizerToGguf({ ...json, pre_tokenizer: pre }, config, 1024, 'tokenizer.json');
    expect(convert).toThrow(CheckpointError);
    expect(convert).toThrow(/pre_tokenizer.*deepseek-v3/);
  });
});

describe('GGUF tokenizer round trip', () => {
  it('keeps tokens spelled like Object.prototype members (__proto__, constructor) in the vocabulary', async () => {
    const { json } = await tinyChat();
    const vocab = JSON.parse('{"a": 0, "b": 1, "ab": 2, "__proto__": 3, "constructor": 4, "toString": 5}');
    const tokenizerJson = {
      model: { type: 'BPE', vocab, merges: ['a b'] },
      pre_tokenizer: json.pre_tokenizer,
      decoder: { type: 'ByteLevel' },
      added_tokens: [],
    };
    const dir = await mkdtemp(join(tmpdir(), 'dsa-gguf-tok-'));
    try {
      const path = join(dir, 'tok.gguf');
      const metadata = tokenizerToGguf(tokenizerJson, {}, 6, 'tokenizer.json');
      metadata.set('general.architecture', { type: 'string', value: 'deepseek32' });
      await writeGguf(path, metadata, []);
      await using file = await GgufFile.open(path);
      const model = tokenizerFromGguf(file).tokenizerJson.model as { vocab: Record<string, number> };
      expect(Object.entries(model.vocab)).toEqual(Object.entries(vocab));
      expect(Object.hasOwn(model.vocab, '__proto__')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
