import { KernelArgumentError } from '@dsa/backend';
import { narrow, type TensorView } from '@dsa/tensor';
import { expectDType, expectRank, expectShape, read, write } from './strided.js';

/**
 * Checks a row kernel's views, `table` [V, W], `indices` i32 [N] and `rows` [N, W] (each with its name),
 * and returns W and the (position, row) pairs of the indices that are not -1; throws naming an index
 * outside [0, V).
 */
function rowTargets(
  k: string,
  [tableName, table]: [string, TensorView],
  [rowsName, rows]: [string, TensorView],
  indices: TensorView,
): { width: number; targets: [number, number][] } {
  expectRank(k, tableName, table, 2);
  expectDType(k, 'indices', indices, 'i32');
  const [count, width] = table.shape as [number, number];
  const n = indices.shape[0]!;
  expectShape(k, rowsName, rows, [n, width]);
  const idx = read(indices, k);
  const targets: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const r = idx[i]!;
    if (r === -1) continue;
    if (r < 0 || r >= count)
      throw new KernelArgumentError(k, `index ${r} at position ${i} is outside [0, ${count})`);
    targets.push([i, r]);
  }
  return { width, targets };
}

export function gatherRows(out: TensorView, table: TensorView, indices: TensorView): void {
  const k = 'gatherRows';
  const { width, targets } = rowTargets(k, ['table', table], ['out', out], indices);
  const values = new Float64Array(indices.shape[0]! * width);
  for (const [i, r] of targets) values.set(read(narrow(table, 0, r, 1), k), i * width);
  write(out, values, k);
}

export function scatterRows(table: TensorView, rows: TensorView, indices: TensorView): void {
  const k = 'scatterRows';
  const { width, targets } = rowTargets(k, ['table', table], ['rows', rows], indices);
  const values = read(rows, k);
  for (const [i, r] of targets) write(narrow(table, 0, r, 1), values.subarray(i * width, (i + 1) * width), k);
}

export function indexAdd(out: TensorView, rows: TensorView, indices: TensorView, weights?: TensorView): void {
  const k = 'indexAdd';
  const { width, targets } = rowTargets(k, ['out', out], ['rows', rows], indices);
  if (weights) expectShape(k, 'weights', weights, [indices.shape[0]!]);
  const w = weights ? read(weights, k) : null;
  const values = read(rows, k);
  for (const [i, r] of targets) {
    const scale = w ? w[i]! : 1;
    const target = narrow(out, 0, r, 1);
    const row = read(target, k);
    for (let j = 0; j < width; j++) row[j]! += scale * values[i * width + j]!;
    write(target, row, k);
  }
}

/** Checks `indices` i32 [rows, j] against `wide` [rows, n] (the argument `name` of kernel `k`): [rows, n, j]. */
function columnShape(
  k: string,
  name: string,
  wide: TensorView,
  indices: TensorView,
): [number, number, number] {
  expectRank(k, name, wide, 2);
  expectDType(k, 'indices', indices, 'i32');
  const [rows, n] = wide.shape as [number, number];
  const j = indices.shape[1]!;
  expectShape(k, 'indices', indices, [rows, j]);
  return [rows, n, j];
}

/** `col`, the index of row `r`, when it is -1 (none) or in [0, n); else a KernelArgumentError. */
function checkColumn(k: string, col: number, r: number, n: number): number {
  if (col !== -1 && (col < 0 || col >= n))
    throw new KernelArgumentError(k, `index ${col} in row ${r} is outside [0, ${n})`);
  return col;
}

export function gatherColumns(out: TensorView, x: TensorView, indices: TensorView, fill = 0): void {
  const k = 'gatherColumns';
  const [rows, n, j] = columnShape(k, 'x', x, indices);
  expectShape(k, 'out', out, [rows, j]);
  const idx = read(indices, k);
  const values = read(x, k);
  const result = new Float64Array(rows * j);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < j; c++) {
      const col = checkColumn(k, idx[r * j + c]!, r, n);
      result[r * j + c] = col === -1 ? fill : values[r * n + col]!;
    }
  }
  write(out, result, k);
}

export function scatterColumns(out: TensorView, indices: TensorView, values: TensorView | number): void {
  const k = 'scatterColumns';
  const [rows, n, j] = columnShape(k, 'out', out, indices);
  if (typeof values !== 'number') expectShape(k, 'values', values, [rows, j]);
  const idx = read(indices, k);
  const v = typeof values === 'number' ? null : read(values, k);
  const all = read(out, k);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < j; c++) {
      const col = checkColumn(k, idx[r * j + c]!, r, n);
      if (col === -1) continue;
      all[r * n + col] = v ? v[r * j + c]! : (values as number);
    }
  }
  write(out, all, k);
}
