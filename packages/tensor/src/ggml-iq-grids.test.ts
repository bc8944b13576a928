import { describe, expect, it } from 'vitest';
import {
  IQ1S_GRID,
  IQ2S_GRID,
  IQ2XS_GRID,
  IQ2XXS_GRID,
  IQ3S_GRID,
  IQ3XXS_GRID,
  KSIGNS_IQ2XS,
} from './ggml-iq-grids.js';

/** Number of distinct rows of `width` values in `grid`. */
function distinctRows(grid: Uint8Array | Int8Array, width: number): number {
  const rows = new Set<string>();
  for (let r = 0; r < grid.length / width; r++) rows.add(grid.subarray(r * width, (r + 1) * width).join());
  return rows.size;
}

// The tables are generated from gguf-py and checked against ggml-common.h (testdata/make-ggml-grids.py);
// these are properties of ggml's design that a damaged regeneration would break.
describe('i-quant grids', () => {
  it('have the sizes and value sets ggml defines, with every row distinct', () => {
    const cases = [
      [IQ2XXS_GRID, 256, 8, [8, 25, 43]],
      [IQ2XS_GRID, 512, 8, [8, 25, 43]],
      [IQ2S_GRID, 1024, 8, [8, 25, 43]],
      [IQ3XXS_GRID, 256, 4, [4, 12, 20, 28, 36, 44, 52, 62]],
      [IQ3S_GRID, 512, 4, [1, 3, 5, 7, 9, 11, 13, 15]],
      [IQ1S_GRID, 2048, 8, [-1, 0, 1]],
    ] as const;
    for (const [grid, rows, width, values] of cases) {
      expect(grid.length).toBe(rows * width);
      expect([...new Set(grid)].sort((a, b) => a - b)).toEqual(values);
      expect(distinctRows(grid, width)).toBe(rows);
    }
  });

  it('ksigns: the low 7 bits are the index, bit 7 makes the number of negative signs even', () => {
    expect(KSIGNS_IQ2XS.length).toBe(128);
    KSIGNS_IQ2XS.forEach((s, i) => {
      expect(s & 127).toBe(i);
      let ones = 0;
      for (let b = s; b; b >>= 1) ones += b & 1;
      expect(ones % 2).toBe(0);
    });
  });
});
