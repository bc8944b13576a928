import type { BufferUsage, DeviceBuffer } from '@dsa/backend';

/** Host memory standing in for device memory. Typed views over the whole allocation, one per dtype family. */
export class ReferenceBuffer implements DeviceBuffer {
  readonly device = 'reference';
  /** What the allocation holds. */
  readonly usage: BufferUsage;
  readonly byteLength: number;
  /** The allocation as bytes (exactly `byteLength` long). */
  readonly bytes: Uint8Array;
  /** f32 view over the whole allocation. */
  readonly f32: Float32Array;
  /** f64 view over the whole allocation. */
  readonly f64: Float64Array;
  /** u16 view (bf16, f16 bits) over the whole allocation. */
  readonly u16: Uint16Array;
  /** i16 view over the whole allocation. */
  readonly i16: Int16Array;
  /** i32 view over the whole allocation. */
  readonly i32: Int32Array;
  /** i8 view (f8 bits, i8) over the whole allocation. */
  readonly i8: Int8Array;
  private disposed = false;

  constructor(byteLength: number, usage: BufferUsage) {
    this.byteLength = byteLength;
    this.usage = usage;
    // Round the backing store up to 8 bytes so every typed view covers the whole allocation.
    const backing = new ArrayBuffer(Math.ceil(byteLength / 8) * 8);
    this.bytes = new Uint8Array(backing, 0, byteLength);
    this.f32 = new Float32Array(backing);
    this.f64 = new Float64Array(backing);
    this.u16 = new Uint16Array(backing);
    this.i16 = new Int16Array(backing);
    this.i32 = new Int32Array(backing);
    this.i8 = new Int8Array(backing);
  }

  /** True once `dispose` has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    this.disposed = true;
  }
}
