import { DsaError } from '@dsa/backend';

/** config.json is missing a field, has a wrong type, or is inconsistent. The message names the file and field. */
export class ConfigError extends DsaError {
  /** The config file that failed to parse. */
  readonly file: string;
  /** The offending field, or `(root)`. */
  readonly field: string;
  constructor(file: string, field: string, message: string) {
    super('config_invalid', `${file}: field "${field}": ${message}`);
    this.name = 'ConfigError';
    this.file = file;
    this.field = field;
  }
}
