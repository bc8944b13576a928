import type { FileHandle } from 'node:fs/promises';
import { formatShape, type GgmlTypeInfo } from '@dsa/tensor';
import { withAtomicFile } from '../checkpoint/atomic-file.js';
import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  GGUF_VERSION,
  type GgufValue,
  type GgufValueType,
  ggufScalarBytes,
} from './gguf-value.js';

/** One tensor to write with {@link writeGguf}; its bytes are produced when it is written. */
export interface GgufTensorData {
  /** Name in the file, unique. */
  readonly name: string;
  /** GGML type of the bytes `data` returns. */
  readonly type: GgmlTypeInfo;
  /** Dimensions outermost first (written reversed, as ggml's `ne`). */
  readonly shape: readonly number[];
  /** Produces the tensor's bytes (called once, in file order, so only one tensor is in memory at a time). */
  readonly data: () => Promise<Uint8Array>;
}

/** Progress of {@link writeGguf}. */
export interface GgufWriteProgress {
  /** Tensors written so far. */
  readonly tensorsDone: number;
  /** Tensors to write in all. */
  readonly tensorsTotal: number;
  /** Tensor data bytes written so far. */
  readonly bytesDone: number;
  /** Tensor data bytes to write in all. */
  readonly bytesTotal: number;
  /** The tensor just written. */
  readonly name: string;
}

/** Appends little-endian values to a growing byte buffer. */
class ByteSink {
  #bytes = new Uint8Array(1 << 16);
  #view = new DataView(this.#bytes.buffer);
  length = 0;
  readonly #encoder = new TextEncoder();

  #reserve(n: number): void {
    if (this.length + n <= this.#bytes.byteLength) return;
    let size = this.#bytes.byteLength * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#bytes.subarray(0, this.length));
    this.#bytes = next;
    this.#view = new DataView(next.buffer);
  }

  u32(v: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.length, v, true);
    this.length += 4;
  }

  u64(v: number | bigint): void {
    this.#reserve(8);
    this.#view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }

  string(s: string): void {
    const bytes = this.#encoder.encode(s);
    this.u64(bytes.byteLength);
    this.#reserve(bytes.byteLength);
    this.#bytes.set(bytes, this.length);
    this.length += bytes.byteLength;
  }

  scalar(type: GgufValueType, v: unknown, key: string): void {
    if (type === 'string') {
      if (typeof v !== 'string')
        throw new TypeError(`metadata "${key}": expected a string, found ${typeof v}`);
      this.string(v);
      return;
    }
    const size = ggufScalarBytes(type);
    this.#reserve(size);
    const at = this.length;
    const d = this.#view;
    if (type === 'bool') {
      if (typeof v !== 'boolean') throw new TypeError(`metadata "${key}": expected a boolean`);
      d.setUint8(at, v ? 1 : 0);
    } else if (type === 'u64' || type === 'i64') {
      if (typeof v !== 'bigint') throw new TypeError(`metadata "${key}": expected a bigint for ${type}`);
      if (type === 'u64') d.setBigUint64(at, v, true);
      else d.setBigInt64(at, v, true);
    } else {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new TypeError(`metadata "${key}": expected a finite number for ${type}, found ${String(v)}`);
      }
      if (type === 'u8') d.setUint8(at, v);
      else if (type === 'i8') d.setInt8(at, v);
      else if (type === 'u16') d.setUint16(at, v, true);
      else if (type === 'i16') d.setInt16(at, v, true);
      else if (type === 'u32') d.setUint32(at, v, true);
      else if (type === 'i32') d.setInt32(at, v, true);
      else if (type === 'f32') d.setFloat32(at, v, true);
      else d.setFloat64(at, v, true);
    }
    this.length += size;
  }

  value(value: GgufValue, key: string): void {
    this.u32(GGUF_VALUE_TYPES.indexOf(value.type));
    if (value.type !== 'array') {
      this.scalar(value.type, value.value, key);
      return;
    }
    if (value.itemType === 'array') throw new TypeError(`metadata "${key}": nested arrays are not written`);
    this.u32(GGUF_VALUE_TYPES.indexOf(value.itemType));
    this.u64(value.value.length);
    for (const item of value.value) this.scalar(value.itemType, item, key);
  }

  pad(alignment: number): void {
    const padded = Math.ceil(this.length / alignment) * alignment;
    this.#reserve(padded - this.length);
    this.#bytes.fill(0, this.length, padded);
    this.length = padded;
  }

  bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.length);
  }
}

