import { KernelArgumentError, type Kernels } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { f64Arg } from '../launch.js';
import { tensorArgs } from '../tensor-args.js';
import {
  ELEMENTWISE_THREADS,
  expectDType,
  expectRank,
  expectShape,
  gridFor,
  type KernelContext,
} from './kernel-context.js';

const BLOCK = [ELEMENTWISE_THREADS, 1, 1] as const;

/** Checks a row kernel's views: `table` [V, W], `rows` [N, W] and `indices` i32 [N] (each with its name). */
function expectRows(
  k: string,
  [tableName, table]: [string, TensorView],
  [rowsName, rows]: [string, TensorView],
  indices: TensorView,
): void {
  expectRank(k, tableName, table, 2);
  expectRank(k, rowsName, rows, 2);
  expectDType(k, 'indices', indices, 'i32');
  expectShape(k, 'indices', indices, [rows.shape[0]!]);
  expectShape(k, rowsName, rows, [-1, table.shape[1]!]);
}

/**
 * gatherRows (`rows` = out ← table[indices]) / scatterRows (table[indices] ← `rows`): checks the views
 * ({@link expectRows}), then one thread per element of `rows`, arguments (destination, source, indices).
 */
function copyRows(
  context: KernelContext,
  k: string,
  kernel: string,
  table: [string, TensorView],
  rows: [string, TensorView],
  indices: TensorView,
  direction: 'gather' | 'scatter',
): void {
  expectRows(k, table, rows, indices);
  const n = rows[1].shape[0]! * rows[1].shape[1]!;
  if (n === 0) return;
  const [destination, source] = direction === 'gather' ? [rows, table] : [table, rows];
  context.launch(kernel, gridFor(context, n), BLOCK, [
    ...tensorArgs(k, ...destination),
    ...tensorArgs(k, ...source),
    ...tensorArgs(k, 'indices', indices),
  ]);
}

/** Checks a column kernel's views: `matrix` [R, C] (with its name) and `indices` i32 [R, K]. */
function expectColumns(k: string, name: string, matrix: TensorView, indices: TensorView): void {
  expectRank(k, name, matrix, 2);
  expectDType(k, 'indices', indices, 'i32');
  expectShape(k, 'indices', indices, [matrix.shape[0]!, -1]);
}

/** gatherRows, scatterRows, indexAdd, gatherColumns, scatterColumns. */
export function gatherKernels(
  context: KernelContext,
): Pick<Kernels, 'gatherRows' | 'scatterRows' | 'indexAdd' | 'gatherColumns' | 'scatterColumns'> {
  return {
    gatherRows(out, table, indices) {
      copyRows(context, 'gatherRows', 'dsa_gather_rows', ['table', table], ['out', out], indices, 'gather');
    },
    scatterRows(table, rows, indices) {
      copyRows(
        context,
        'scatterRows',
        'dsa_scatter_rows',
        ['table', table],
        ['rows', rows],
        indices,
        'scatter',
      );
    },
    indexAdd(out, rows, indices, weights) {
      const k = 'indexAdd';
      expectRows(k, ['out', out], ['rows', rows], indices);
      if (weights) expectShape(k, 'weights', weights, [rows.shape[0]!]);
      const d = out.shape[1]!;
      if (d === 0 || rows.shape[0] === 0) return;
      context.launch('dsa_index_add', gridFor(context, d), BLOCK, [
        ...tensorArgs(k, 'out', out),
        ...tensorArgs(k, 'rows', rows),
        ...tensorArgs(k, 'indices', indices),
        ...tensorArgs(k, 'weights', weights),
        { i32: weights ? 1 : 0 },
      ]);
    },
    gatherColumns(out, x, indices, fill = 0) {
      const k = 'gatherColumns';
      expectColumns(k, 'x', x, indices);
      expectShape(k, 'out', out, indices.shape);
      const n = out.shape[0]! * out.shape[1]!;
      if (n === 0) return;
      context.launch('dsa_gather_columns', gridFor(context, n), BLOCK, [
        ...tensorArgs(k, 'out', out),
        ...tensorArgs(k, 'x', x),
        ...tensorArgs(k, 'indices', indices),
        f64Arg(fill),
      ]);
    },
    scatterColumns(out, indices, values) {
      const k = 'scatterColumns';
      expectColumns(k, 'out', out, indices);
      const tensor = typeof values === 'number' ? null : values;
      if (tensor) expectShape(k, 'values', tensor, indices.shape);
      else if (typeof values !== 'number')
        throw new KernelArgumentError(k, 'values must be a tensor or a number');
      const rows = indices.shape[0]!;
      if (rows === 0 || indices.shape[1] === 0) return;
      context.launch('dsa_scatter_columns', gridFor(context, rows), BLOCK, [
        ...tensorArgs(k, 'out', out),
        ...tensorArgs(k, 'indices', indices),
        ...tensorArgs(k, 'values', tensor),
        { i32: tensor ? 1 : 0 },
        f64Arg(typeof values === 'number' ? values : 0),
      ]);
    },
  };
}
