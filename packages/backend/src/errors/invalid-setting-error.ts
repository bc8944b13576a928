import { DsaError } from './dsa-error.js';

/** A setting (an environment variable or a field of `BackendOptions.settings`) holds a value it cannot take. */
export class InvalidSettingError extends DsaError {
  /** Where the value came from: the environment variable (`DSA_CUDA_PROFILE`) or `settings.<field>`. */
  readonly setting: string;
  constructor(setting: string, message: string) {
    super('invalid_setting', `${setting}: ${message}`);
    this.name = 'InvalidSettingError';
    this.setting = setting;
  }
}
