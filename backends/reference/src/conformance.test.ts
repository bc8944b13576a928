import { checkConformance, primitiveCases } from '@dsa/backend/testing';
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from './reference-backend.js';

// The reference backend is the oracle, so against itself every case must agree exactly; this run
// proves the kit's cases execute (shapes, strides, dtypes) and guards the oracle from crashing.
describe('conformance kit on the reference backend', () => {
  const candidate = new ReferenceBackend();
  const oracle = new ReferenceBackend();
  for (const testCase of primitiveCases()) {
    it(`${testCase.kernel}: ${testCase.name}`, async () => {
      const result = await checkConformance(testCase, candidate, oracle);
      expect(result.error).toBe(0);
      expect(result.passed).toBe(true);
    });
  }
});
