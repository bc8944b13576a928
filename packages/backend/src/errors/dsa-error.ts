/** Base class of every error dsa throws on purpose. `code` is stable; messages may change. */
export class DsaError extends Error {
  /** Stable machine-readable error code, e.g. "checkpoint_invalid". */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DsaError';
    this.code = code;
  }
}
