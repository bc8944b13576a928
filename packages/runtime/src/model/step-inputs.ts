import type { AttentionBatch } from '@dsa/backend';
import { narrow, reshape, type TensorView } from '@dsa/tensor';
import type { CacheSequence, PagedKvCache } from './kv-cache.js';

/** New tokens of one sequence in a forward step; they are appended at `sequence.length`. */
export interface ForwardEntry {
  /** The cached sequence the tokens extend. */
  readonly sequence: CacheSequence;
  /** Token ids to append, in order. */
  readonly tokens: ArrayLike<number>;
}

/**
 * The inputs of a forward step, packed in one i32 device tensor so the host uploads them in one copy:
 * token ids, positions, sequence rows and write slots (i32 [rows] each), then the block table
 * (i32 [sequences, width]). `host` mirrors them. An eager step packs them into the workspace; a captured
 * decode step into a static buffer of its batch bucket, so the graph reads them at fixed addresses.
 */
export interface StepInputs {
  /** Query rows of the step (tokens, plus padding rows in a captured step). */
  readonly rows: number;
  /** Rows of the block table: one per sequence of the step. */
  readonly sequences: number;
  /** Columns of the block table: the most blocks a sequence of the step holds. */
  readonly width: number;
  /** i32 [rows] */
  readonly tokens: TensorView;
  /** i32 [rows] */
  readonly positions: TensorView;
  /** i32 [rows]: row of each query's sequence in the block table. */
  readonly sequenceIds: TensorView;
  /** i32 [rows]: pool slot each new token is written to. */
  readonly writeSlots: TensorView;
  /** i32 [sequences, width] */
  readonly blockTable: TensorView;
  /** The whole tensor, i32 [4 · rows + sequences · width] (what {@link StepInputs.packed} is uploaded to). */
  readonly all: TensorView;
  /** Host staging of the whole tensor; the fields of `host` are views into it. */
  readonly packed: Int32Array;
  /** Host copies, views into `packed`. */
  readonly host: {
    /** [rows] */
    readonly tokens: Int32Array;
    /** [rows] */
    readonly positions: Int32Array;
    /** [rows] */
    readonly sequenceIds: Int32Array;
    /** [rows] */
    readonly writeSlots: Int32Array;
    /** [sequences, width] row-major */
    readonly blockTable: Int32Array;
  };
}

/** Elements of the packed i32 tensor that holds a step's inputs. */
export function stepInputsLength(rows: number, sequences: number, width: number): number {
  return 4 * rows + sequences * width;
}

/** Views of a step's inputs in `all`, i32 [{@link stepInputsLength}(rows, sequences, width)], and its host mirror. */
export function stepInputs(all: TensorView, rows: number, sequences: number, width: number): StepInputs {
  const packed = new Int32Array(stepInputsLength(rows, sequences, width));
  const part = (i: number) => narrow(all, 0, i * rows, rows);
  return {
    rows,
    sequences,
    width,
    tokens: part(0),
    positions: part(1),
    sequenceIds: part(2),
    writeSlots: part(3),
    blockTable: reshape(narrow(all, 0, 4 * rows, sequences * width), [sequences, width]),
    all,
    packed,
    host: {
      tokens: packed.subarray(0, rows),
      positions: packed.subarray(rows, 2 * rows),
      sequenceIds: packed.subarray(2 * rows, 3 * rows),
      writeSlots: packed.subarray(3 * rows, 4 * rows),
      blockTable: packed.subarray(4 * rows),
    },
  };
}

/** Where a step's entries landed in its inputs. */
export interface StepLayout {
  /** The step's inputs, laid out on the host (not yet uploaded). */
  readonly inputs: StepInputs;
  /** Row in the step of each entry's last token. */
  readonly lastRows: Int32Array;
  /** Largest position any query reads, plus one. */
  readonly maxContext: number;
}

/**
 * The one layout of a step, eager or captured: reserves the cache blocks of every entry (so a full cache
 * fails the step before any sequence changes), takes the inputs to fill from `inputsFor(width)` (`width`:
 * the most blocks an entry's sequence now holds), appends each entry's tokens to its sequence in the
 * cache, and writes token ids, positions, sequence rows, write slots and block table into `inputs.host`.
 * Queries of one sequence are contiguous, in entry order; block-table cells no block fills hold
 * `fill`. Rows past the entries' tokens (the padding of a captured bucket) get a sequence row of their
 * own each, token 0 at position 0, written to the cache's scratch block.
 */
export function layoutStep(
  cache: PagedKvCache,
  entries: readonly ForwardEntry[],
  inputsFor: (width: number) => StepInputs,
  fill: number,
): StepLayout {
  for (const e of entries) cache.reserve(e.sequence, e.sequence.length + e.tokens.length);
  const inputs = inputsFor(Math.max(1, ...entries.map((e) => e.sequence.blocks.length)));
  const { tokens, positions, sequenceIds, writeSlots, blockTable } = inputs.host;
  const width = inputs.width;
  blockTable.fill(fill);
  const lastRows = new Int32Array(entries.length);
  let row = 0;
  let maxContext = 0;
  entries.forEach((entry, q) => {
    const sequence = entry.sequence;
    const start = cache.append(sequence, entry.tokens);
    sequence.blocks.forEach((b, i) => {
      blockTable[q * width + i] = b;
    });
    for (let i = 0; i < entry.tokens.length; i++) {
      tokens[row] = entry.tokens[i]!;
      positions[row] = start + i;
      sequenceIds[row] = q;
      writeSlots[row] = cache.slot(sequence, start + i);
      row++;
    }
    lastRows[q] = row - 1;
    maxContext = Math.max(maxContext, sequence.length);
  });
  for (let q = entries.length; row < inputs.rows; row++, q++) {
    tokens[row] = 0;
    positions[row] = 0;
    sequenceIds[row] = q;
    writeSlots[row] = cache.scratchBlock * cache.blockSize;
  }
  return { inputs, lastRows, maxContext };
}

/**
 * The attention batch of a laid-out step. `hostPositions` overrides the positions kernels see on the
 * host (a captured step gives a bound its graph never outgrows, since kernels may size launches from it).
 */
export function attentionBatch(
  inputs: StepInputs,
  blockSize: number,
  hostPositions: Int32Array = inputs.host.positions,
): AttentionBatch {
  return {
    positions: inputs.positions,
    sequenceIds: inputs.sequenceIds,
    blockTable: inputs.blockTable,
    blockSize,
    host: {
      positions: hostPositions,
      sequenceIds: inputs.host.sequenceIds,
      blockTable: inputs.host.blockTable,
      maxBlocks: inputs.width,
    },
  };
}
