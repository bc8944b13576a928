import { DsaError } from './dsa-error.js';

/** A `dsa.config.json` that cannot be used: unreadable, not JSON, or against its schema. */
export class ConfigFileError extends DsaError {
  /** Path of the config file. */
  readonly file: string;
  /** The offending key (`"threads"`, `"settings.x"`); absent when the whole file is at fault. */
  readonly field: string | undefined;
  /** The offending value as found in the file; absent when the whole file is at fault. */
  readonly value: unknown;
  constructor(
    file: string,
    message: string,
    details: { field?: string; value?: unknown } = {},
    options?: { cause?: unknown },
  ) {
    super('config_invalid', `${file}: ${message}`, options);
    this.name = 'ConfigFileError';
    this.file = file;
    this.field = details.field;
    this.value = details.value;
  }
}
