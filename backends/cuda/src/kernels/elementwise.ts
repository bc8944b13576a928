import { binaryOpCode, type Kernels, unaryOpCode } from '@dsa/backend';
import { dtypeBytes, type TensorView } from '@dsa/tensor';
import { f64Arg } from '../launch.js';
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

/** fill, cast, unary and binary. */
export function elementwiseKernels(
  context: KernelContext,
): Pick<Kernels, 'fill' | 'cast' | 'unary' | 'binary'> {
  return {
    fill(out, value) {
      const n = count(out);
      if (n === 0) return;
      context.launch('dsa_fill', gridFor(context, n), BLOCK, [
        ...tensorArgs('fill', 'out', out),
        f64Arg(value),
      ]);
    },
    cast(out, x) {
      expectSameShape('cast', 'out and x', out, x);
      const n = count(out);
      if (n === 0) return;
      context.launch('dsa_cast', gridFor(context, n), BLOCK, [
        ...tensorArgs('cast', 'out', out),
        ...tensorArgs('cast', 'x', x),
      ]);
    },
    unary(out, x, op) {
      const code = unaryOpCode(op); // the op codes of kernels/primitives/elementwise.cu
      expectSameShape('unary', 'out and x', out, x);
      const n = count(out);
      if (n === 0) return;
      context.launch('dsa_unary', gridFor(context, n), BLOCK, [
        ...tensorArgs('unary', 'out', out),
        ...tensorArgs('unary', 'x', x),
        { i32: code },
      ]);
    },
    binary(out, a, b, op) {
      const code = binaryOpCode(op);
      expectSameShape('binary', 'out and a (broadcast a to out first)', out, a);
      expectSameShape('binary', 'out and b (broadcast b to out first)', out, b);
      const n = count(out);
      if (n === 0) return;
      context.launch('dsa_binary', gridFor(context, n), BLOCK, [
        ...tensorArgs('binary', 'out', out),
        ...tensorArgs('binary', 'a', a),
        ...tensorArgs('binary', 'b', b),
        { i32: code },
      ]);
    },
  };
}
