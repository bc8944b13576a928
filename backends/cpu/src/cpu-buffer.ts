import type { BufferUsage, DeviceBuffer } from '@dsa/backend';
import type { NativeAddon } from './native.js';

/** Frees buffers whose handles were dropped without `dispose()`. */
const finalizer = new FinalizationRegistry<{ addon: NativeAddon; id: number }>(({ addon, id }) =>
  addon.free(id),
);

/**
 * Host memory owned by the addon (64-byte aligned), standing in for device memory. JavaScript only
 * holds the handle: data moves through `upload` / `download`.
 */
export class CpuBuffer implements DeviceBuffer {
  readonly device = 'cpu';
  readonly usage: BufferUsage;
  readonly byteLength: number;
  private handle: number;
  private readonly addon: NativeAddon;
  private readonly onDispose: ((buffer: CpuBuffer) => void) | undefined;

  constructor(
    addon: NativeAddon,
    byteLength: number,
    usage: BufferUsage,
    onDispose?: (buffer: CpuBuffer) => void,
  ) {
    this.addon = addon;
    this.onDispose = onDispose;
    this.byteLength = byteLength;
    this.usage = usage;
    // Weights are overwritten by their upload and share huge pages; caches and activations start zeroed.
    this.handle = addon.allocate(byteLength, usage);
    finalizer.register(this, { addon, id: this.handle }, this);
  }

  /** The addon's handle of this allocation; -1 once disposed. */
  get id(): number {
    return this.handle;
  }

  get isDisposed(): boolean {
    return this.handle < 0;
  }

  dispose(): void {
    if (this.handle < 0) return;
    finalizer.unregister(this);
    this.addon.free(this.handle);
    this.handle = -1;
    this.onDispose?.(this);
  }
}
