import { DsaError } from './dsa-error.js';

/** The backend does not implement this dtype, layout or option. */
export class UnsupportedError extends DsaError {
  constructor(message: string) {
    super('unsupported', message);
    this.name = 'UnsupportedError';
  }
}
