// The fp8 indexer (DeepSeek's reference path: Hadamard rotation, e4m3 with power-of-two scales)
// against the fixture's float32 selections: the sets must overlap by at least 90% on average over
// the rows where selection matters (more causal candidates than index_topk).
import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel, SafetensorsFile } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');

describe('fp8 indexer', () => {
  for (const fixture of ['tiny', 'tiny-fp8']) {
    it(`${fixture}: top-k overlap with the fp32 reference on the 130-token prompt`, async () => {
      const dir = path.join(FIXTURES, fixture);
      const reference = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
      const idsBytes = await reference.read('prompt130.input_ids');
      const ids = new Int32Array(idsBytes.buffer, idsBytes.byteOffset, 130);
      const expectedBytes = await reference.read('prompt130.topk_indices');
      const expected = new Int32Array(
        expectedBytes.buffer,
        expectedBytes.byteOffset,
        expectedBytes.byteLength / 4,
      );
      const model = await DeepseekModel.load(new ReferenceBackend(), dir, {
        indexer: 'fp8',
        cacheTokens: 256,
      });
      const k = model.config.indexer!.indexTopk;
      const sequence = model.cache.createSequence();
      const result = await model.forward([{ sequence, tokens: ids }], { captureTopk: true });
      const overlaps: number[] = [];
      for (let layer = 0; layer < model.config.nLayers; layer++) {
        for (let s = k; s < 130; s++) {
          const row = (layer * 130 + s) * k;
          const ours = new Set(result.topk!.subarray(row, row + k));
          const theirs = expected.subarray(row, row + k);
          expect(ours.has(-1)).toBe(false);
          overlaps.push(theirs.filter((t) => ours.has(t)).length / k);
        }
      }
      const mean = overlaps.reduce((a, b) => a + b, 0) / overlaps.length;
      const min = Math.min(...overlaps);
      console.log(
        `${fixture} fp8 indexer: mean top-k overlap ${(mean * 100).toFixed(2)}%, min ${(min * 100).toFixed(2)}% over ${overlaps.length} rows`,
      );
      expect(mean).toBeGreaterThanOrEqual(0.9);
      model.dispose();
    });
  }
});
