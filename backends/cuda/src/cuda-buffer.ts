import type { BufferUsage, DeviceBuffer } from '@dsa/backend';

/** Frees device memory whose handle was dropped without `dispose()`. */
const finalizer = new FinalizationRegistry<() => void>((free) => free());

/** Device memory from cuMemAlloc. JavaScript holds only the handle; data moves with upload/download. */
export class CudaBuffer implements DeviceBuffer {
  /** `"cuda:N"`. */
  readonly device: string;
  readonly usage: BufferUsage;
  readonly byteLength: number;
  private current: bigint;
  private readonly free: (address: bigint) => void;

  constructor(
    device: string,
    address: bigint,
    byteLength: number,
    usage: BufferUsage,
    free: (address: bigint) => void,
  ) {
    this.device = device;
    this.current = address;
    this.byteLength = byteLength;
    this.usage = usage;
    this.free = free;
    if (address !== 0n) finalizer.register(this, () => free(address), this);
  }

  /** The device address of byte 0 (0n for an empty buffer); throws once disposed. */
  get address(): bigint {
    if (this.current < 0n)
      throw new Error(`a ${this.usage} buffer of ${this.byteLength} bytes on ${this.device} was disposed`);
    return this.current;
  }

  /** Whether `dispose()` has run. */
  get isDisposed(): boolean {
    return this.current < 0n;
  }

  dispose(): void {
    if (this.current < 0n) return;
    finalizer.unregister(this);
    if (this.current !== 0n) this.free(this.current);
    this.current = -1n;
  }
}
