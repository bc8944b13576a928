import type { Random } from '@dsa/tensor';
import { type DType, dtypeBytes, type Shape, type TensorView, tensorView } from '@dsa/tensor';
import type { AttentionBatch } from '../attention-batch.js';
import type { Backend } from '../backend.js';
import { uploadTensor } from '../host-tensor.js';

/** A paged batch layout for fused-kernel tests: block table rows, the queries' sequences and positions. */
export interface PagedLayout {
  /** Cache slots per block. */
  readonly blockSize: number;
  /** Physical blocks of each sequence row, -1 where unused. */
  readonly blockTable: readonly (readonly number[])[];
  /** Sequence row of each query. */
  readonly sequenceIds: readonly number[];
  /** Position of each query in its sequence. */
  readonly positions: readonly number[];
  /** Slots in the pool (blocks · blockSize). */
  readonly slots: number;
}

/**
 * Two sequences interleaved in a pool of 10 blocks of 4: a 3-token prefill chunk of sequence 0, a
 * decode token of sequence 1 and a 2-token chunk of sequence 1.
 */
export const SMALL_PAGED_LAYOUT: PagedLayout = {
  blockSize: 4,
  blockTable: [
    [7, 2, 9, 0, -1, -1],
    [1, 5, 3, 8, 4, -1],
  ],
  sequenceIds: [0, 0, 0, 1, 1, 1],
  positions: [9, 10, 11, 2, 17, 18],
  slots: 40,
};

/** Two long sequences (5000 and 3001 tokens) in blocks of 64, shuffled over the pool. */
export function longPagedLayout(random: Random): PagedLayout {
  const blocks = Array.from({ length: 79 + 47 }, (_, i) => i).sort(() => random.next() - 0.5);
  return {
    blockSize: 64,
    blockTable: [blocks.slice(0, 79), [...blocks.slice(79), ...new Array(79 - 47).fill(-1)]],
    sequenceIds: [0, 1],
    positions: [4999, 3000],
    slots: 126 * 64,
  };
}

/** One sequence of 20000 positions (313 shuffled blocks of 64): long enough for two-pass top-k filters. */
export function longerPagedLayout(random: Random): PagedLayout {
  const blocks = Array.from({ length: 313 }, (_, i) => i).sort(() => random.next() - 0.5);
  return { blockSize: 64, blockTable: [blocks], sequenceIds: [0], positions: [19999], slots: 313 * 64 };
}

/** `layout` as an {@link AttentionBatch} on `backend` (device tensors and their host copies). */
export function uploadBatch(backend: Backend, layout: PagedLayout): AttentionBatch {
  const s = layout.positions.length;
  const maxBlocks = layout.blockTable[0]!.length;
  const table = layout.blockTable.flat();
  return {
    positions: uploadTensor(backend, 'i32', [s], [...layout.positions]),
    sequenceIds: uploadTensor(backend, 'i32', [s], [...layout.sequenceIds]),
    blockTable: uploadTensor(backend, 'i32', [layout.blockTable.length, maxBlocks], table),
    blockSize: layout.blockSize,
    host: {
      positions: Int32Array.from(layout.positions),
      sequenceIds: Int32Array.from(layout.sequenceIds),
      blockTable: Int32Array.from(table),
      maxBlocks,
    },
  };
}

/** A fresh activations tensor of `dtype` and `shape` on `backend`. */
export function emptyTensor(backend: Backend, dtype: DType, shape: Shape): TensorView {
  const bytes = Math.max(1, shape.reduce((a, b) => a * b, 1) * dtypeBytes(dtype));
  return tensorView(backend.allocate(bytes, 'activations'), dtype, shape);
}

/** max |a − b| / max(1, max |b|); Infinity on a length mismatch or a NaN difference. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let error = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    error = Math.max(error, Number.isNaN(d) ? Number.POSITIVE_INFINITY : d / scale);
  }
  return error;
}

/** Entries of `got` that differ from `want` (NaN equals NaN), with the first mismatch as detail. */
export function mismatches(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
): { error: number; detail?: string } {
  if (got.length !== want.length)
    return { error: Number.POSITIVE_INFINITY, detail: `length ${got.length} vs ${want.length}` };
  let count = 0;
  let first = -1;
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      count++;
      if (first < 0) first = i;
    }
  }
  return count === 0
    ? { error: 0 }
    : { error: count, detail: `first at ${first}: got ${got[first]} want ${want[first]}` };
}

/**
 * Sparse top-k rows i32 [queries, k] for `layout`: per query up to k − 1 distinct positions ≤ its own,
 * ascending, the rest -1.
 */
export function sparseIndices(random: Random, layout: PagedLayout, k: number): number[] {
  const rows: number[] = [];
  for (const position of layout.positions) {
    const all = Array.from({ length: position + 1 }, (_, t) => t).sort(() => random.next() - 0.5);
    const chosen = all.slice(0, Math.min(k - 1, all.length)).sort((a, b) => a - b);
    while (chosen.length < k) chosen.push(-1);
    rows.push(...chosen);
  }
  return rows;
}
