import { KernelArgumentError, type Kernels } from '@dsa/backend';
import { tensorArgs } from '../tensor-args.js';
import { expectDType, expectRank, expectShape, type KernelContext, rowGrid } from './kernel-context.js';

/** Threads per row of dsa_top_k (kTopKThreads). */
export const TOP_K_THREADS = 512;

/** topk: one block per row, radix select then an index-ordered compaction. */
export function topkKernels(context: KernelContext): Pick<Kernels, 'topk'> {
  return {
    topk(indices, values, x, k) {
      const name = 'topk';
      if (!Number.isInteger(k) || k < 1)
        throw new KernelArgumentError(name, `k = ${k} must be a positive integer`);
      expectRank(name, 'x', x, 2);
      expectDType(name, 'indices', indices, 'i32');
      const rows = x.shape[0]!;
      expectShape(name, 'indices', indices, [rows, k]);
      if (values) expectShape(name, 'values', values, [rows, k]);
      if (rows === 0) return;
      context.launch(
        'dsa_top_k',
        rowGrid(rows),
        [TOP_K_THREADS, 1, 1],
        [
          ...tensorArgs(name, 'indices', indices),
          ...tensorArgs(name, 'values', values),
          { i32: values ? 1 : 0 },
          ...tensorArgs(name, 'x', x),
          { i32: k },
        ],
      );
    },
  };
}
