// The attention A/B switch: dense MLA over every cached position equals DSA while every causal position
// fits in index_topk, and differs once selection drops positions.
import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';

const dir = path.resolve(import.meta.dirname, '../fixtures/tiny');

async function logits(attention: 'sparse' | 'dense', tokens: number[]): Promise<Float32Array> {
  const backend = new ReferenceBackend();
  const model = await DeepseekModel.load(backend, dir, { attention, cacheTokens: 256 });
  const sequence = model.cache.createSequence();
  const result = await model.forward([{ sequence, tokens }], { logits: 'all' });
  const out = new Float32Array(tokens.length * model.config.vocabSize);
  await backend.download(result.logits, out);
  model.dispose();
  return out;
}

describe('attention modes', () => {
  const tokens = Array.from({ length: 60 }, (_, i) => (i * 97 + 5) % 1024);
  it('dense and sparse agree on the first index_topk positions and differ after', async () => {
    const sparse = await logits('sparse', tokens);
    const dense = await logits('dense', tokens);
    const vocab = 1024;
    const rowDiff = (row: number) => {
      let max = 0;
      for (let i = 0; i < vocab; i++)
        max = Math.max(max, Math.abs(sparse[row * vocab + i]! - dense[row * vocab + i]!));
      return max;
    };
    for (let row = 0; row < 32; row++) expect(rowDiff(row)).toBeLessThan(1e-5); // every causal position selected
    const later = Array.from({ length: 28 }, (_, i) => rowDiff(32 + i));
    expect(Math.max(...later)).toBeGreaterThan(1e-3); // positions were dropped
  });
});
