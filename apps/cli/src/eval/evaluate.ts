import type { DeepseekModel } from '@dsa/runtime';
import { type EvalRow, type EvalSetting, rowKeys } from './eval-settings.js';
import { contextLength, type RecallSequence } from './recall-data.js';
import { finiteMean, type ScoredRows, scoreSequences } from './score-sequences.js';

/** Tokens per forward step of the evaluator (sequences are grouped up to this). */
export const EVAL_STEP_TOKENS = 8192;
/** Probed rows per perplexity window at most (evenly spaced over the scored rows). */
export const PERPLEXITY_PROBES = 64;

function selectionOf(setting: EvalSetting, seed: number) {
  return setting.attention === 'dense'
    ? { attention: 'dense' as const }
    : {
        attention: 'sparse' as const,
        selector: setting.selector!,
        indexTopk: setting.topk!,
        topkPolicy: setting.policy!,
        seed,
      };
}

/**
 * The selection recall of a sparse setting: a dense pass that makes each layer's selection without using
 * it, and reports the share of the dense attention mass (head-summed, L1-normalised) the selection holds,
 * averaged over layers with an indexer and over the probed rows.
 */
async function selectionRecall(
  model: DeepseekModel,
  sequences: readonly (readonly number[])[],
  probeRows: readonly (readonly number[])[],
  setting: EvalSetting,
  seed: number,
): Promise<number> {
  const dense = await scoreSequences(
    model,
    sequences,
    sequences.map(() => []),
    probeRows,
    { ...selectionOf(setting, seed), attention: 'dense' },
    EVAL_STEP_TOKENS,
  );
  return finiteMean(dense.flatMap((s) => [...s.selectedMass!]));
}

function meanAttended(scored: readonly ScoredRows[]): number {
  return finiteMean(scored.flatMap((s) => [...s.attended!]));
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/**
 * {@link scoreSequences} under `setting`'s selection; `logitsOf(i, j)` is the logits of scored row `j` of
 * sequence `i`.
 */
async function scoreSetting(
  model: DeepseekModel,
  sequences: readonly (readonly number[])[],
  rows: readonly (readonly number[])[],
  probes: readonly (readonly number[])[],
  setting: EvalSetting,
  seed: number,
) {
  const scored = await scoreSequences(
    model,
    sequences,
    rows,
    probes,
    selectionOf(setting, seed),
    EVAL_STEP_TOKENS,
  );
  const vocab = model.config.vocabSize;
  const logitsOf = (i: number, j: number) => scored[i]!.logits.subarray(j * vocab, (j + 1) * vocab);
  return { scored, logitsOf };
}

/** Recall accuracy of one setting: the share of answers whose greedy prediction at `position - 1` is right. */
export async function evalRecall(
  model: DeepseekModel,
  data: readonly RecallSequence[],
  setting: EvalSetting,
  seed = 0,
): Promise<EvalRow> {
  const sequences = data.map((s) => s.ids);
  const rows = data.map((s) => s.answers.map(([position]) => position - 1));
  const { scored, logitsOf } = await scoreSetting(model, sequences, rows, rows, setting, seed);
  let right = 0;
  let n = 0;
  data.forEach((sequence, i) => {
    sequence.answers.forEach(([, token], j) => {
      if (argmax(logitsOf(i, j)) === token) right++;
      n++;
    });
  });
  return {
    task: 'recall',
    ...rowKeys(setting),
    context: Math.max(...data.map(contextLength)),
    metric: 'accuracy',
    value: right / n,
    indexer_recall:
      setting.attention === 'sparse' ? await selectionRecall(model, sequences, rows, setting, seed) : null,
    attended_tokens_mean: meanAttended(scored),
    n,
  };
}

/**
 * Perplexity over `ids` cut into non-overlapping windows of `context` tokens, scoring only the rows that see
 * more than index_topk positions (row i predicts token i + 1, for index_topk ≤ i < context - 1).
 */
export async function evalPerplexity(
  model: DeepseekModel,
  ids: readonly number[],
  context: number,
  indexTopk: number,
  setting: EvalSetting,
  seed = 0,
): Promise<EvalRow> {
  if (context <= indexTopk + 1) {
    throw new RangeError(
      `--context ${context} must exceed index_topk + 1 (${indexTopk + 1}) to score any token`,
    );
  }
  const windows: number[][] = [];
  for (let start = 0; start + context <= ids.length; start += context)
    windows.push(ids.slice(start, start + context));
  if (windows.length === 0) {
    throw new RangeError(`the text has ${ids.length} tokens: fewer than one --context window of ${context}`);
  }
  const scoredRows = Array.from({ length: context - 1 - indexTopk }, (_, i) => indexTopk + i);
  // Probed rows: evenly spaced over the scored rows, first and last included.
  const probes = Math.min(PERPLEXITY_PROBES, scoredRows.length);
  const probeRows = Array.from(
    { length: probes },
    (_, i) => scoredRows[probes === 1 ? 0 : Math.round((i * (scoredRows.length - 1)) / (probes - 1))]!,
  );
  const { scored, logitsOf } = await scoreSetting(
    model,
    windows,
    windows.map(() => scoredRows),
    windows.map(() => probeRows),
    setting,
    seed,
  );
  let nll = 0;
  let n = 0;
  windows.forEach((window, w) => {
    scoredRows.forEach((row, j) => {
      const logits = logitsOf(w, j);
      let max = Number.NEGATIVE_INFINITY;
      for (const v of logits) if (v > max) max = v;
      let z = 0;
      for (const v of logits) z += Math.exp(v - max);
      nll += Math.log(z) + max - logits[window[row + 1]!]!;
      n++;
    });
  });
  return {
    task: 'perplexity',
    ...rowKeys(setting),
    context,
    metric: 'perplexity',
    value: Math.exp(nll / n),
    indexer_recall:
      setting.attention === 'sparse'
        ? await selectionRecall(
            model,
            windows,
            windows.map(() => probeRows),
            setting,
            seed,
          )
        : null,
    attended_tokens_mean: meanAttended(scored),
    n,
  };
}
