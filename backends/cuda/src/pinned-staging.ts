import koffi from 'koffi';
import type { CudaDriver } from './cuda-driver.js';
import { out64 } from './cuda-driver.js';

/** Default size of the upload ring in pinned host memory. */
export const UPLOAD_RING_BYTES = 32 * 1024 * 1024;

/**
 * Page-locked host memory (cuMemHostAlloc) for truly asynchronous copies. Uploads go through a ring:
 * the bytes are copied into the next free slot and cuMemcpyHtoDAsync is enqueued from there, so the
 * caller's array may change right after `upload` returns. When the ring wraps, the streams that used
 * it are synchronized first (rare: once per ring's worth of uploads). Downloads get their own pinned
 * block for the time the copy is in flight.
 */
export class PinnedStaging {
  private readonly driver: CudaDriver;
  private readonly ring: { address: bigint; bytes: Uint8Array } | null;
  private head = 0;
  private readonly streams = new Set<bigint>();
  private readonly pool: { address: bigint; bytes: Uint8Array }[] = [];

  constructor(driver: CudaDriver, ringBytes = UPLOAD_RING_BYTES) {
    this.driver = driver;
    this.ring = ringBytes > 0 ? this.allocate(ringBytes) : null;
  }

  /** Allocates `bytes` of pinned memory and a JS view of it. */
  allocate(bytes: number): { address: bigint; bytes: Uint8Array } {
    const address = out64();
    this.driver.call('cuMemHostAlloc', address, Math.max(1, bytes), 0);
    return { address: address[0]!, bytes: new Uint8Array(koffi.view(address[0]!, Math.max(1, bytes))) };
  }

  /** Enqueues the host→device copy of `source` to device address `destination` on `stream`. */
  upload(destination: bigint, source: Uint8Array, stream: bigint): void {
    const ring = this.ring!;
    const capacity = ring.bytes.byteLength;
    for (let done = 0; done < source.byteLength; ) {
      const remaining = source.byteLength - done;
      if (capacity - this.head < Math.min(remaining, capacity)) this.wrap();
      const length = Math.min(remaining, capacity - this.head);
      ring.bytes.set(source.subarray(done, done + length), this.head);
      this.driver.call(
        'cuMemcpyHtoDAsync_v2',
        destination + BigInt(done),
        ring.address + BigInt(this.head),
        length,
        stream,
      );
      this.streams.add(stream);
      this.head = Math.ceil((this.head + length) / 256) * 256;
      if (this.head > capacity) this.head = capacity;
      done += length;
    }
  }

  /** A pinned block of at least `bytes` for one download; give it back with {@link PinnedStaging.release}. */
  take(bytes: number): { address: bigint; bytes: Uint8Array } {
    const index = this.pool.findIndex((b) => b.bytes.byteLength >= bytes);
    if (index >= 0) return this.pool.splice(index, 1)[0]!;
    return this.allocate(Math.max(bytes, 1 << 20));
  }

  /** Returns a block from {@link PinnedStaging.take} to the pool (at most 8 are kept). */
  release(block: { address: bigint; bytes: Uint8Array }): void {
    if (this.pool.length < 8) this.pool.push(block);
    else this.driver.raw('cuMemFreeHost', block.address);
  }

  private wrap(): void {
    for (const stream of this.streams) this.driver.call('cuStreamSynchronize', stream);
    this.streams.clear();
    this.head = 0;
  }

  /** Frees every pinned block. */
  dispose(): void {
    if (this.ring) this.driver.raw('cuMemFreeHost', this.ring.address);
    for (const block of this.pool) this.driver.raw('cuMemFreeHost', block.address);
    this.pool.length = 0;
  }
}
