import { KernelArgumentError, type Kernels } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
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

/** Checks a row-wise kernel's `out` and `x`: the same shape, both with a dense last dim. */
function expectDenseRows(k: string, out: TensorView, x: TensorView): void {
  expectSameShape(k, 'out and x', out, x);
  expectDenseLast(k, 'x', x);
  expectDenseLast(k, 'out', out);
}

/**
 * rmsNorm / layerNorm: checks `out` and `x` ({@link expectDenseRows}) and each named per-column parameter
 * ([D], D = the last dim of x), then launches `kernel` with one block per row: out, x, the parameters, eps.
 */
function normalizeRows(
  context: KernelContext,
  k: string,
  kernel: string,
  out: TensorView,
  x: TensorView,
  params: readonly (readonly [string, TensorView])[],
  eps: number,
): void {
  expectDenseRows(k, out, x);
  for (const [name, view] of params) expectShape(k, name, view, [x.shape.at(-1)!]);
  const rows = rowsOf(x);
  if (rows === 0) return;
  context.launch(kernel, rowGrid(rows), BLOCK, [
    ...tensorArgs(k, 'out', out),
    ...tensorArgs(k, 'x', x),
    ...params.flatMap(([name, view]) => tensorArgs(k, name, view)),
    f64Arg(eps),
  ]);
}

/** rmsNorm, layerNorm, softmax, reduceSum, hadamard: one block per row, fixed reduction tree. */
export function normKernels(
  context: KernelContext,
): Pick<Kernels, 'rmsNorm' | 'layerNorm' | 'softmax' | 'reduceSum' | 'hadamard'> {
  return {
    rmsNorm(out, x, weight, eps) {
      normalizeRows(context, 'rmsNorm', 'dsa_rms_norm', out, x, [['weight', weight]], eps);
    },
    layerNorm(out, x, weight, bias, eps) {
      normalizeRows(
        context,
        'layerNorm',
        'dsa_layer_norm',
        out,
        x,
        [
          ['weight', weight],
          ['bias', bias],
        ],
        eps,
      );
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
      expectDenseRows(k, out, x);
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
