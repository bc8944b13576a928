// Selection settings: the index top-k override, adaptive top-k policies, the control selectors, and the
// attention probe, checked against identities that must hold whatever the weights.
import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel, type ForwardOptions } from '@dsa/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff } from './golden-helpers.js';

const dir = path.resolve(import.meta.dirname, '../fixtures/tiny');
const tokens = Array.from({ length: 60 }, (_, i) => (i * 97 + 5) % 1024);

describe('selection settings (fixtures/tiny, index_topk 32)', () => {
  let model: DeepseekModel;
  const backend = new ReferenceBackend();
  beforeAll(async () => {
    model = await DeepseekModel.load(backend, dir, { cacheTokens: 256 });
  });
  afterAll(() => model.dispose());

  async function run(options: ForwardOptions) {
    const sequence = model.cache.createSequence();
    try {
      const result = await model.forward([{ sequence, tokens }], { logits: 'all', ...options });
      const logits = new Float32Array(tokens.length * model.config.vocabSize);
      await backend.download(result.logits, logits);
      return { logits, probe: result.probe, topk: result.topk };
    } finally {
      model.cache.release(sequence);
    }
  }

  it('k at least the context is dense attention, for every selector', async () => {
    const dense = await run({ selection: { attention: 'dense' } });
    for (const selector of ['indexer', 'window', 'random'] as const) {
      const all = await run({ selection: { indexTopk: 64, selector } });
      expect(maxAbsDiff(all.logits, dense.logits)).toBeLessThan(1e-5);
    }
  });

  it('mass:1 and a large entropy factor equal fixed; mass:P attends to fewer positions', async () => {
    const fixed = await run({ probe: { rows: [59] } });
    const full = await run({ selection: { topkPolicy: { kind: 'mass', p: 1 } } });
    const wide = await run({ selection: { topkPolicy: { kind: 'entropy', c: 1000 } } });
    expect(maxAbsDiff(full.logits, fixed.logits)).toBeLessThan(1e-6);
    expect(maxAbsDiff(wide.logits, fixed.logits)).toBeLessThan(1e-6);
    const half = await run({ selection: { topkPolicy: { kind: 'mass', p: 0.5 } }, probe: { rows: [59] } });
    expect([...fixed.probe!.attended]).toEqual([32, 32, 32, 32]);
    for (const n of half.probe!.attended) {
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(32);
    }
    expect(maxAbsDiff(half.logits, fixed.logits)).toBeGreaterThan(1e-4);
  });

  it('the window selector attends to exactly the last k positions', async () => {
    const { topk } = await run({ selection: { selector: 'window', indexTopk: 8 }, captureTopk: true });
    const row = 59;
    for (let layer = 0; layer < model.config.nLayers; layer++) {
      const base = (layer * tokens.length + row) * 8;
      expect([...topk!.subarray(base, base + 8)]).toEqual([52, 53, 54, 55, 56, 57, 58, 59]);
    }
  });

  it('the probe: selected mass is 1 when every position fits, below 1 and above k/T-ish otherwise', async () => {
    const probe = (await run({ selection: { attention: 'dense' }, probe: { rows: [10, 59] } })).probe!;
    // row 10 sees 11 positions: all selected; row 59 sees 60, 32 selected.
    for (let layer = 0; layer < model.config.nLayers; layer++) {
      expect(probe.selectedMass[layer * 2]).toBeCloseTo(1, 5);
      expect(probe.selectedMass[layer * 2 + 1]!).toBeLessThan(1);
      expect(probe.selectedMass[layer * 2 + 1]!).toBeGreaterThan(0.3);
      expect(probe.attended[layer * 2]).toBe(11);
      expect(probe.attended[layer * 2 + 1]).toBe(60); // dense attention attends to every position
    }
    // The window of the last 32 positions holds less or more mass, but a different amount.
    const window = (
      await run({ selection: { attention: 'dense', selector: 'window' }, probe: { rows: [59] } })
    ).probe!;
    expect(window.selectedMass[0]).not.toBeCloseTo(probe.selectedMass[1]!, 4);
  });
});
