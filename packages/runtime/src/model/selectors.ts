import { Random } from '@dsa/tensor';

/**
 * Token selectors for sparse attention. `indexer` is DSA's lightning indexer (the model's own); `window`
 * (the last k positions, the query's own included) and `random` (k distinct uniformly random positions
 * among 0 ..= the query's position) are the controls that show what the trained indexer adds.
 */
export type Selector = 'indexer' | 'window' | 'random';

/** The selectors, in the order reports list them. */
export const SELECTORS: readonly Selector[] = ['indexer', 'window', 'random'];

/**
 * The positions a `window` or `random` selector attends to, for query rows at `positions` [S]:
 * i32 [S, k], ascending, -1 padded (rows that see k or fewer positions get all of them). `random`
 * draws depend only on (seed, layer, row of the step, position): they repeat across runs and backends for
 * the same step, and differ between the sequences of a step (so an evaluation averages over draws).
 */
export function controlSelection(
  selector: Exclude<Selector, 'indexer'>,
  positions: Int32Array,
  k: number,
  seed: number,
  layer: number,
): Int32Array {
  const out = new Int32Array(positions.length * k).fill(-1);
  positions.forEach((p, row) => {
    const base = row * k;
    const visible = p + 1;
    if (visible <= k) {
      for (let t = 0; t < visible; t++) out[base + t] = t;
      return;
    }
    if (selector === 'window') {
      for (let j = 0; j < k; j++) out[base + j] = p - k + 1 + j;
      return;
    }
    // Floyd's algorithm: k distinct values from 0 .. visible-1.
    const random = new Random(
      Math.imul(seed, 0x9e3779b1) ^
        Math.imul(layer, 0x85ebca6b) ^
        Math.imul(p, 0xc2b2ae35) ^
        Math.imul(row, 0x27d4eb2f),
    );
    const chosen = new Set<number>();
    for (let j = visible - k; j < visible; j++) {
      const t = random.int(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    out.set(
      [...chosen].sort((a, b) => a - b),
      base,
    );
  });
  return out;
}
