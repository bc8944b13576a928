import type { FileHandle } from 'node:fs/promises';
import { type DType, dtypeBytes, dtypeToSafetensors, formatShape, numel } from '@dsa/tensor';
import { withAtomicFile } from './atomic-file.js';
import { CheckpointError } from './checkpoint-error.js';

/** One tensor to write with {@link writeSafetensors}. */
export interface SafetensorsTensorData {
  /** Name in the header; unique within the file, not `__metadata__`. */
  readonly name: string;
  /** Element type. */
  readonly dtype: DType;
  /** Dimensions, outermost first (`[]` for a scalar). */
  readonly shape: readonly number[];
  /** The raw little-endian bytes, exactly `numel(shape) * dtypeBytes(dtype)` of them. */
  readonly data: ArrayBufferView;
}

/** Largest single `write` call issued; bigger tensors are written in several calls. */
const WRITE_CHUNK_BYTES = 1 << 30;

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const want = Math.min(bytes.byteLength - done, WRITE_CHUNK_BYTES);
    const { bytesWritten } = await handle.write(bytes, done, want, position + done);
    done += bytesWritten;
  }
}

/**
 * Writes `tensors` to a safetensors file at `path`: an 8-byte little-endian header length, the JSON
 * header (`__metadata__` first when given, then the tensors in order, padded with spaces to a multiple
 * of 8 bytes), then each tensor's bytes in the order given. Data is streamed tensor by tensor, never
 * concatenated in memory. The file is written under a temporary name and renamed into place, so a
 * failed write leaves no partial file at `path`.
 *
 * @throws CheckpointError when a name is empty, repeated or `__metadata__`, a shape has a dimension that
 *   is not a non-negative integer, or a tensor's `data.byteLength` is not `numel(shape) * dtypeBytes(dtype)`.
 */
export async function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsTensorData[],
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  // A null prototype keeps a tensor called "__proto__" an ordinary key.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new CheckpointError(
          `${path}: metadata field "${key}": expected a string value, found ${typeof value}`,
          { file: path, tensor: `__metadata__.${key}` },
        );
      }
    }
    header.__metadata__ = { ...metadata };
  }

  let offset = 0;
  for (const t of tensors) {
    const fail = (message: string): CheckpointError =>
      new CheckpointError(`${path}: tensor "${t.name}": ${message}`, { file: path, tensor: t.name });
    if (t.name === '' || t.name === '__metadata__') throw fail('invalid tensor name');
    if (Object.hasOwn(header, t.name))
      throw fail('name appears more than once; expected unique tensor names');
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw fail(`shape ${formatShape(t.shape)}: expected non-negative integer dimensions`);
    }
    const expected = numel(t.shape) * dtypeBytes(t.dtype);
    if (t.data.byteLength !== expected) {
      throw fail(
        `data is ${t.data.byteLength} bytes; expected ${expected} bytes for ${dtypeToSafetensors(t.dtype)} ` +
          `${formatShape(t.shape)} (${numel(t.shape)} elements x ${dtypeBytes(t.dtype)} bytes)`,
      );
    }
    header[t.name] = {
      dtype: dtypeToSafetensors(t.dtype),
      shape: [...t.shape],
      data_offsets: [offset, offset + expected],
    };
    offset += expected;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + headerLength).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);

  await withAtomicFile(path, async (handle) => {
    await writeFully(handle, head, 0);
    let position = head.byteLength;
    for (const t of tensors) {
      await writeFully(handle, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), position);
      position += t.data.byteLength;
    }
  });
}
