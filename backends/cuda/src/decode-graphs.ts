import type { Backend, CapturedGraph, Stream } from '@dsa/backend';

/** Batch-size buckets a decode step is padded to (one captured graph each). */
export const DEFAULT_DECODE_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/**
 * One decode step split the way graph replay needs it. `prepare` runs on every step, outside the graph:
 * it writes this step's host data (token ids, positions, write slots, block table, padded to `bucket`
 * rows) into buffers whose addresses never change. `record` enqueues the step's kernels for `bucket`
 * rows reading only those buffers and workspace tensors at fixed offsets: no upload, download, await,
 * allocation or host-side branch on the batch's contents.
 */
export interface DecodeStep {
  /** Uploads this step's inputs into the bucket's static buffers (called before every run). */
  prepare(bucket: number): void;
  /** Enqueues the step's kernels for `bucket` rows (captured once, then replayed). */
  record(bucket: number): void;
}

/**
 * Captures one graph per batch-size bucket on first use (after `warmup` eager runs, so workspaces
 * reach their high-water mark before addresses are frozen) and replays it on later steps. Without
 * graph support (capabilities.graphCapture false, e.g. DSA_CUDA_DISABLE_GRAPHS=1) every step runs eagerly.
 */
export class DecodeGraphs {
  /** The buckets, ascending. */
  readonly buckets: readonly number[];
  /** Steps replayed from a graph / run eagerly / captured (for logs and benchmarks). */
  readonly stats = {
    /** Steps replayed from a captured graph. */
    replayed: 0,
    /** Steps run eagerly (warm-up, or graphs unavailable). */
    eager: 0,
    /** Graphs captured. */
    captured: 0,
  };
  private readonly backend: Backend;
  private readonly warmup: number;
  private readonly graphs = new Map<number, CapturedGraph>();
  private readonly runs = new Map<number, number>();
  private readonly stream: Stream;

  constructor(backend: Backend, buckets: readonly number[] = DEFAULT_DECODE_BUCKETS, warmup = 1) {
    if (
      buckets.length === 0 ||
      buckets.some((b, i) => !Number.isInteger(b) || b < 1 || (i > 0 && b <= buckets[i - 1]!))
    ) {
      throw new RangeError(`decode buckets must be ascending positive integers, got [${buckets.join(', ')}]`);
    }
    this.backend = backend;
    this.buckets = buckets;
    this.warmup = warmup;
    this.stream = backend.createStream();
  }

  /** The smallest bucket holding `rows` rows; throws above the largest. */
  bucketFor(rows: number): number {
    const bucket = this.buckets.find((b) => b >= rows);
    if (bucket === undefined) {
      throw new RangeError(`${rows} decode rows exceed the largest graph bucket ${this.buckets.at(-1)}`);
    }
    return bucket;
  }

  /** Runs one decode step of `rows` rows: prepare, then replay (capturing on first use) or run eagerly. */
  run(rows: number, step: DecodeStep): number {
    const bucket = this.bucketFor(rows);
    step.prepare(bucket);
    const capture = this.backend.captureGraph?.bind(this.backend);
    if (!capture || !this.backend.capabilities.graphCapture) {
      step.record(bucket);
      this.stats.eager++;
      return bucket;
    }
    let graph = this.graphs.get(bucket);
    if (!graph) {
      const seen = this.runs.get(bucket) ?? 0;
      this.runs.set(bucket, seen + 1);
      if (seen < this.warmup) {
        step.record(bucket);
        this.stats.eager++;
        return bucket;
      }
      graph = capture(this.stream, () => step.record(bucket));
      this.graphs.set(bucket, graph);
      this.stats.captured++;
    }
    graph.replay();
    this.stats.replayed++;
    return bucket;
  }

  /** Drops every captured graph (after the workspace or cache was reallocated). */
  invalidate(): void {
    for (const graph of this.graphs.values()) graph.dispose();
    this.graphs.clear();
    this.runs.clear();
  }

  /** Frees the graphs. */
  dispose(): void {
    this.invalidate();
  }
}
