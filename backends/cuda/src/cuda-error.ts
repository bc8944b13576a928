import { DsaError } from '@dsa/backend';

/** A CUDA driver call failed; the message names the call, the error name and its description. */
export class CudaError extends DsaError {
  /** The driver function that failed, e.g. `"cuMemAlloc_v2"`. */
  readonly call: string;
  /** The CUresult code. */
  readonly result: number;
  /** The CUresult name, e.g. `"CUDA_ERROR_OUT_OF_MEMORY"`. */
  readonly errorName: string;
  constructor(call: string, result: number, errorName: string, description: string, context?: string) {
    super(
      'cuda_error',
      `${call} failed: ${errorName} (${result}): ${description}${context ? ` [${context}]` : ''}`,
    );
    this.name = 'CudaError';
    this.call = call;
    this.result = result;
    this.errorName = errorName;
  }
}
