import { Random } from '@dsa/tensor';
/**
 * The needle-recall task (fixtures/recall/README.md is its definition; keep both in step).
 *
 * Vocabulary 512: 0 BOS, 1 EOS, 2 PAD, 3 the query marker, 4..131 keys, 132..259 values, 260..511 filler.
 * A sequence is `[0] + context + queries` (no EOS): `context` is L filler tokens in which P key-value pairs
 * (a key immediately followed by its value) overwrite filler at uniformly random non-overlapping positions
 * (keys distinct, values uniform, so they may repeat); `queries` are Q triples `3 k v` for distinct keys of
 * the pairs, in random order. `answers` lists `[position, token]` of each v (`ids[position] == token`); the
 * prediction made at `position - 1` must equal `token`.
 */

/** One scored sequence: token ids and `[position, token]` answers. */
export interface RecallSequence {
  readonly ids: number[];
  readonly answers: [number, number][];
}

/** Token id ranges of the task's vocabulary. */
export const RECALL_VOCAB = {
  bos: 0,
  query: 3,
  keys: [4, 132],
  values: [132, 260],
  filler: [260, 512],
  size: 512,
} as const;

/** Parameters of `dsa eval --task recall --generate L,P,Q,N,SEED`. */
export interface RecallGeneration {
  /** Context length L (filler + pairs). */
  readonly length: number;
  /** Key-value pairs P in the context (2P ≤ L, P ≤ 128). */
  readonly pairs: number;
  /** Queries Q per sequence (1 ≤ Q ≤ P). */
  readonly queries: number;
  /** Number of sequences N. */
  readonly count: number;
  /** Seed of the generator. */
  readonly seed: number;
}

/** Generates N sequences of the recall task. @throws RangeError for impossible parameters. */
export function generateRecall(g: RecallGeneration): RecallSequence[] {
  const keyCount = RECALL_VOCAB.keys[1] - RECALL_VOCAB.keys[0];
  if (!(g.queries >= 1 && g.queries <= g.pairs && g.pairs <= keyCount && 2 * g.pairs <= g.length)) {
    throw new RangeError(
      `recall generation L=${g.length} P=${g.pairs} Q=${g.queries}: need 1 <= Q <= P <= ${keyCount} and 2P <= L`,
    );
  }
  const random = new Random(g.seed);
  const out: RecallSequence[] = [];
  for (let n = 0; n < g.count; n++) {
    const context = Array.from(
      { length: g.length },
      () => RECALL_VOCAB.filler[0] + random.int(RECALL_VOCAB.filler[1] - RECALL_VOCAB.filler[0]),
    );
    // P non-overlapping 2-token slots, uniform: P sorted starts among L - P, the i-th shifted by i.
    const starts = random
      .sample(g.length - g.pairs, g.pairs)
      .sort((a, b) => a - b)
      .map((s, i) => s + i);
    const keys = random.sample(keyCount, g.pairs).map((k) => k + RECALL_VOCAB.keys[0]);
    const values = keys.map(
      () => RECALL_VOCAB.values[0] + random.int(RECALL_VOCAB.values[1] - RECALL_VOCAB.values[0]),
    );
    starts.forEach((s, i) => {
      context[s] = keys[i]!;
      context[s + 1] = values[i]!;
    });
    const ids = [RECALL_VOCAB.bos, ...context];
    const answers: [number, number][] = [];
    for (const i of random.sample(g.pairs, g.queries)) {
      ids.push(RECALL_VOCAB.query, keys[i]!, values[i]!);
      answers.push([ids.length - 1, values[i]!]);
    }
    out.push({ ids, answers });
  }
  return out;
}

/** The sequences as JSONL, one `{"ids": [...], "answers": [[position, token], ...]}` per line. */
export function recallJsonl(sequences: readonly RecallSequence[]): string {
  return sequences.map((s) => `${JSON.stringify({ ids: s.ids, answers: s.answers })}\n`).join('');
}

/**
 * Parses recall JSONL. Every problem names the file, the line and the field.
 * @throws RangeError naming `file:line`, the field and what is wrong.
 */
export function parseRecallJsonl(text: string, file: string, vocabSize: number): RecallSequence[] {
  const out: RecallSequence[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    const fail = (field: string, message: string): never => {
      throw new RangeError(`${where}: field "${field}": ${message}`);
    };
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new RangeError(`${where}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new RangeError(`${where}: expected an object with "ids" and "answers"`);
    }
    const { ids, answers } = record as { ids?: unknown; answers?: unknown };
    if (!Array.isArray(ids) || ids.length < 2) fail('ids', 'expected an array of at least 2 token ids');
    (ids as unknown[]).forEach((id, j) => {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocabSize) {
        fail(`ids[${j}]`, `${JSON.stringify(id)} is not a token id of the vocabulary (0..${vocabSize - 1})`);
      }
    });
    const seq = ids as number[];
    if (!Array.isArray(answers) || answers.length === 0) fail('answers', 'expected a non-empty array');
    (answers as unknown[]).forEach((a, j) => {
      if (!Array.isArray(a) || a.length !== 2) fail(`answers[${j}]`, 'expected [position, token]');
      const [position, token] = a as unknown[];
      if (!Number.isInteger(position) || (position as number) < 1 || (position as number) >= seq.length) {
        fail(`answers[${j}][0]`, `position ${JSON.stringify(position)} is outside 1..${seq.length - 1}`);
      }
      if (seq[position as number] !== token) {
        fail(
          `answers[${j}][1]`,
          `token ${JSON.stringify(token)} is not ids[${position}] (${seq[position as number]})`,
        );
      }
    });
    out.push({ ids: seq, answers: answers as [number, number][] });
  });
  if (out.length === 0) throw new RangeError(`${file}: no sequences`);
  return out;
}

/** The context length L of a sequence: its ids less BOS and the 3 tokens of each query. */
export function contextLength(s: RecallSequence): number {
  return s.ids.length - 1 - 3 * s.answers.length;
}
