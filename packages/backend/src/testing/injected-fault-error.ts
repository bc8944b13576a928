import { DsaError } from '../errors/dsa-error.js';

/** Where {@link FaultInjector} makes a backend fail. */
export type FaultSite = 'kernel' | 'allocation' | 'download';

/** The failure a {@link FaultInjector} raised on purpose; tests tell it from real errors by `code`. */
export class InjectedFaultError extends DsaError {
  constructor(
    /** What failed: a kernel call (primitive or fused), an allocation, or a device→host download. */
    readonly site: FaultSite,
    /** The kernel's name (`matmul`, `fused.addRmsNorm`), `allocate` or `download`. */
    readonly operation: string,
    /** Which call of that site failed, counted from 1 since the injector was created. */
    readonly call: number,
  ) {
    super('injected_fault', `injected ${site} fault: ${operation} (call ${call})`);
    this.name = 'InjectedFaultError';
  }
}
