import type { DeepseekModel, SelectionSettings } from '@dsa/runtime';

/** Per scored row of one sequence: its logits, and per layer the attended count and kept dense mass. */
export interface ScoredRows {
  /** f32 [rows, vocab] */
  readonly logits: Float32Array;
  /** i32 [layers, probed rows] */
  readonly attended: Int32Array | null;
  /** f32 [layers, probed rows] (NaN for layers without an indexer) */
  readonly selectedMass: Float32Array | null;
}

/**
 * Runs whole sequences through the model as one step each group (prefill from position 0) and returns,
 * for each sequence, the logits of its `rows` and, when `probeRows` are given, the attention probe of those
 * rows. Sequences are grouped so a step holds at most `stepTokens` tokens (a longer one runs alone).
 */
export async function scoreSequences(
  model: DeepseekModel,
  sequences: readonly (readonly number[])[],
  rows: readonly (readonly number[])[],
  probeRows: readonly (readonly number[])[] | null,
  selection: Partial<SelectionSettings>,
  stepTokens: number,
): Promise<ScoredRows[]> {
  const out: ScoredRows[] = [];
  const vocab = model.config.vocabSize;
  let start = 0;
  while (start < sequences.length) {
    let end = start + 1;
    let tokens = sequences[start]!.length;
    while (end < sequences.length && tokens + sequences[end]!.length <= stepTokens)
      tokens += sequences[end++]!.length;
    const group = sequences.slice(start, end);
    const caches = group.map(() => model.cache.createSequence());
    try {
      const offsets: number[] = [];
      let offset = 0;
      for (const s of group) {
        offsets.push(offset);
        offset += s.length;
      }
      const probe = probeRows
        ? { rows: group.flatMap((_, i) => probeRows[start + i]!.map((r) => offsets[i]! + r)) }
        : undefined;
      const result = await model.forward(
        group.map((s, i) => ({ sequence: caches[i]!, tokens: s })),
        { logits: 'all', selection, ...(probe ? { probe } : {}) },
      );
      const all = new Float32Array(offset * vocab);
      await model.backend.download(result.logits, all);
      const layers = model.config.nLayers;
      const probed = probe?.rows.length ?? 0;
      let probeOffset = 0;
      group.forEach((_, i) => {
        const wanted = rows[start + i]!;
        const logits = new Float32Array(wanted.length * vocab);
        wanted.forEach((r, j) => {
          logits.set(all.subarray((offsets[i]! + r) * vocab, (offsets[i]! + r + 1) * vocab), j * vocab);
        });
        let attended: Int32Array | null = null;
        let selectedMass: Float32Array | null = null;
        if (probeRows && result.probe) {
          const n = probeRows[start + i]!.length;
          attended = new Int32Array(layers * n);
          selectedMass = new Float32Array(layers * n);
          for (let l = 0; l < layers; l++) {
            for (let j = 0; j < n; j++) {
              attended[l * n + j] = result.probe.attended[l * probed + probeOffset + j]!;
              selectedMass[l * n + j] = result.probe.selectedMass[l * probed + probeOffset + j]!;
            }
          }
          probeOffset += n;
        }
        out.push({ logits, attended, selectedMass });
      });
    } finally {
      for (const c of caches) model.cache.release(c);
    }
    start = end;
  }
  return out;
}

/** Mean of the finite entries (NaN when there is none). */
export function finiteMean(values: Iterable<number>): number {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      sum += v;
      n++;
    }
  }
  return n ? sum / n : Number.NaN;
}
