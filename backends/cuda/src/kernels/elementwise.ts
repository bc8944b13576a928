import { binaryOpCode, type Kernels, unaryOpCode } from '@dsa/backend';
import { dtypeBytes, type TensorView } from '@dsa/tensor';
import { f64Arg, type LaunchArg } from '../launch.js';
import { tensorArgs } from '../tensor-args.js';
import {
  count,
  ELEMENTWISE_THREADS,
  expectSameShape,
  gridFor,
  type KernelContext,
} from './kernel-context.js';

const BLOCK = [ELEMENTWISE_THREADS, 1, 1] as const;

/** Strided device-to-device copy of equal dtypes and shapes (any strides), as one kernel. */
export function stridedCopy(context: KernelContext, out: TensorView, x: TensorView): void {
  const n = count(out);
  if (n === 0) return;
  context.launch('dsa_copy', gridFor(context, n), BLOCK, [
    ...tensorArgs('copy', 'destination', out),
    ...tensorArgs('copy', 'source', x),
    { i32: dtypeBytes(out.dtype) },
  ]);
}

/**
 * Launches `kernel` with one thread per element of `out` (grid-stride): arguments out, the named
 * `operands` in order, then `extra`. Nothing runs for an empty `out`.
 */
function pointwise(
  context: KernelContext,
  kernel: string,
  op: string,
  out: TensorView,
  operands: readonly (readonly [string, TensorView])[],
  extra: readonly LaunchArg[],
): void {
  const n = count(out);
  if (n === 0) return;
  context.launch(kernel, gridFor(context, n), BLOCK, [
    ...tensorArgs(op, 'out', out),
    ...operands.flatMap(([name, view]) => tensorArgs(op, name, view)),
    ...extra,
  ]);
}

/** fill, cast, unary and binary. */
export function elementwiseKernels(
  context: KernelContext,
): Pick<Kernels, 'fill' | 'cast' | 'unary' | 'binary'> {
  return {
    fill(out, value) {
      pointwise(context, 'dsa_fill', 'fill', out, [], [f64Arg(value)]);
    },
    cast(out, x) {
      expectSameShape('cast', 'out and x', out, x);
      pointwise(context, 'dsa_cast', 'cast', out, [['x', x]], []);
    },
    unary(out, x, op) {
      const code = unaryOpCode(op); // the op codes of kernels/primitives/elementwise.cu
      expectSameShape('unary', 'out and x', out, x);
      pointwise(context, 'dsa_unary', 'unary', out, [['x', x]], [{ i32: code }]);
    },
    binary(out, a, b, op) {
      const code = binaryOpCode(op);
      expectSameShape('binary', 'out and a (broadcast a to out first)', out, a);
      expectSameShape('binary', 'out and b (broadcast b to out first)', out, b);
      pointwise(
        context,
        'dsa_binary',
        'binary',
        out,
        [
          ['a', a],
          ['b', b],
        ],
        [{ i32: code }],
      );
    },
  };
}
