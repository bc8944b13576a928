import { type BackendFactory, SPECIFICATION_VERSION } from '@dsa/backend';
import { ReferenceBackend } from './reference-backend.js';

export { processLogits, sampleRow } from '@dsa/backend';
export { ue8m0Scale } from './fp8-quant.js';
export { REFERENCE_FUSED_KERNELS } from './fused-kernels.js';
export { ReferenceBackend, type ReferenceBackendOptions } from './reference-backend.js';
export { ReferenceBuffer } from './reference-buffer.js';
export { selectTopK, selectTopk } from './top-k.js';

/** The reference backend factory: always usable, lowest priority for `auto`. */
const referenceBackendFactory: BackendFactory = {
  name: 'reference',
  specificationVersion: SPECIFICATION_VERSION,
  async probe() {
    return { score: 1, reason: 'pure TypeScript; always available (slow: for tests and as the oracle)' };
  },
  async create() {
    return new ReferenceBackend();
  },
};

export default referenceBackendFactory;
