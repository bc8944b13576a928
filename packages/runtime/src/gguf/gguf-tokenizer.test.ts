import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GgufFile } from './gguf-file.js';
import { tokenizerFromGguf, tokenizerToGguf } from './gguf-tokenizer.js';
import { writeGguf } from './gguf-writer.js';

describe('GGUF tokenizer round trip', () => {
  it('keeps tokens spelled like Object.prototype members (__proto__, constructor) in the vocabulary', async () => {
    const vocab = JSON.parse('{"a": 0, "b": 1, "ab": 2, "__proto__": 3, "constructor": 4, "toString": 5}');
    const tokenizerJson = {
      model: { type: 'BPE', vocab, merges: ['a b'] },
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
