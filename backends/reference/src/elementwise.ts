import type { BinaryOp, UnaryOp } from '@dsa/backend';
import { KernelArgumentError } from '@dsa/backend';
import { formatShape, sameShape, type TensorView } from '@dsa/tensor';
import { read, write } from './strided.js';

export function fill(out: TensorView, value: number): void {
  write(out, new Float64Array(out.shape.reduce((a, b) => a * b, 1)).fill(value), 'fill');
}

export function cast(out: TensorView, x: TensorView): void {
  if (!sameShape(out.shape, x.shape)) {
    throw new KernelArgumentError(
      'cast',
      `out ${formatShape(out.shape)} and x ${formatShape(x.shape)} differ`,
    );
  }
  write(out, read(x, 'cast'), 'cast');
}

const UNARY: Record<UnaryOp, (x: number) => number> = {
  silu: (x) => x / (1 + Math.exp(-x)),
  relu: (x) => (x > 0 ? x : 0),
  exp: (x) => Math.exp(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  neg: (x) => -x,
  sqrt: (x) => Math.sqrt(x),
  reciprocal: (x) => 1 / x,
};

export function unary(out: TensorView, x: TensorView, op: UnaryOp): void {
  const f = UNARY[op];
  if (!f) throw new KernelArgumentError('unary', `unknown op "${op}"`);
  if (!sameShape(out.shape, x.shape)) {
    throw new KernelArgumentError(
      'unary',
      `out ${formatShape(out.shape)} and x ${formatShape(x.shape)} differ`,
    );
  }
  const values = read(x, 'unary');
  for (let i = 0; i < values.length; i++) values[i] = f(values[i]!);
  write(out, values, 'unary');
}

const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (a, b) => (a > b ? a : b),
  min: (a, b) => (a < b ? a : b),
};

export function binary(out: TensorView, a: TensorView, b: TensorView, op: BinaryOp): void {
  const f = BINARY[op];
  if (!f) throw new KernelArgumentError('binary', `unknown op "${op}"`);
  if (!sameShape(out.shape, a.shape) || !sameShape(out.shape, b.shape)) {
    throw new KernelArgumentError(
      'binary',
      `operands must be broadcast to out's shape: out ${formatShape(out.shape)}, a ${formatShape(a.shape)}, b ${formatShape(b.shape)}`,
    );
  }
  const x = read(a, 'binary');
  const y = read(b, 'binary');
  for (let i = 0; i < x.length; i++) x[i] = f(x[i]!, y[i]!);
  write(out, x, 'binary');
}
