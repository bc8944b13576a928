import { DsaError } from './dsa-error.js';

/** A backend was asked for but cannot run here; the message says why and how to fix it. */
export class BackendUnavailableError extends DsaError {
  /** Name (or spec) of the backend that was asked for, e.g. `"cuda:0"`. */
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super('backend_unavailable', message, options);
    this.name = 'BackendUnavailableError';
    this.backend = backend;
  }
}
