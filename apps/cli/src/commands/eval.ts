import { readFile } from 'node:fs/promises';
import {
  type AttentionMode,
  type LatentCacheFormat,
  type Selector,
  Tokenizer,
  writeFileAtomic,
} from '@dsa/runtime';
import { type EvalRow, expandSettings } from '../eval/eval-settings.js';
import { evalPerplexity, evalRecall } from '../eval/evaluate.js';
import { generateRecall, parseRecallJsonl, recallJsonl } from '../eval/recall-data.js';
import { loadModel, policyFlag } from '../load-model.js';
import { checkPlotFile, evalPlot, writePlot } from '../plot/index.js';
import { parseList, parseNumber, UsageError } from '../usage-error.js';

/** Flags of `dsa eval`. */
export interface EvalFlags {
  readonly model?: string;
  readonly backend?: string;
  readonly indexer?: 'fp32' | 'fp8';
  /** How the MLA latent cache stores rows (`--latent-cache`; default f32). */
  readonly latentCache?: LatentCacheFormat;
  readonly task: 'recall' | 'perplexity';
  readonly data?: string;
  readonly generate?: string;
  readonly attention: AttentionMode[];
  readonly indexTopk?: number[];
  readonly selector: Selector[];
  readonly topkPolicy: string;
  readonly context: number;
  readonly seed: number;
  readonly plot?: string;
  readonly json?: boolean;
  readonly quiet?: boolean;
}

/** `dsa eval`: DSA quality of a checkpoint (or, with --generate, writes recall data). */
export async function evalCommand(flags: EvalFlags): Promise<void> {
  if (flags.generate) {
    if (flags.task !== 'recall')
      throw new UsageError('--generate makes recall data: use it with --task recall');
    if (!flags.data) throw new UsageError('--generate needs --data FILE to write to');
    const [length, pairs, queries, count, seed] = parseList(flags.generate, '--generate', (p) =>
      parseNumber(p, '--generate', 0, 2 ** 32 - 1, true),
    );
    if (seed === undefined || count === undefined) {
      throw new UsageError('--generate: give L,P,Q,N,SEED, e.g. --generate 512,12,4,100,1');
    }
    let sequences: ReturnType<typeof generateRecall>;
    try {
      sequences = generateRecall({ length: length!, pairs: pairs!, queries: queries!, count, seed });
    } catch (error) {
      throw new UsageError(`--generate: ${(error as Error).message}`);
    }
    await writeFileAtomic(flags.data, recallJsonl(sequences));
    if (!flags.quiet)
      process.stderr.write(`wrote ${count} recall sequences (L=${length}) to ${flags.data}\n`);
    return;
  }
  if (!flags.model) throw new UsageError('give --model DIR (or --generate to write recall data)');
  if (!flags.data) throw new UsageError(`--task ${flags.task} needs --data FILE`);
  const policies = parseList(flags.topkPolicy, '--topk-policy', (p) => policyFlag(p));
  if (flags.plot !== undefined) checkPlotFile(flags.plot);
  const files = parseList(flags.data, '--data', (f) => f);
  const texts = await Promise.all(
    files.map((file) =>
      readFile(file, 'utf8').catch((error: Error) => {
        throw new UsageError(`--data: cannot read ${file}: ${error.message}`);
      }),
    ),
  );

  const { model, backend } = await loadModel({
    model: flags.model,
    ...(flags.backend ? { backend: flags.backend } : {}),
    ...(flags.indexer ? { indexer: flags.indexer } : {}),
    ...(flags.latentCache ? { latentCache: flags.latentCache } : {}),
    quiet: Boolean(flags.quiet || flags.json),
    cacheTokens: 1 << 16,
  });
  try {
    const indexer = model.config.indexer;
    if (!indexer && flags.attention.includes('sparse')) {
      throw new UsageError(`${flags.model} has no lightning indexer: use --attention dense`);
    }
    const topks = flags.indexTopk ?? [indexer?.indexTopk ?? 0];
    const settings = expandSettings(flags.attention, flags.selector, topks, policies);
    const rows: EvalRow[] = [];
    const emit = (row: EvalRow) => {
      rows.push(row);
      if (flags.json) process.stdout.write(`${JSON.stringify(row)}\n`);
    };
    if (flags.task === 'recall') {
      const sets = texts.map((text, i) => parseRecallJsonl(text, files[i]!, model.config.vocabSize));
      sets.forEach((data, i) => {
        const longest = Math.max(...data.map((s) => s.ids.length));
        if (longest > model.config.maxPositionEmbeddings) {
          throw new UsageError(
            `${files[i]}: a sequence of ${longest} tokens exceeds the model's max_position_embeddings ${model.config.maxPositionEmbeddings}`,
          );
        }
      });
      for (const data of sets)
        for (const setting of settings) emit(await evalRecall(model, data, setting, flags.seed));
    } else {
      const tokenizer = await Tokenizer.fromFolder(flags.model);
      const minTopk = Math.min(...topks);
      for (const text of texts) {
        const ids = tokenizer.encode(text);
        for (const setting of settings) {
          emit(await evalPerplexity(model, ids, flags.context, setting.topk ?? minTopk, setting, flags.seed));
        }
      }
    }
    if (!flags.json) process.stdout.write(formatTable(rows));
    if (flags.plot !== undefined) {
      await writePlot(flags.plot, evalPlot(rows));
      if (!flags.quiet) process.stderr.write(`wrote ${flags.plot}\n`);
    }
  } finally {
    model.dispose();
    backend.dispose();
  }
}

/** A plain-text table of the rows. */
export function formatTable(rows: readonly EvalRow[]): string {
  const header = [
    'attention',
    'selector',
    'topk',
    'policy',
    'context',
    'metric',
    'value',
    'recall',
    'attended',
    'n',
  ];
  const fmt = (v: number | null, digits: number) => (v === null || Number.isNaN(v) ? '-' : v.toFixed(digits));
  const lines = rows.map((r) => [
    r.attention,
    r.selector ?? '-',
    r.topk === null ? '-' : String(r.topk),
    r.topk_policy ?? '-',
    String(r.context),
    r.metric,
    fmt(r.value, r.metric === 'accuracy' ? 3 : 2),
    fmt(r.indexer_recall, 3),
    fmt(r.attended_tokens_mean, 1),
    String(r.n),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]) =>
    `${cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  return line(header) + lines.map(line).join('');
}
