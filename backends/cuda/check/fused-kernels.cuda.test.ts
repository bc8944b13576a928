// The cuda backend's fused kernels against their composite fallbacks on the reference backend
// (FUSED_CHECKS of fused-checks.ts). Runs only with DSA_TEST_DEVICE=cuda on a machine with a GPU.
import type { Backend } from '@dsa/backend';
import { ReferenceBackend } from '@dsa/backend-reference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import cudaBackendFactory from '../src/index.js';
import { runCheck } from './check-result.js';
import { FUSED_CHECKS } from './fused-checks.js';

describe.skipIf(process.env.DSA_TEST_DEVICE !== 'cuda')(
  'fused kernels of the cuda backend match their composite fallbacks',
  () => {
    let cuda: Backend;
    const reference = new ReferenceBackend();
    beforeAll(async () => {
      cuda = await cudaBackendFactory.create();
    });
    afterAll(() => cuda?.dispose());

    for (const check of FUSED_CHECKS) {
      it(check.name, async () => {
        const result = await runCheck(check.name, check.tolerance, () => check.run(cuda, reference));
        expect(result.passed, `error ${result.error} > ${check.tolerance}: ${result.detail ?? ''}`).toBe(
          true,
        );
      });
    }
  },
);
