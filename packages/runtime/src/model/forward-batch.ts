import type { AttentionBatch, Backend, Workspace } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import type { CacheSequence, PagedKvCache } from './kv-cache.js';

/** New tokens of one sequence in a forward step; they are appended at `sequence.length`. */
export interface ForwardEntry {
  /** The cached sequence the tokens extend. */
  readonly sequence: CacheSequence;
  /** Token ids to append, in order. */
  readonly tokens: ArrayLike<number>;
}

/** A forward step laid out on the device: token ids, where they go in the cache, and the attention batch. */
export interface StepLayout {
  /** i32 [S] */
  readonly tokens: TensorView;
  /** i32 [S]: pool slot each new token is written to. */
  readonly writeSlots: TensorView;
  readonly batch: AttentionBatch;
  /** Row in the step of each entry's last token. */
  readonly lastRows: Int32Array;
  /** Largest position any query reads, plus one. */
  readonly maxContext: number;
}

/**
 * Reserves cache blocks for the entries, advances their lengths, and uploads the step's token ids,
 * positions, write slots and block table. Queries of one sequence are contiguous, in entry order.
 */
export function layoutStep(
  backend: Backend,
  workspace: Workspace,
  cache: PagedKvCache,
  entries: readonly ForwardEntry[],
): StepLayout {
  const total = entries.reduce((n, e) => n + e.tokens.length, 0);
  for (const e of entries) cache.reserve(e.sequence, e.sequence.length + e.tokens.length);
  const maxBlocks = Math.max(1, ...entries.map((e) => e.sequence.blocks.length));
  const tokens = new Int32Array(total);
  const positions = new Int32Array(total);
  const sequenceIds = new Int32Array(total);
  const writeSlots = new Int32Array(total);
  const blockTable = new Int32Array(entries.length * maxBlocks).fill(-1);
  const lastRows = new Int32Array(entries.length);
  let row = 0;
  let maxContext = 0;
  entries.forEach((entry, q) => {
    entry.sequence.blocks.forEach((b, i) => {
      blockTable[q * maxBlocks + i] = b;
    });
    for (let i = 0; i < entry.tokens.length; i++) {
      const position = entry.sequence.length + i;
      tokens[row] = entry.tokens[i]!;
      positions[row] = position;
      sequenceIds[row] = q;
      writeSlots[row] = cache.slot(entry.sequence, position);
      row++;
    }
    lastRows[q] = row - 1;
    for (let i = 0; i < entry.tokens.length; i++) entry.sequence.tokens.push(entry.tokens[i]!);
    entry.sequence.length += entry.tokens.length;
    maxContext = Math.max(maxContext, entry.sequence.length);
  });
  const upload = (values: Int32Array, shape: number[]) => {
    const view = workspace.tensor('i32', shape);
    backend.upload(view, values);
    return view;
  };
  return {
    tokens: upload(tokens, [total]),
    writeSlots: upload(writeSlots, [total]),
    lastRows,
    maxContext,
    batch: {
      positions: upload(positions, [total]),
      sequenceIds: upload(sequenceIds, [total]),
      blockTable: upload(blockTable, [entries.length, maxBlocks]),
      blockSize: cache.blockSize,
      host: { positions, sequenceIds, blockTable, maxBlocks },
    },
  };
}
