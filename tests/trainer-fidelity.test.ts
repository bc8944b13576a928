// The fidelity link between the trainer (tools/train, PyTorch) and the engine: a toy model trained through
// all three phases of the recipe is exported, and every backend must reproduce the trainer's own logits
// (sparse and dense) and top-k selections on the same ids. The engine matches transformers on the
// fixtures, so this ties the trainer to that reference too.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BackendFactory } from '@dsa/backend';
import cpuBackendFactory from '@dsa/backend-cpu';
import referenceBackendFactory from '@dsa/backend-reference';
import { DeepseekModel, SafetensorsFile } from '@dsa/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, readF32, readI32 } from './golden-helpers.js';
import { pythonWithTorch } from './python-torch.js';

const python = pythonWithTorch();
// CI installs python3-torch (.ci/run); elsewhere the suite says why it is skipped.
if (!python && process.env.CI)
  throw new Error('CI needs PyTorch for the trainer tests: apt-get install python3-torch');

describe.skipIf(!python)('trainer → engine fidelity (tools/train/smoke.py)', () => {
  let dir = '';
  let smoke: { phases: string[]; records: number } = { phases: [], records: 0 };
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dsa-trainer-'));
    const r = spawnSync(python!, ['tools/train/smoke.py', '--out', dir, '--steps', '3'], {
      encoding: 'utf8',
      timeout: 240_000,
    });
    if (r.status !== 0) throw new Error(`smoke.py failed (${r.status}): ${r.stderr}`);
    smoke = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs phases A, B and C and exports a loadable checkpoint', () => {
    expect(smoke.phases).toEqual(['A', 'B', 'C']);
    expect(smoke.records).toBe(3);
  });

  const BACKENDS: BackendFactory[] = [referenceBackendFactory, cpuBackendFactory];
  for (const factory of BACKENDS) {
    it(`${factory.name}: logits within 2e-3 of the trainer's (sparse and dense), same top-k selections`, async () => {
      const backend = await factory.create();
      const golden = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
      try {
        const ids = [...(await readI32(golden, 'ids'))];
        const want = {
          sparse: await readF32(golden, 'logits_sparse'),
          dense: await readF32(golden, 'logits_dense'),
        };
        const topk = await readI32(golden, 'topk_indices');
        const margin = await readF32(golden, 'topk_margin');
        for (const attention of ['sparse', 'dense'] as const) {
          const model = await DeepseekModel.load(backend, dir, { attention });
          try {
            const sequence = model.cache.createSequence();
            const result = await model.forward([{ sequence, tokens: ids }], {
              logits: 'all',
              captureTopk: true,
            });
            const logits = new Float32Array(ids.length * model.config.vocabSize);
            await backend.download(result.logits, logits);
            expect(maxAbsDiff(logits, want[attention])).toBeLessThan(2e-3);
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
            } else {
              // The attention probe: dense attention mass on the top-k, against the trainer's.
              const mass = await readF32(golden, 'selected_mass');
              const rows = Array.from({ length: ids.length }, (_, i) => i);
              const probed = await model.forward([{ sequence: model.cache.createSequence(), tokens: ids }], {
                logits: 'last',
                probe: { rows },
              });
              expect(maxAbsDiff(probed.probe!.selectedMass, mass)).toBeLessThan(1e-4);
            }
            model.cache.release(sequence);
          } finally {
            model.dispose();
          }
        }
      } finally {
        await golden.close();
        backend.dispose();
      }
    }, 120_000);
  }
});
