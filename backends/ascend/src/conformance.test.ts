import { checkConformance, primitiveCases } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { buildEmulator } from '../emulator/build-emulator.js';
import ascendBackendFactory from './index.js';

// Every primitive case of the kit (exact precision: f32 activations), on the ascend backend bound to the CANN emulator, against the reference backend.
// On an NPU host, DSA_ASCEND_HARDWARE=1 keeps the normal CANN lookup instead of the emulator.
if (process.env.DSA_ASCEND_HARDWARE !== '1') process.env.DSA_ASCEND_LIB_DIR = buildEmulator();

describe('conformance kit on the ascend backend (CANN emulator)', async () => {
  const candidate = await ascendBackendFactory.create({ settings: { log: () => {}, precision: 'exact' } });
  const oracle = new ReferenceBackend();
  for (const testCase of primitiveCases()) {
    it(`${testCase.kernel}: ${testCase.name}`, async () => {
      const result = await checkConformance(testCase, candidate, oracle);
      await candidate.synchronize();
      expect(result.error).toBeLessThanOrEqual(result.tolerance);
      expect(result.passed).toBe(true);
    });
  }
});
