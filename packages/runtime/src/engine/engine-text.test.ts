import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { DeepseekModel } from '../model/deepseek-model.js';
import { DEEPSEEK_V3_TOKENIZER_DIR } from '../tokenizer/test-tokenizer.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { Engine } from './engine.js';
import type { GenerateEvent } from './generate-request.js';

const tokenizer = await Tokenizer.fromFolder(DEEPSEEK_V3_TOKENIZER_DIR);
const dir = path.resolve(import.meta.dirname, '../../../../fixtures/tiny');

async function run(engine: Engine, stopStrings?: string[]) {
  let text = '';
  let done: Extract<GenerateEvent, { type: 'done' }> | null = null;
  for await (const e of engine.generate({
    prompt: [5, 300, 77, 901, 12],
    maxTokens: 24,
    ignoreEos: true,
    ...(stopStrings ? { stopStrings } : {}),
  })) {
    if (e.type === 'token') text += e.text ?? '';
    else {
      done = e;
      text += e.text ?? '';
    }
  }
  return { text, done: done! };
}

describe('engine text output', () => {
  it('streams the decoded text and cuts it before a stop string', async () => {
    // The tiny model's ids (< 1024) are real DeepSeek-V3 tokens, so the decoded text is well defined.
    const model = await DeepseekModel.load(new ReferenceBackend(), dir, { cacheTokens: 256 });
    const engine = new Engine(model, { tokenizer });
    const full = await run(engine);
    expect(full.done.reason).toBe('length');
    expect(full.text.length).toBeGreaterThan(10);
    expect(full.text).toBe(tokenizer.decode(tokenizer.encode(full.text)));
    const stop = full.text.slice(Math.floor(full.text.length / 2), Math.floor(full.text.length / 2) + 3);
    const cut = await run(engine, [stop]);
    expect(cut.done.reason).toBe('stop');
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    await engine.close();
  });
});
