import type { TensorView } from '@dsa/tensor';
import { expectRank, expectShape, read, write } from './strided.js';

export function reduceSum(out: TensorView, x: TensorView): void {
  const k = 'reduceSum';
  expectRank(k, 'x', x, 2);
  const [rows, n] = x.shape as [number, number];
  expectShape(k, 'out', out, [rows]);
  const v = read(x, k);
  const sums = new Float64Array(rows);
  for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) sums[r]! += v[r * n + i]!;
  write(out, sums, k);
}
