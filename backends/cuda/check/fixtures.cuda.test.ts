import path from 'node:path';
import type { Backend } from '@dsa/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import cudaBackendFactory from '../src/index.js';
import { FIXTURES, fixtureChecks } from './index.js';

const ROOT = path.resolve(import.meta.dirname, '../../../fixtures');

// fixtures/tiny and tiny-fp8 through DeepseekModel on a GPU, with the tolerances of tests/golden.test.ts.
describe.skipIf(process.env.DSA_TEST_DEVICE !== 'cuda')('fixtures on the cuda backend', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await cudaBackendFactory.create();
  });
  afterAll(() => backend?.dispose());

  for (const fixture of FIXTURES) {
    it(`fixture ${fixture}: logits, hidden states, top-k, greedy decode`, async () => {
      const results = await fixtureChecks(backend, path.join(ROOT, fixture));
      for (const r of results)
        console.log(`${r.passed ? 'PASS' : 'FAIL'} ${r.name} ${r.error} <= ${r.tolerance}`);
      expect(results.filter((r) => !r.passed).map((r) => `${r.name}: ${r.error} ${r.detail ?? ''}`)).toEqual(
        [],
      );
      expect(results.length).toBeGreaterThan(0);
    }, 600_000);
  }
});
