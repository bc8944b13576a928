import type { BufferUsage, DeviceBuffer } from '@dsa/backend';

/** Host memory standing in for device memory. Typed views over the whole allocation, one per dtype family. */
export class ReferenceBuffer implements DeviceBuffer {
  readonly device = 'reference';
  readonly usage: BufferUsage;
  readonly byteLength: number;
  readonly bytes: Uint8Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly i32: Int32Array;
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

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    this.disposed = true;
  }
}
