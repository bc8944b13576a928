import { DsaError } from '@dsa/backend';

/** A pull that could not finish: the hub refused, the transfer failed, or a file's checksum differs. */
export class PullError extends DsaError {
  /** The repository file at fault (`model.safetensors`); absent for repository-level failures. */
  readonly file: string | undefined;
  constructor(
    code: 'hub_refused' | 'transfer_failed' | 'checksum_mismatch' | 'no_files',
    message: string,
    file?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'PullError';
    this.file = file;
  }
}
