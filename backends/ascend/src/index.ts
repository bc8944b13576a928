import { type BackendFactory, BackendUnavailableError, SPECIFICATION_VERSION } from '@dsa/backend';
import { AclRuntime } from './acl-runtime.js';
import { AscendBackend } from './ascend-backend.js';
import { findAscendLibraries } from './library-paths.js';

export type { AscendBackendSettings } from './ascend-backend.js';
export {
  ASCEND_LIBRARIES,
  candidateDirectories,
  findAscendLibraries,
  type LibraryLookup,
} from './library-paths.js';
export type { AscendPrecision } from './weight-store.js';

/**
 * The ascend backend factory (default export, found by `createBackend`). probe() scores 50 when the
 * CANN libraries are found and 0, naming the libraries and folders searched, when they are not.
 */
const ascendBackendFactory: BackendFactory = {
  name: 'ascend',
  specificationVersion: SPECIFICATION_VERSION,
  async probe() {
    const lookup = findAscendLibraries();
    if (!lookup.found) return { score: 0, reason: lookup.reason };
    return { score: 50, reason: `CANN libraries in ${lookup.directory}` };
  },
  async create(options = {}) {
    const lookup = findAscendLibraries();
    if (!lookup.found)
      throw new BackendUnavailableError('ascend', `the ascend backend cannot run: ${lookup.reason}`);
    try {
      return new AscendBackend(new AclRuntime(lookup, options.deviceIndex ?? 0), options);
    } catch (error) {
      throw new BackendUnavailableError(
        'ascend',
        `the ascend backend failed to start with the CANN libraries in ${lookup.directory}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  },
};

export default ascendBackendFactory;
