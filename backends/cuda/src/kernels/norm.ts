import { KernelArgumentError, type Kernels } from '@dsa/backend';
import { f64Arg } from '../launch.js';
import { tensorArgs } from '../tensor-args.js';
import {
  expectDenseLast,
  expectSameShape,
  expectShape,
  type KernelContext,
  rowGrid,
  rowsOf,
} from './kernel-context.js';

/** Threads per row of the row kernels (kRowThreads of block-reduce.cuh). */
export const ROW_THREADS = 256;
const BLOCK = [ROW_THREADS, 1, 1] as const;
/** Largest hadamard width: D doubles must fit the 48 KiB of default shared memory. */
export const MAX_HADAMARD_DIM = 4096;

/** rmsNorm, layerNorm, softmax, reduceSum, hadamard: one block per row, fixed reduction tree. */
export function normKernels(
  context: KernelContext,
): Pick<Kernels, 'rmsNorm' | 'layerNorm' | 'softmax' | 'reduceSum' | 'hadamard'> {
  return {
    rmsNorm(out, x, weight, eps) {
      const k = 'rmsNorm';
      expectSameShape(k, 'out and x', out, x);
      expectDenseLast(k, 'x', x);
      expectDenseLast(k, 'out', out);
      expectShape(k, 'weight', weight, [x.shape.at(-1)!]);
      const rows = rowsOf(x);
      if (rows === 0) return;
      context.launch('dsa_rms_norm', rowGrid(rows), BLOCK, [
        ...tensorArgs(k, 'out', out),
        ...tensorArgs(k, 'x', x),
        ...tensorArgs(k, 'weight', weight),
        f64Arg(eps),
      ]);
    },
    layerNorm(out, x, weight, bias, eps) {
      const k = 'layerNorm';
      expectSameShape(k, 'out and x', out, x);
      expectDenseLast(k, 'x', x);
      expectDenseLast(k, 'out', out);
      expectShape(k, 'weight', weight, [x.shape.at(-1)!]);
      expectShape(k, 'bias', bias, [x.shape.at(-1)!]);
      const rows = rowsOf(x);
      if (rows === 0) return;
      context.launch('dsa_layer_norm', rowGrid(rows), BLOCK, [
        ...tensorArgs(k, 'out', out),
        ...tensorArgs(k, 'x', x),
        ...tensorArgs(k, 'weight', weight),
        ...tensorArgs(k, 'bias', bias),
        f64Arg(eps),
      ]);
    },
    softmax(x, options = {}) {
      expectDenseLast('softmax', 'x', x);
      const rows = rowsOf(x);
      if (rows === 0) return;
      context.launch('dsa_softmax', rowGrid(rows), BLOCK, [
        ...tensorArgs('softmax', 'x', x),
        f64Arg(options.scale ?? 1),
      ]);
    },
    reduceSum(out, x) {
      const k = 'reduceSum';
      if (x.shape.length !== 2)
        throw new KernelArgumentError(k, `x must be [R, N], got rank ${x.shape.length}`);
      expectShape(k, 'out', out, [x.shape[0]!]);
      expectDenseLast(k, 'x', x);
      if (x.shape[0] === 0) return;
      context.launch('dsa_reduce_sum', rowGrid(x.shape[0]!), BLOCK, [
        ...tensorArgs(k, 'out', out),
        ...tensorArgs(k, 'x', x),
      ]);
    },
    hadamard(out, x) {
      const k = 'hadamard';
      expectSameShape(k, 'out and x', out, x);
      expectDenseLast(k, 'x', x);
      expectDenseLast(k, 'out', out);
      const d = x.shape.at(-1) ?? 1;
      if (d < 1 || (d & (d - 1)) !== 0)
        throw new KernelArgumentError(k, `last dim ${d} is not a power of two`);
      if (d > MAX_HADAMARD_DIM)
        throw new KernelArgumentError(k, `last dim ${d} is above ${MAX_HADAMARD_DIM}`);
      const rows = rowsOf(x);
      if (rows === 0) return;
      context.launch(
        'dsa_hadamard',
        rowGrid(rows),
        BLOCK,
        [...tensorArgs(k, 'out', out), ...tensorArgs(k, 'x', x)],
        d * 8,
      );
    },
  };
}
