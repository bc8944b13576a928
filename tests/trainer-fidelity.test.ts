// The fidelity link between the trainer (tools/train, PyTorch) and the engine: a toy model trained through
// all three phases of the recipe is exported, and every backend must reproduce the trainer's own logits
// (sparse and dense) and top-k selections on the same ids. The engine matches transformers on the
// fixtures, so this ties the trainer to that reference too.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import cpuBackendFactory from '@dsa/backend-cpu';
import referenceBackendFactory from '@dsa/backend-reference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonWithTorch } from './python-torch.js';
import { expectTrainerGolden } from './trainer-golden.js';

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

  for (const factory of [referenceBackendFactory, cpuBackendFactory]) {
    it(`${factory.name}: logits within 2e-3 of the trainer's (sparse and dense), same top-k, same selected mass`, async () => {
      const agreement = await expectTrainerGolden(factory, dir);
      console.log(`trainer golden (toy, ${factory.name}): ${JSON.stringify(agreement)}`);
      // f32 weights on both sides: the gap is f32 rounding, far inside the bar.
      expect(agreement.sparseMaxAbs).toBeLessThan(1e-4);
    }, 120_000);
  }
});
