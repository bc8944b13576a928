import type { BufferUsage, DeviceBuffer } from '@dsa/backend';

/** Device memory from `aclrtMalloc`, with the descriptors and derived copies cached on it. */
export class AscendBuffer implements DeviceBuffer {
  /** Size of the allocation in bytes. */
  readonly byteLength: number;
  /** `"ascend:<n>"`. */
  readonly device: string;
  /** What the allocation holds. */
  readonly usage: BufferUsage;
  /** Device address (`aclrtMalloc`'s result). 0 once disposed. */
  address: number;
  /** aclTensor descriptors over this buffer, keyed by dtype/shape/strides/offset. */
  readonly descriptors = new Map<string, unknown>();
  /** Device copies derived from views of this buffer (f32 weights, dequantized fp8), by key. */
  readonly derived = new Map<string, AscendBuffer>();
  private readonly release: (buffer: AscendBuffer) => void;

  constructor(
    address: number,
    byteLength: number,
    device: string,
    usage: BufferUsage,
    release: (buffer: AscendBuffer) => void,
  ) {
    this.address = address;
    this.byteLength = byteLength;
    this.device = device;
    this.usage = usage;
    this.release = release;
  }

  /** Frees the memory once the work queued before now has finished (at the next synchronize). */
  dispose(): void {
    if (this.address === 0) return;
    this.release(this);
  }
}
