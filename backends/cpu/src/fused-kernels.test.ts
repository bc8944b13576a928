// The fused-kernel suite of the conformance kit on the cpu backend, once per kernel set this CPU
// runs: every fused kernel against its composite definition run on the reference backend.
import { fusedCases } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import { runnableIsas } from './cpu-settings.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
const ISAS = runnableIsas(native.addon.info().isa);

for (const isa of ISAS) {
  describe(`fused kernels of the cpu backend (${isa}) match their composite definitions`, () => {
    const cpu = new CpuBackend(native.addon, { threads: 2, settings: { isa } });
    const reference = new ReferenceBackend();

    // moeExperts and linears on the cpu are the composites' own order of work: bit for bit, not only within 1e-5.
    for (const testCase of fusedCases({ exactOnCandidate: ['moeExperts', 'linears'] })) {
      it(testCase.name, async () => {
        const { error, detail } = await testCase.check(cpu, reference);
        expect(error, detail).toBeLessThanOrEqual(testCase.tolerance);
      });
    }
  });
}
