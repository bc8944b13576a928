// Eager decode against captured decode graphs: the same greedy workload on two models of one
// checkpoint, one loaded with `graphs: false`, compared bit for bit after every step. Shared by the
// runtime's graph tests (reference backend) and the cpu backend's replay tests.
import type { TensorView } from '@dsa/tensor';
import { expect } from 'vitest';
import { argmax } from './golden-helpers.js';

/** A cached sequence as the pair reads it (`CacheSequence`). */
export interface PairSequence {
  readonly length: number;
  readonly tokens: readonly number[];
}

/**
 * What the pair needs of a model: `DeepseekModel`, typed structurally so that the runtime's own tests
 * (its sources) and the other packages' (its build) can both pass theirs.
 */
export interface PairModel<S extends PairSequence = PairSequence> {
  readonly config: { readonly vocabSize: number };
  readonly cache: { createSequence(): S };
  readonly backend: { download(source: TensorView, destination: ArrayBufferView): Promise<void> };
  forward(entries: readonly { sequence: S; tokens: ArrayLike<number> }[]): Promise<{ logits: TensorView }>;
}

/** Deterministic prompt token ids below `vocab` (default 1000, inside the tiny fixtures' 1024). */
export function prompt(length: number, seed: number, vocab = 1000): number[] {
  return Array.from({ length }, (_, i) => (seed * 131 + i * 37 + 5) % vocab);
}

/** The argmax of every `vocab`-wide row of `logits`. */
export function argmaxRows(logits: Float32Array, vocab: number): number[] {
  return Array.from({ length: logits.length / vocab }, (_, r) =>
    argmax(logits.subarray(r * vocab, (r + 1) * vocab)),
  );
}

/** The logits of one forward step of `model`, downloaded. */
export async function logitsOf<S extends PairSequence>(
  model: PairModel<S>,
  entries: readonly { sequence: S; tokens: ArrayLike<number> }[],
): Promise<Float32Array> {
  const result = await model.forward(entries);
  const host = new Float32Array(result.logits.shape[0]! * result.logits.shape[1]!);
  await model.backend.download(result.logits, host);
  return host;
}

/** The same workload on an eager model and a graph model, step by step. */
export class GraphPair<M extends PairModel<S>, S extends PairSequence = PairSequence> {
  readonly sequences: [S, S][] = [];
  /** The next token of each sequence (the eager model's greedy choice). */
  readonly next: number[] = [];
  /** Every decode step's greedy tokens, one array per step. */
  readonly tokens: number[][] = [];

  constructor(
    readonly eager: M,
    readonly graphs: M,
  ) {}

  /** Prefills a new sequence on both models (an eager multi-token step); the logits must be equal. */
  async add(tokens: number[]): Promise<void> {
    const pair: [S, S] = [this.eager.cache.createSequence(), this.graphs.cache.createSequence()];
    const a = await logitsOf(this.eager, [{ sequence: pair[0], tokens }]);
    const b = await logitsOf(this.graphs, [{ sequence: pair[1], tokens }]);
    expect(b).toEqual(a);
    this.sequences.push(pair);
    this.next.push(argmaxRows(a, this.eager.config.vocabSize)[0]!);
  }

  /** One greedy decode step of every sequence on both models; logits must match bit for bit. */
  async decode(): Promise<void> {
    const entries = (m: 0 | 1) => this.sequences.map((s, i) => ({ sequence: s[m], tokens: [this.next[i]!] }));
    const a = await logitsOf(this.eager, entries(0));
    const b = await logitsOf(this.graphs, entries(1));
    expect(b.length).toBe(a.length);
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    const chosen = argmaxRows(a, this.eager.config.vocabSize);
    expect(argmaxRows(b, this.graphs.config.vocabSize)).toEqual(chosen);
    chosen.forEach((t, i) => {
      this.next[i] = t;
    });
    this.tokens.push(chosen);
    this.sequences.forEach(([x, y]) => {
      expect(y.length).toBe(x.length);
      expect(y.tokens).toEqual(x.tokens);
    });
  }
}
