import { DsaError } from '@dsa/backend';

/** Where a {@link CheckpointError} happened: the file and, when known, the tensor or field. */
export interface CheckpointErrorDetails {
  /** The file (or folder) at fault. */
  readonly file?: string;
  /** The tensor, or the header/index field, at fault. */
  readonly tensor?: string;
  /** The underlying error (an `fs` error, a `SyntaxError` from `JSON.parse`, ...). */
  readonly cause?: unknown;
}

/**
 * A checkpoint file or folder is missing, unreadable or malformed: a bad safetensors header, a tensor
 * whose bytes do not match its shape, an index naming a shard or tensor that is not there, ...
 *
 * `code` is `'checkpoint_invalid'`. The message always names the file (or folder) and, where one is
 * involved, the tensor or field, and says what was expected and what was found.
 */
export class CheckpointError extends DsaError {
  /** The file (or folder) at fault, when known. */
  readonly file?: string;
  /** The tensor, or header/index field, at fault, when known. */
  readonly tensor?: string;

  /**
   * @param message the full message; it should already name the file and tensor.
   * @param details the file and tensor, kept as fields for programs, and the cause.
   */
  constructor(message: string, details: CheckpointErrorDetails = {}) {
    super('checkpoint_invalid', message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CheckpointError';
    if (details.file !== undefined) this.file = details.file;
    if (details.tensor !== undefined) this.tensor = details.tensor;
  }
}
