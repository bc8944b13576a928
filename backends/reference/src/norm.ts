import { KernelArgumentError } from '@dsa/backend';
import { formatShape, type TensorView } from '@dsa/tensor';
import { expectShape, read, write } from './strided.js';

function rows(kernel: string, out: TensorView, x: TensorView): [number, number] {
  const d = x.shape[x.shape.length - 1]!;
  if (formatShape(out.shape) !== formatShape(x.shape)) {
    throw new KernelArgumentError(
      kernel,
      `out ${formatShape(out.shape)} and x ${formatShape(x.shape)} differ`,
    );
  }
  return [x.shape.reduce((a, b) => a * b, 1) / d, d];
}

export function rmsNorm(out: TensorView, x: TensorView, weight: TensorView, eps: number): void {
  const k = 'rmsNorm';
  const [n, d] = rows(k, out, x);
  expectShape(k, 'weight', weight, [d]);
  const v = read(x, k);
  const w = read(weight, k);
  for (let r = 0; r < n; r++) {
    let sum = 0;
    for (let i = 0; i < d; i++) sum += v[r * d + i]! ** 2;
    const inv = 1 / Math.sqrt(sum / d + eps);
    for (let i = 0; i < d; i++) v[r * d + i] = v[r * d + i]! * inv * w[i]!;
  }
  write(out, v, k);
}

export function layerNorm(
  out: TensorView,
  x: TensorView,
  weight: TensorView,
  bias: TensorView,
  eps: number,
): void {
  const k = 'layerNorm';
  const [n, d] = rows(k, out, x);
  expectShape(k, 'weight', weight, [d]);
  expectShape(k, 'bias', bias, [d]);
  const v = read(x, k);
  const w = read(weight, k);
  const b = read(bias, k);
  for (let r = 0; r < n; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += v[r * d + i]!;
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (v[r * d + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / d + eps);
    for (let i = 0; i < d; i++) v[r * d + i] = (v[r * d + i]! - mean) * inv * w[i]! + b[i]!;
  }
  write(out, v, k);
}
