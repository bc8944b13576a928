import { KernelArgumentError } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { expectDType, expectRank, expectShape, read, write } from './strided.js';

/** Indices of the k best entries of `row` (value desc, index asc), then sorted by index; -inf/NaN excluded. */
export function selectTopk(row: ArrayLike<number>, k: number): number[] {
  const candidates: number[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (v > Number.NEGATIVE_INFINITY) candidates.push(i); // false for NaN too
  }
  candidates.sort((a, b) => row[b]! - row[a]! || a - b);
  return candidates.slice(0, k).sort((a, b) => a - b);
}

/** @deprecated Renamed {@link selectTopk} (one spelling of top-k); this alias goes in a later minor release. */
export const selectTopK = selectTopk;

export function topk(indices: TensorView, values: TensorView | null, x: TensorView, k: number): void {
  const kernel = 'topk';
  expectRank(kernel, 'x', x, 2);
  expectDType(kernel, 'indices', indices, 'i32');
  const [rows, n] = x.shape as [number, number];
  if (!Number.isInteger(k) || k < 1)
    throw new KernelArgumentError(kernel, `k = ${k} must be a positive integer`);
  expectShape(kernel, 'indices', indices, [rows, k]);
  if (values) expectShape(kernel, 'values', values, [rows, k]);
  const v = read(x, kernel);
  const outIndices = new Float64Array(rows * k).fill(-1);
  const outValues = new Float64Array(rows * k).fill(Number.NEGATIVE_INFINITY);
  for (let r = 0; r < rows; r++) {
    const row = v.subarray(r * n, (r + 1) * n);
    selectTopk(row, k).forEach((col, j) => {
      outIndices[r * k + j] = col;
      outValues[r * k + j] = row[col]!;
    });
  }
  write(indices, outIndices, kernel);
  if (values) write(values, outValues, kernel);
}
