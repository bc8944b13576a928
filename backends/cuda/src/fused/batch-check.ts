import { type AttentionBatch, KernelArgumentError } from '@dsa/backend';
import type { LaunchArg } from '../launch.js';
import { expectDType, expectShape, pointerArg } from './fused-args.js';

/**
 * Checks the host copy of `batch` for `queries` queries against a cache of `slots` rows: every block
 * of positions 0..=positions[s] is mapped (when `dense`) and every mapped block lies inside the cache.
 * Throws naming `kernel`, the sequence and the position, like the composites' `slotOf`.
 */
export function checkBatch(
  kernel: string,
  batch: AttentionBatch,
  queries: number,
  slots: number,
  dense: boolean,
): void {
  const { positions, sequenceIds, blockTable, maxBlocks } = batch.host;
  if (positions.length !== queries || sequenceIds.length !== queries) {
    throw new KernelArgumentError(
      kernel,
      `batch has ${positions.length} positions and ${sequenceIds.length} sequence ids for ${queries} queries`,
    );
  }
  expectShape(kernel, 'batch.positions', batch.positions, [queries]);
  expectShape(kernel, 'batch.sequenceIds', batch.sequenceIds, [queries]);
  expectShape(kernel, 'batch.blockTable', batch.blockTable, [-1, maxBlocks]);
  for (const [name, view] of [
    ['batch.positions', batch.positions],
    ['batch.sequenceIds', batch.sequenceIds],
    ['batch.blockTable', batch.blockTable],
  ] as const) {
    expectDType(kernel, name, view, ['i32']);
  }
  const bs = batch.blockSize;
  for (const block of blockTable) {
    if (block >= 0 && (block + 1) * bs > slots) {
      throw new KernelArgumentError(
        kernel,
        `block ${block} of the block table is outside the cache of ${slots} slots`,
      );
    }
  }
  for (let s = 0; s < queries; s++) {
    const sequence = sequenceIds[s]!;
    const position = positions[s]!;
    if (sequence < 0 || sequence * maxBlocks >= blockTable.length) {
      throw new KernelArgumentError(kernel, `query ${s} names sequence ${sequence}, outside the block table`);
    }
    if (!dense) continue;
    for (let t = 0; t <= position; t += bs) {
      const b = Math.floor(t / bs);
      if (b >= maxBlocks || blockTable[sequence * maxBlocks + b]! < 0) {
        throw new KernelArgumentError(kernel, `sequence ${sequence} has no cache block for position ${t}`);
      }
    }
  }
}

/** The device pointers of the batch's positions, sequence ids and block table, in kernel order. */
export function batchArgs(kernel: string, batch: AttentionBatch): LaunchArg[] {
  return [
    pointerArg(kernel, 'batch.positions', batch.positions),
    pointerArg(kernel, 'batch.sequenceIds', batch.sequenceIds),
    pointerArg(kernel, 'batch.blockTable', batch.blockTable),
    { i32: batch.host.maxBlocks },
    { i32: batch.blockSize },
  ];
}
