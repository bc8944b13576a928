import type { Backend } from '@dsa/backend';
import { ReferenceBackend } from '@dsa/backend-reference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import cudaBackendFactory from '../src/index.js';
import { behaviourChecks, checkCase, conformanceCases, gemmChecks } from './index.js';

// Every primitive case of the kit against the reference backend, on a GPU (DSA_TEST_DEVICE=cuda).
describe.skipIf(process.env.DSA_TEST_DEVICE !== 'cuda')('conformance kit on the cuda backend', () => {
  let backend: Backend;
  const oracle = new ReferenceBackend();
  beforeAll(async () => {
    backend = await cudaBackendFactory.create();
  });
  afterAll(() => backend?.dispose());

  for (const testCase of conformanceCases()) {
    it(`${testCase.kernel}: ${testCase.name}`, async () => {
      const result = await checkCase(testCase, backend, oracle);
      expect(result.detail ?? '').toBe('');
      expect(result.error).toBeLessThanOrEqual(result.tolerance);
    });
  }

  it('batch invariance and graph replay', async () => {
    const failed = (await behaviourChecks(backend)).filter((r) => !r.passed);
    expect(failed.map((r) => `${r.name}: ${r.detail ?? ''}`)).toEqual([]);
  });

  it('prefill GEMM (cuBLASLt and dsa_gemm_mma) and matmul at MLA shapes', async () => {
    const failed = (await gemmChecks(backend, oracle)).filter((r) => !r.passed);
    expect(failed.map((r) => `${r.name}: error ${r.error} ${r.detail ?? ''}`)).toEqual([]);
  }, 300_000);
});
