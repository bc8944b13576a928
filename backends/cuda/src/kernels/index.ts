import type { Kernels } from '@dsa/backend';
import { elementwiseKernels } from './elementwise.js';
import { fp8QuantKernels } from './fp8-quant.js';
import { gatherKernels } from './gather.js';
import type { KernelContext } from './kernel-context.js';
import { linearKernels } from './linear.js';
import { matmulKernels } from './matmul.js';
import { normKernels } from './norm.js';
import { ropeKernels } from './rope.js';
import { sampleKernels } from './sample.js';
import { topkKernels } from './top-k.js';

export { stridedCopy } from './elementwise.js';
export type { KernelContext } from './kernel-context.js';
export { packSamplingRows } from './sample.js';

/** The 21 primitive kernels of the contract on `context`. */
export function createKernels(context: KernelContext): Kernels {
  return {
    ...elementwiseKernels(context),
    ...gatherKernels(context),
    ...linearKernels(context),
    ...matmulKernels(context),
    ...normKernels(context),
    ...ropeKernels(context),
    ...topkKernels(context),
    ...fp8QuantKernels(context),
    ...sampleKernels(context),
  };
}
