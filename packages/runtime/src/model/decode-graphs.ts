import { type Backend, type CapturedGraph, type DeviceBuffer, type Stream, Workspace } from '@dsa/backend';
import { type TensorView, tensorView } from '@dsa/tensor';
import { type StepInputs, stepInputs, stepInputsLength } from './step-inputs.js';

/** Batch-size buckets a decode step is padded to; one captured graph per bucket (and context bound). */
export const DECODE_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/**
 * The stream graphs are captured on and replayed on: the backend's default compute stream (id 0
 * on cuda, where uploads, sampling and downloads also go, so a replay is ordered with them; the
 * reference backend runs everything in order whatever the stream).
 */
export const COMPUTE_STREAM: Stream = { id: 0 };

/** Counters of {@link DecodeGraphs} (for logs, benchmarks and tests). */
export interface DecodeGraphStats {
  /** Steps replayed from a captured graph (the capturing step included). */
  replayed: number;
  /** Steps of the graph path run eagerly (warm-up, or after a failed capture). */
  eager: number;
  /** Graphs captured. */
  captured: number;
  /** Times every graph was dropped because the workspace arena was reallocated. */
  invalidations: number;
  /** Captures that failed (the step ran eagerly; the key is not captured again). */
  failures: number;
  /** The message of the last failed capture, or null. */
  lastFailure: string | null;
}

interface Entry {
  readonly graph: CapturedGraph;
  readonly logits: TensorView;
  readonly end: number;
}

/**
 * Captured decode steps: one graph per key (batch bucket, context bound, attention path), captured
 * lazily after `warmup` eager runs of that key (so the workspace has grown to hold its tensors), and
 * dropped when the workspace arena is reallocated (its `Workspace.generation` changes).
 */
export class DecodeGraphs {
  /** Counters. */
  readonly stats: DecodeGraphStats = {
    replayed: 0,
    eager: 0,
    captured: 0,
    invalidations: 0,
    failures: 0,
    lastFailure: null,
  };
  private readonly graphs = new Map<string, Entry>();
  private readonly warm = new Map<string, number>();
  private readonly failed = new Set<string>();
  private readonly inputsByBucket = new Map<number, StepInputs>();
  private readonly buffers: DeviceBuffer[] = [];
  private generation: number;
  /** A workspace the backend's own fused kernels allocate from (duck-typed `backend.workspace`), if any. */
  private readonly backendWorkspace: Workspace | null;

  constructor(
    private readonly backend: Backend,
    private readonly workspace: Workspace,
    /** Block-table columns of every bucket (the pool maximum; kernels bake it into their launches). */
    readonly width: number,
    /** Eager runs of a key before it is captured. */
    readonly warmup = 1,
    /** Batch buckets, ascending. */
    readonly buckets: readonly number[] = DECODE_BUCKETS,
  ) {
    const own = (backend as { workspace?: unknown }).workspace;
    this.backendWorkspace = own instanceof Workspace && own !== workspace ? own : null;
    this.generation = this.generations();
  }

  /** Changes whenever the model's or the backend's workspace arena is reallocated (both only grow). */
  private generations(): number {
    return this.workspace.generation + (this.backendWorkspace?.generation ?? 0);
  }

  /** The smallest bucket holding `rows` rows, or null above the largest. */
  bucketFor(rows: number): number | null {
    return this.buckets.find((b) => b >= rows) ?? null;
  }

  /**
   * The static inputs of `bucket` (allocated on first use, outside the workspace): `bucket` rows, one
   * sequence each, and a block table as wide as the pool maximum.
   */
  inputs(bucket: number): StepInputs {
    let inputs = this.inputsByBucket.get(bucket);
    if (inputs) return inputs;
    const length = stepInputsLength(bucket, bucket, this.width);
    const buffer = this.backend.allocate(length * 4, 'activations');
    this.buffers.push(buffer);
    inputs = stepInputs(tensorView(buffer, 'i32', [length]), bucket, bucket, this.width);
    this.inputsByBucket.set(bucket, inputs);
    return inputs;
  }

  /**
   * Runs the step `record` enqueues for `key`: replays its graph, or runs it eagerly (warm-up), or
   * captures it and replays. `record` must only enqueue kernels over the bucket's inputs and workspace
   * tensors, allocating the same tensors every time; it returns the logits. Call right after
   * `workspace.reset()`; afterwards the workspace is positioned after the step's tensors.
   */
  run(key: string, record: () => TensorView): TensorView {
    const ws = this.workspace;
    const generation = this.generations();
    if (generation !== this.generation) {
      this.invalidate();
      this.generation = generation;
    }
    const entry = this.graphs.get(key);
    if (entry) {
      entry.graph.replay(COMPUTE_STREAM);
      ws.seek(entry.end);
      this.stats.replayed++;
      return entry.logits;
    }
    const capture = this.backend.captureGraph?.bind(this.backend);
    const seen = this.warm.get(key) ?? 0;
    if (!capture || seen < this.warmup || this.failed.has(key)) {
      this.warm.set(key, seen + 1);
      this.stats.eager++;
      return record();
    }
    let logits: TensorView | null = null;
    let end = 0;
    let graph: CapturedGraph;
    try {
      graph = capture(COMPUTE_STREAM, () => {
        logits = record();
        end = ws.mark();
      });
    } catch (error) {
      this.failed.add(key);
      this.stats.failures++;
      this.stats.lastFailure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      ws.reset();
      this.stats.eager++;
      return record();
    }
    if (ws.overflowed || this.generations() !== this.generation || !logits) {
      // The step outgrew the arena during capture: the graph names buffers the next reset frees.
      graph.dispose();
      this.warm.set(key, 0);
      ws.reset();
      this.stats.eager++;
      return record();
    }
    this.graphs.set(key, { graph, logits, end });
    this.stats.captured++;
    graph.replay(COMPUTE_STREAM);
    this.stats.replayed++;
    return logits;
  }

  /** Drops every captured graph (the workspace arena or a buffer they read was reallocated). */
  invalidate(): void {
    if (this.graphs.size > 0) this.stats.invalidations++;
    for (const entry of this.graphs.values()) entry.graph.dispose();
    this.graphs.clear();
  }

  /** Frees the graphs and the input buffers. */
  dispose(): void {
    this.invalidate();
    for (const b of this.buffers) b.dispose();
    this.buffers.length = 0;
    this.inputsByBucket.clear();
  }
}