/**
 * Writes a GGUF version 3 file: header, metadata (in the order given), tensor infos, then each tensor's
 * data at offsets aligned to `general.alignment` (32 unless the metadata sets it). Tensor bytes are
 * produced and written one tensor at a time. The file is written through {@link withAtomicFile}: a failed
 * or interrupted write leaves nothing at `path`.
 *
 * @throws CheckpointError when a tensor name repeats, a shape does not fit its type's blocks, or a
 *   tensor's bytes are not the size its type and shape imply (naming the file and tensor).
 */
export async function writeGguf(
  path: string,
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorData[],
  onProgress?: (progress: GgufWriteProgress) => void,
): Promise<void> {
  const alignmentValue = metadata.get('general.alignment');
  const alignment = alignmentValue?.type === 'u32' ? alignmentValue.value : GGUF_DEFAULT_ALIGNMENT;
  const head = new ByteSink();
  for (const c of GGUF_MAGIC) head.scalar('u8', c.charCodeAt(0), 'magic');
  head.u32(GGUF_VERSION);
  head.u64(tensors.length);
  head.u64(metadata.size);
  for (const [key, value] of metadata) {
    head.string(key);
    try {
      head.value(value, key);
    } catch (cause) {
      throw new CheckpointError(`${path}: ${(cause as Error).message}`, { file: path, tensor: key, cause });
    }
  }

  const names = new Set<string>();
  const sizes: number[] = [];
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const bad = (message: string) =>
      new CheckpointError(`${path}: tensor "${t.name}": ${message}`, { file: path, tensor: t.name });
    if (names.has(t.name)) throw bad('name appears more than once');
    names.add(t.name);
    const inner = t.shape[t.shape.length - 1] ?? 1;
    if (t.shape.length === 0 || t.shape.length > 4 || inner % t.type.blockSize !== 0) {
      throw bad(
        `${t.type.name} ${formatShape(t.shape)}: expected 1 to 4 dimensions, the innermost a multiple of ${t.type.blockSize}`,
      );
    }
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const size = (elements / t.type.blockSize) * t.type.typeSize;
    head.string(t.name);
    head.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) head.u64(t.shape[d]!);
    head.u32(t.type.id);
    head.u64(offset);
    offsets.push(offset);
    sizes.push(size);
    offset += Math.ceil(size / alignment) * alignment;
  }
  head.pad(alignment);
  const header = head.bytes();
  const bytesTotal = sizes.reduce((a, b) => a + b, 0);

  await withAtomicFile(path, async (handle) => {
    await writeAll(handle, header, 0);
    let bytesDone = 0;
    for (const [i, t] of tensors.entries()) {
      const data = await t.data();
      if (data.byteLength !== sizes[i]) {
        throw new CheckpointError(
          `${path}: tensor "${t.name}": produced ${data.byteLength} bytes, expected ${sizes[i]} for ${t.type.name} ${formatShape(t.shape)}`,
          { file: path, tensor: t.name },
        );
      }
      await writeAll(handle, data, header.byteLength + offsets[i]!);
      const padding = Math.ceil(data.byteLength / alignment) * alignment - data.byteLength;
      if (padding > 0)
        await writeAll(handle, new Uint8Array(padding), header.byteLength + offsets[i]! + data.byteLength);
      bytesDone += data.byteLength;
      onProgress?.({ tensorsDone: i + 1, tensorsTotal: tensors.length, bytesDone, bytesTotal, name: t.name });
    }
  });
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const want = Math.min(bytes.byteLength - done, 1 << 30);
    const { bytesWritten } = await handle.write(bytes, done, want, position + done);
    done += bytesWritten;
  }
}
