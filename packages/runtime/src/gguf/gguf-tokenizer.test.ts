import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import { isDeepseekV3PreTokenizer, tokenizerToGguf } from './gguf-tokenizer.js';

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
