import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel } from '@dsa/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvalSetting } from './eval-settings.js';
import { evalPerplexity, evalRecall } from './evaluate.js';
import { generateRecall } from './recall-data.js';

const tiny = path.resolve(import.meta.dirname, '../../../../fixtures/tiny');
const dense: EvalSetting = { attention: 'dense', selector: null, topk: null, policy: null };
const indexer: EvalSetting = {
  attention: 'sparse',
  selector: 'indexer',
  topk: 32,
  policy: { kind: 'fixed' },
};

/** Log-softmax NLL of `target` under `logits`. */
function nll(logits: Float32Array, target: number): number {
  const max = Math.max(...logits);
  let z = 0;
  for (const v of logits) z += Math.exp(v - max);
  return Math.log(z) + max - logits[target]!;
}

describe('the evaluator against direct forward passes (fixtures/tiny)', () => {
  const backend = new ReferenceBackend();
  let model: DeepseekModel;
  beforeAll(async () => {
    model = await DeepseekModel.load(backend, tiny, { cacheTokens: 4096 });
  });
  afterAll(() => model.dispose());

  async function forwardLogits(ids: number[], attention: 'sparse' | 'dense'): Promise<Float32Array> {
    const sequence = model.cache.createSequence();
    const result = await model.forward([{ sequence, tokens: ids }], {
      logits: 'all',
      selection: { attention },
    });
    const out = new Float32Array(ids.length * model.config.vocabSize);
    await backend.download(result.logits, out);
    model.cache.release(sequence);
    return out;
  }

  it('perplexity: non-overlapping windows, rows past index_topk, the same value as by hand', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => (i * 37 + 11) % 1000);
    const context = 96;
    for (const setting of [dense, indexer]) {
      const row = await evalPerplexity(model, ids, context, 32, setting);
      let sum = 0;
      let n = 0;
      for (let w = 0; w + context <= ids.length; w += context) {
        const window = ids.slice(w, w + context);
        const logits = await forwardLogits(window, setting.attention);
        for (let i = 32; i < context - 1; i++) {
          sum += nll(logits.subarray(i * 1024, (i + 1) * 1024), window[i + 1]!);
          n++;
        }
      }
      expect(row.n).toBe(n); // two windows of 63 scored tokens; the 8 tokens left over are not scored
      expect(n).toBe(126);
      expect(row.value).toBeCloseTo(Math.exp(sum / n), 3);
      expect(row.attended_tokens_mean).toBeCloseTo(setting.attention === 'dense' ? (33 + 95) / 2 : 32, 1);
      if (setting.attention === 'sparse') expect(row.indexer_recall!).toBeGreaterThan(0.3);
      else expect(row.indexer_recall).toBeNull();
    }
  });

  it('recall: accuracy is the share of right greedy predictions at position - 1', async () => {
    const data = generateRecall({ length: 60, pairs: 6, queries: 4, count: 5, seed: 2 });
    const row = await evalRecall(model, data, indexer);
    let right = 0;
    for (const s of data) {
      const logits = await forwardLogits(s.ids, 'sparse');
      for (const [position, token] of s.answers) {
        const r = logits.subarray((position - 1) * 1024, position * 1024);
        if (r.indexOf(Math.max(...r)) === token) right++;
      }
    }
    expect(row.n).toBe(20);
    expect(row.value).toBe(right / 20);
    expect(row.context).toBe(60);
    expect(row.attended_tokens_mean).toBe(32);
  });

  it('refuses a context that scores nothing', async () => {
    await expect(evalPerplexity(model, [1, 2, 3], 20, 32, dense)).rejects.toThrow(/must exceed index_topk/);
  });
});
