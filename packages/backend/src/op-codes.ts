import { KernelArgumentError } from './errors/kernel-argument-error.js';
import type { BinaryOp, UnaryOp } from './kernels.js';

/** Every {@link UnaryOp}, in the order native kernels number them (an op's code is its index). */
export const UNARY_OPS: readonly UnaryOp[] = ['silu', 'relu', 'exp', 'sigmoid', 'neg', 'sqrt', 'reciprocal'];
/** Every {@link BinaryOp}, in the order native kernels number them (an op's code is its index). */
export const BINARY_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'max', 'min'];

/** The native code of unary `op` (its index in {@link UNARY_OPS}); throws naming an unknown op. */
export function unaryOpCode(op: UnaryOp): number {
  const code = UNARY_OPS.indexOf(op);
  if (code < 0) throw new KernelArgumentError('unary', `unknown op "${op}"`);
  return code;
}

/** The native code of binary `op` (its index in {@link BINARY_OPS}); throws naming an unknown op. */
export function binaryOpCode(op: BinaryOp): number {
  const code = BINARY_OPS.indexOf(op);
  if (code < 0) throw new KernelArgumentError('binary', `unknown op "${op}"`);
  return code;
}
