import { DsaError } from './dsa-error.js';

/** A kernel was called with tensors of the wrong shape, dtype or layout. */
export class KernelArgumentError extends DsaError {
  /** Name of the kernel that rejected its arguments. */
  readonly kernel: string;
  constructor(kernel: string, message: string) {
    super('kernel_argument', `${kernel}: ${message}`);
    this.name = 'KernelArgumentError';
    this.kernel = kernel;
  }
}
