import type { TensorView } from '@dsa/tensor';

/**
 * Where the query tokens of one forward step sit in their sequences, and where each sequence's
 * cached tokens live in the paged cache pool. Shared by the indexer and attention kernels.
 *
 * Token `t` of sequence `q` is stored in pool slot `blockTable[q, t / blockSize] · blockSize + t % blockSize`.
 * Query `s` attends causally to positions `0 ..= positions[s]` of sequence `sequenceIds[s]` (its own
 * position included); the caches must already hold those positions.
 */
export interface AttentionBatch {
  /** i32 [S]: absolute position of each query token. */
  readonly positions: TensorView;
  /** i32 [S]: the row of `blockTable` each query token belongs to. */
  readonly sequenceIds: TensorView;
  /** i32 [Q, maxBlocks]: physical block ids per sequence, -1 where unused. */
  readonly blockTable: TensorView;
  /** Tokens per cache block. */
  readonly blockSize: number;
  /**
   * Host copies of the three tensors above. The host builds the batch, so it has them for free;
   * composite fallbacks loop over them instead of downloading.
   */
  readonly host: {
    /** Host copy of `positions`. */
    readonly positions: Int32Array;
    /** Host copy of `sequenceIds`. */
    readonly sequenceIds: Int32Array;
    /** Row-major [Q, maxBlocks]. */
    readonly blockTable: Int32Array;
    /** Columns of `blockTable`: the most blocks any sequence in the batch holds. */
    readonly maxBlocks: number;
  };
}

/** Pool slot of logical position `position` of sequence row `sequence`, from the host block table. */
export function slotOf(batch: AttentionBatch, sequence: number, position: number): number {
  const block =
    batch.host.blockTable[sequence * batch.host.maxBlocks + Math.floor(position / batch.blockSize)]!;
  if (block === undefined || block < 0) {
    throw new RangeError(`sequence ${sequence} has no cache block for position ${position}`);
  }
  return block * batch.blockSize + (position % batch.blockSize);
}
