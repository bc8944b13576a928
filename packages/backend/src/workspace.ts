import { type DType, dtypeBytes, numel, type Shape, type TensorView, tensorView } from '@dsa/tensor';
import type { Backend, DeviceBuffer } from './backend.js';

const ALIGN = 256;

/**
 * Scratch memory for activations: a bump allocator over one device buffer, reset between steps.
 * The first steps find the high-water mark (overflow is served from extra buffers); `reset()` then
 * grows the arena once, so steady-state steps allocate nothing.
 */
export class Workspace {
  private arena: DeviceBuffer | null = null;
  private offset = 0;
  private peak = 0;
  private stepHigh = 0;
  private overflow: DeviceBuffer[] = [];
  private readonly backend: Backend;
  private arenaGeneration = 0;

  constructor(backend: Backend, initialBytes = 0) {
    this.backend = backend;
    if (initialBytes > 0) this.arena = backend.allocate(initialBytes, 'activations');
  }

  /**
   * Counts arena reallocations: tensors handed out under one generation keep their addresses
   * across {@link Workspace.reset}, so a captured graph that uses them is valid only while this is unchanged.
   */
  get generation(): number {
    return this.arenaGeneration;
  }

  /** Whether tensors handed out since the last reset spilled into extra buffers (freed at the next reset). */
  get overflowed(): boolean {
    return this.overflow.length > 0;
  }

  /** A fresh contiguous tensor valid until the next {@link Workspace.reset}. Contents are undefined. */
  tensor(dtype: DType, shape: Shape): TensorView {
    const bytes = Math.max(1, numel(shape) * dtypeBytes(dtype));
    const start = Math.ceil(this.offset / ALIGN) * ALIGN;
    this.offset = start + bytes;
    this.peak = Math.max(this.peak, this.offset);
    this.stepHigh = Math.max(this.stepHigh, this.offset);
    if (this.arena && this.offset <= this.arena.byteLength)
      return tensorView(this.arena, dtype, shape, start);
    const extra = this.backend.allocate(bytes, 'activations');
    this.overflow.push(extra);
    return tensorView(extra, dtype, shape, 0);
  }

  /** A position to {@link Workspace.rewind} to: tensors handed out after it are released together. */
  mark(): number {
    return this.offset;
  }

  /** Releases the tensors handed out since `mark` (overflow buffers stay until {@link Workspace.reset}). */
  rewind(mark: number): void {
    if (mark <= this.offset) this.offset = mark;
  }

  /**
   * Moves the bump pointer forward to `mark` (a value of {@link Workspace.mark} after the same
   * allocations): after replaying a captured graph that allocated those tensors without running the
   * host code, later tensors must not overlap them.
   */
  seek(mark: number): void {
    if (mark < this.offset)
      throw new RangeError(`workspace seek to ${mark} is behind the offset ${this.offset}`);
    this.offset = mark;
    this.peak = Math.max(this.peak, mark);
    this.stepHigh = Math.max(this.stepHigh, mark);
  }

  /** Bytes handed out since the last reset. */
  get used(): number {
    return this.offset;
  }

  /** The most bytes handed out at once since the last reset (the high-water mark of the current step). */
  get stepPeak(): number {
    return this.stepHigh;
  }

  /** The arena's size in bytes. */
  get capacity(): number {
    return this.arena?.byteLength ?? 0;
  }

  /** Releases every tensor handed out; grows the arena to the high-water mark if a step overflowed. */
  reset(): void {
    if (this.overflow.length > 0) {
      for (const b of this.overflow) b.dispose();
      this.overflow = [];
      this.arena?.dispose();
      this.arena = this.backend.allocate(Math.ceil((this.peak * 1.125) / ALIGN) * ALIGN, 'activations');
      this.arenaGeneration++;
    }
    this.offset = 0;
    this.stepHigh = 0;
  }

  /** Frees the arena. */
  dispose(): void {
    for (const b of this.overflow) b.dispose();
    this.overflow = [];
    this.arena?.dispose();
    this.arena = null;
    this.arenaGeneration++;
  }
}
