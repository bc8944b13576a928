// The same request gives bit-identical logits whether it runs alone or batched with others, and from run
// to run: no reduction order may depend on batch composition or thread timing.
import path from 'node:path';
import { DeepseekModel } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import cpuBackendFactory from './index.js';

const dir = path.resolve(import.meta.dirname, '../../../fixtures/tiny');
const prompt = (seed: number, n: number) =>
  Array.from({ length: n }, (_, i) => (seed * 131 + i * 37 + 11) % 1024);

/** Prefill then 4 decode steps of `target`, optionally alongside other sequences; returns every logits row of target. */
async function run(model: DeepseekModel, withOthers: boolean): Promise<Float32Array[]> {
  const target = model.cache.createSequence();
  const others = withOthers ? [model.cache.createSequence(), model.cache.createSequence()] : [];
  const rows: Float32Array[] = [];
  const vocab = model.config.vocabSize;
  let next = [prompt(1, 40), ...others.map((_, i) => prompt(i + 2, 17 + 9 * i))];
  for (let step = 0; step < 5; step++) {
    const result = await model.forward([
      { sequence: target, tokens: next[0]! },
      ...others.map((s, i) => ({ sequence: s, tokens: next[i + 1]! })),
    ]);
    const all = new Float32Array(result.logits.shape[0]! * vocab);
    await model.backend.download(result.logits, all);
    rows.push(all.slice(0, vocab));
    next = next.map((_, i) => [(step * 17 + i * 5) % 1024]);
  }
  for (const s of [target, ...others]) model.cache.release(s);
  return rows;
}

describe('determinism on the cpu backend', () => {
  it('bit-identical logits alone, batched with other sequences, and across runs', async () => {
    const backend = await cpuBackendFactory.create();
    const model = await DeepseekModel.load(backend, dir, { cacheTokens: 1024 });
    const alone = await run(model, false);
    const again = await run(model, false);
    const batched = await run(model, true);
    for (let step = 0; step < alone.length; step++) {
      expect(
        Buffer.from(again[step]!.buffer).equals(Buffer.from(alone[step]!.buffer)),
        `run to run, step ${step}`,
      ).toBe(true);
      expect(
        Buffer.from(batched[step]!.buffer).equals(Buffer.from(alone[step]!.buffer)),
        `batched vs alone, step ${step}`,
      ).toBe(true);
    }
    model.dispose();
  });
});
