import { type CapturedGraph, KernelArgumentError } from '@dsa/backend';
import type { NativeAddon } from './native.js';

/** Frees the programs of graphs dropped without `dispose()`. */
const finalizer = new FinalizationRegistry<{ addon: NativeAddon; program: number }>(({ addon, program }) =>
  addon.freeProgram(program),
);

/**
 * A kernel sequence the cpu backend recorded (`CpuBackend.captureGraph`): a native program of
 * decoded, checked kernel calls (resolved pointers, shapes, strides, scalars) held by the addon.
 * `replay()` enqueues the whole program as one command; the executor runs its kernels back to back
 * with the thread pool kept spinning between them, no JavaScript in between. Kernels read their
 * tensors when they run, so a replay sees whatever was uploaded into them since (a decode step's
 * token ids, positions and block table). The program holds a reference on every buffer it uses: a
 * buffer disposed meanwhile keeps its memory until the graph is disposed.
 */
export class CpuGraph implements CapturedGraph {
  private program: number;

  constructor(
    private readonly addon: NativeAddon,
    /** The backend's queue handle now (it changes once the backend is disposed). */
    private readonly queue: () => number,
    program: number,
    private readonly onDispose: (graph: CpuGraph) => void,
  ) {
    this.program = program;
    finalizer.register(this, { addon, program }, this);
  }

  /** Names of the recorded kernels, in order. */
  get kernels(): readonly string[] {
    if (this.program < 0) return [];
    return this.addon.programOps(this.program);
  }

  /** Enqueues the recorded kernels on the backend's queue (the stream is ignored: there is one queue). */
  replay(): void {
    if (this.program < 0) throw new KernelArgumentError('replay', 'the captured graph was disposed');
    try {
      this.addon.replay(this.queue(), this.program);
    } catch (error) {
      throw new KernelArgumentError('replay', (error as Error).message);
    }
  }

  /** Frees the program (queued replays still run); the graph must not be replayed afterwards. */
  dispose(): void {
    if (this.program < 0) return;
    finalizer.unregister(this);
    this.addon.freeProgram(this.program);
    this.program = -1;
    this.onDispose(this);
  }
}
