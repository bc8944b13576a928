// Checks a backend against a trainer golden (tools/train/dsa_train/golden.py): the engine must reproduce the
// trainer's own logits (sparse and dense), top-k selections and dense selected mass on the same ids.
import path from 'node:path';
import type { BackendFactory } from '@dsa/backend';
import { DeepseekModel, SafetensorsFile } from '@dsa/runtime';
import { expect } from 'vitest';
import { maxAbsDiff, readF32, readI32 } from './golden-helpers.js';

/** What {@link expectTrainerGolden} measured. */
export interface GoldenAgreement {
  readonly sparseMaxAbs: number;
  readonly denseMaxAbs: number;
  readonly massMaxAbs: number;
  readonly rowsCompared: number;
}

/**
 * Loads `dir` on a fresh backend of `factory` and compares it with the golden file (default
 * `dir/golden.safetensors`).
 */
export async function expectTrainerGolden(
  factory: BackendFactory,
  dir: string,
  tolerance = { logits: 2e-3, mass: 1e-4 },
  goldenFile = path.join(dir, 'golden.safetensors'),
): Promise<GoldenAgreement> {
  const backend = await factory.create();
  const golden = await SafetensorsFile.open(goldenFile);
  try {
    const ids = [...(await readI32(golden, 'ids'))];
    const topk = await readI32(golden, 'topk_indices');
    const margin = await readF32(golden, 'topk_margin');
    const mass = await readF32(golden, 'selected_mass');
    const measured: Record<string, number> = {};
    for (const attention of ['sparse', 'dense'] as const) {
      const model = await DeepseekModel.load(backend, dir, { attention, cacheTokens: 2 * ids.length + 64 });
      try {
        const sequence = model.cache.createSequence();
        const result = await model.forward([{ sequence, tokens: ids }], { logits: 'all', captureTopk: true });
        const logits = new Float32Array(ids.length * model.config.vocabSize);
        await backend.download(result.logits, logits);
        measured[attention] = maxAbsDiff(logits, await readF32(golden, `logits_${attention}`));
        expect(measured[attention]).toBeLessThan(tolerance.logits);
        if (attention === 'sparse') {
          // Rows whose k-th and (k+1)-th index scores are within 1e-5 may break the tie differently.
          const k = model.config.indexer!.indexTopk;
          let compared = 0;
          for (let row = 0; row < margin.length; row++) {
            if (!(margin[row]! > 1e-5)) continue;
            compared++;
            expect([...result.topk!.subarray(row * k, row * k + k)]).toEqual([
              ...topk.subarray(row * k, row * k + k),
            ]);
          }
          // Most rows past index_topk have a clear margin; the comparison must cover them.
          expect(compared).toBeGreaterThan(margin.length / 2);
          measured.rows = compared;
        } else {
          const rows = Array.from({ length: ids.length }, (_, i) => i);
          const probed = await model.forward([{ sequence: model.cache.createSequence(), tokens: ids }], {
            logits: 'last',
            probe: { rows },
          });
          measured.mass = maxAbsDiff(probed.probe!.selectedMass, mass);
          expect(measured.mass).toBeLessThan(tolerance.mass);
        }
      } finally {
        model.dispose();
      }
    }
    return {
      sparseMaxAbs: measured.sparse!,
      denseMaxAbs: measured.dense!,
      massMaxAbs: measured.mass!,
      rowsCompared: measured.rows!,
    };
  } finally {
    await golden.close();
    backend.dispose();
  }
}
