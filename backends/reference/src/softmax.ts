import type { TensorView } from '@dsa/tensor';
import { read, write } from './strided.js';

export function softmax(x: TensorView, options: { scale?: number } = {}): void {
  const k = 'softmax';
  const scale = options.scale ?? 1;
  const d = x.shape[x.shape.length - 1]!;
  const v = read(x, k);
  const rows = v.length / d;
  for (let r = 0; r < rows; r++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < d; i++) max = Math.max(max, v[r * d + i]! * scale);
    if (max === Number.NEGATIVE_INFINITY) {
      v.fill(0, r * d, (r + 1) * d);
      continue;
    }
    let sum = 0;
    for (let i = 0; i < d; i++) {
      const e = Math.exp(v[r * d + i]! * scale - max);
      v[r * d + i] = e;
      sum += e;
    }
    for (let i = 0; i < d; i++) v[r * d + i]! /= sum;
  }
  write(x, v, k);
}
