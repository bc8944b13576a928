import type { FileHandle } from 'node:fs/promises';
import {
  DTYPES,
  type DType,
  dtypeBytes,
  dtypeFromSafetensors,
  dtypeToSafetensors,
  formatShape,
  numel,
} from '@dsa/tensor';
import { CheckpointError } from './checkpoint-error.js';
import { CheckpointFile } from './checkpoint-file.js';
import { openCheckpointFile } from './open-checkpoint-file.js';

/** Where one tensor lives on disk and what it holds, as read from a safetensors header. */
export interface TensorInfo {
  /** The tensor's name in the header (`model.layers.0.self_attn.q_a_proj.weight`). */
  readonly name: string;
  /** Element type. */
  readonly dtype: DType;
  /** Dimensions, outermost first (`[]` for a scalar). */
  readonly shape: number[];
  /** Absolute byte position of the first element in the file. */
  readonly byteOffset: number;
  /** Bytes the tensor takes: `numel(shape) * dtypeBytes(dtype)`. */
  readonly byteLength: number;
  /** Path of the file holding the tensor, as it was given to {@link SafetensorsFile.open}. */
  readonly file: string;
}

/** Largest header accepted, in bytes (the limit the reference `safetensors` implementation uses). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Largest single `read` call issued; bigger tensors are read in several calls. */
const READ_CHUNK_BYTES = 1 << 30;

const HEADER_METADATA_KEY = '__metadata__';

function known(): string {
  return DTYPES.map(dtypeToSafetensors).join(', ');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array ${truncate(JSON.stringify(value))}`;
  if (typeof value === 'string') return `string ${truncate(JSON.stringify(value))}`;
  if (typeof value === 'object') return 'object';
  return `${typeof value} ${String(value)}`;
}

function truncate(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max - 3)}...`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Reads exactly `length` bytes at `position` into `target[offset..]`, in chunks, failing on a short file. */
async function readFully(
  handle: FileHandle,
  target: Uint8Array,
  offset: number,
  length: number,
  position: number,
  file: string,
  tensor: string,
  label = `tensor "${tensor}"`,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const want = Math.min(length - done, READ_CHUNK_BYTES);
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(target, offset + done, want, position + done));
    } catch (cause) {
      throw new CheckpointError(
        `${file}: ${label}: read of ${length} bytes at byte ${position} failed: ${cause}`,
        {
          file,
          tensor,
          cause,
        },
      );
    }
    if (bytesRead === 0) {
      throw new CheckpointError(
        `${file}: ${label}: expected ${length} bytes at byte ${position}, found only ${done} (file truncated?)`,
        { file, tensor },
      );
    }
    done += bytesRead;
  }
}

/**
 * One `.safetensors` file, opened for random access.
 *
 * {@link SafetensorsFile.open} reads and validates only the header (8-byte little-endian length, then
 * JSON); tensor bytes are read on demand with positioned reads, so multi-gigabyte shards cost nothing
 * to open. One file handle stays open until {@link SafetensorsFile.close}; concurrent reads are safe.
 */
export class SafetensorsFile extends CheckpointFile {
  /** Every tensor in the header, by name, in header order. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The header's `__metadata__` (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute byte position where tensor data starts (8 + header length). */
  readonly dataStart: number;

  private constructor(
    path: string,
    handle: FileHandle,
    size: number,
    dataStart: number,
    tensors: Map<string, TensorInfo>,
    metadata: Record<string, string>,
  ) {
    super(path, handle, size);
    this.dataStart = dataStart;
    this.tensors = tensors;
    this.metadata = Object.freeze(metadata);
  }

  /**
   * Opens `path` and parses and validates its header, without reading tensor data.
   *
   * @throws CheckpointError when the file cannot be opened, or its header is malformed or inconsistent
   *   with the file (unknown dtype, bad shape or offsets, byte length not matching the shape, offsets
   *   past the end of the file, overlapping tensors, non-string metadata, ...). The message names the
   *   file and the tensor or field.
   */
  static async open(path: string): Promise<SafetensorsFile> {
    return openCheckpointFile(path, 'safetensors', async (handle) => {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        throw new CheckpointError(`${path}: expected a safetensors file, found a directory or special file`, {
          file: path,
        });
      }
      const size = stat.size;
      if (size < 8) {
        throw new CheckpointError(
          `${path}: file is ${size} bytes; a safetensors file needs at least 8 bytes (the header length)`,
          { file: path, tensor: 'header length' },
        );
      }
      const prefix = new Uint8Array(8);
      await readFully(handle, prefix, 0, 8, 0, path, 'header length', 'header length');
      const headerLength64 = new DataView(prefix.buffer).getBigUint64(0, true);
      if (headerLength64 > BigInt(MAX_HEADER_BYTES)) {
        throw new CheckpointError(
          `${path}: header length ${headerLength64} bytes is too large: expected at most ${MAX_HEADER_BYTES} ` +
            `bytes (the file is ${size} bytes; is this a safetensors file?)`,
          { file: path, tensor: 'header length' },
        );
      }
      const headerLength = Number(headerLength64);
      if (8 + headerLength > size) {
        throw new CheckpointError(
          `${path}: header length ${headerLength} bytes runs past the end of the file: expected at most ` +
            `${size - 8} bytes (file is ${size} bytes; truncated, or not a safetensors file?)`,
          { file: path, tensor: 'header length' },
        );
      }
      const headerBytes = new Uint8Array(headerLength);
      await readFully(handle, headerBytes, 0, headerLength, 8, path, 'header', 'header');
      const header = parseHeader(path, headerBytes);
      const dataStart = 8 + headerLength;
      const { tensors, metadata } = validateHeader(path, header, dataStart, size);
      return new SafetensorsFile(path, handle, size, dataStart, tensors, metadata);
    });
  }

  /** True when the file holds a tensor called `name`. */
  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /**
   * Where tensor `name` lives and what it holds.
   *
   * @throws CheckpointError when the file has no such tensor.
   */
  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (info === undefined) {
      throw new CheckpointError(
        `${this.path}: tensor "${name}" not found (the file has ${this.tensors.size} tensors)`,
        {
          file: this.path,
          tensor: name,
        },
      );
    }
    return info;
  }

  /**
   * Reads the bytes of tensor `name` into a fresh buffer.
   *
   * The result is a `Uint8Array` over its own `ArrayBuffer` (byte offset 0, exact length), so it can be
   * viewed as any typed array: `new Float32Array(bytes.buffer)`.
   *
   * @throws CheckpointError when the tensor does not exist, the file was closed, or the read fails.
   */
  async read(name: string): Promise<Uint8Array> {
    const info = this.info(name);
    const target = new Uint8Array(new ArrayBuffer(info.byteLength));
    await this.readInto(name, target);
    return target;
  }

  /**
   * Reads the bytes of tensor `name` into `target`, whose length must equal the tensor's byte length.
   *
   * @throws CheckpointError when the tensor does not exist, `target` has the wrong length, the file was
   *   closed, or the read fails.
   */
  async readInto(name: string, target: Uint8Array): Promise<void> {
    const info = this.info(name);
    if (target.byteLength !== info.byteLength) {
      throw new CheckpointError(
        `${this.path}: tensor "${name}": target buffer is ${target.byteLength} bytes; expected ` +
          `${info.byteLength} bytes (${dtypeToSafetensors(info.dtype)} ${formatShape(info.shape)})`,
        { file: this.path, tensor: name },
      );
    }
    await this.readRange(name, 0, target);
  }

  /**
   * Reads `target.byteLength` bytes of tensor `name` from `byteOffset` bytes into it.
   *
   * @throws CheckpointError when the tensor does not exist, the range leaves it, the file was closed, or the
   *   read fails.
   */
  async readRange(name: string, byteOffset: number, target: Uint8Array): Promise<void> {
    const info = this.info(name);
    if (
      !(Number.isInteger(byteOffset) && byteOffset >= 0 && byteOffset + target.byteLength <= info.byteLength)
    ) {
      throw new CheckpointError(
        `${this.path}: tensor "${name}": bytes ${byteOffset}..${byteOffset + target.byteLength} leave its ` +
          `${info.byteLength} bytes`,
        { file: this.path, tensor: name },
      );
    }
    const handle = this.handle;
    if (handle === undefined) {
      throw new CheckpointError(`${this.path}: tensor "${name}": cannot read, the file has been closed`, {
        file: this.path,
        tensor: name,
      });
    }
    await readFully(handle, target, 0, target.byteLength, info.byteOffset + byteOffset, this.path, name);
  }
}

function parseHeader(path: string, bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new CheckpointError(`${path}: header is not valid UTF-8: expected a UTF-8 JSON object`, {
      file: path,
      tensor: 'header',
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CheckpointError(
      `${path}: header is not valid JSON (${(cause as Error).message}); found ${describe(text)}`,
      { file: path, tensor: 'header', cause },
    );
  }
  if (!isRecord(json)) {
    throw new CheckpointError(`${path}: header must be a JSON object; found ${describe(json)}`, {
      file: path,
      tensor: 'header',
    });
  }
  return json;
}

function validateHeader(
  path: string,
  header: Record<string, unknown>,
  dataStart: number,
  fileSize: number,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  const dataBytes = fileSize - dataStart;

  for (const [name, entry] of Object.entries(header)) {
    if (name === HEADER_METADATA_KEY) {
      if (!isRecord(entry)) {
        throw new CheckpointError(
          `${path}: "${HEADER_METADATA_KEY}" must be an object; found ${describe(entry)}`,
          {
            file: path,
            tensor: HEADER_METADATA_KEY,
          },
        );
      }
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value !== 'string') {
          throw new CheckpointError(
            `${path}: metadata field "${HEADER_METADATA_KEY}.${key}": expected a string value, found ${describe(value)}`,
            { file: path, tensor: `${HEADER_METADATA_KEY}.${key}` },
          );
        }
        metadata[key] = value;
      }
      continue;
    }

    const fail: (message: string) => never = (message) => {
      throw new CheckpointError(`${path}: tensor "${name}": ${message}`, { file: path, tensor: name });
    };
    if (!isRecord(entry))
      fail(`expected an object with dtype, shape and data_offsets; found ${describe(entry)}`);

    const dtypeName = entry.dtype;
    if (dtypeName === undefined) fail('missing field "dtype"');
    if (typeof dtypeName !== 'string') fail(`field "dtype": expected a string, found ${describe(dtypeName)}`);
    const dtype = dtypeFromSafetensors(dtypeName);
    if (dtype === undefined) fail(`unknown dtype ${JSON.stringify(dtypeName)}; known dtypes: ${known()}`);

    const shape = entry.shape;
    if (shape === undefined) fail('missing field "shape"');
    if (!Array.isArray(shape))
      fail(`field "shape": expected an array of dimensions, found ${describe(shape)}`);
    const dims: number[] = [];
    for (const [i, dim] of (shape as unknown[]).entries()) {
      if (!isCount(dim)) {
        fail(
          `field "shape" ${truncate(JSON.stringify(shape))}: dimension ${i} must be a non-negative integer, ` +
            `found ${describe(dim)}`,
        );
      }
      dims.push(dim);
    }

    const offsets = entry.data_offsets;
    if (offsets === undefined) fail('missing field "data_offsets"');
    if (!Array.isArray(offsets) || offsets.length !== 2 || !isCount(offsets[0]) || !isCount(offsets[1])) {
      fail(
        `field "data_offsets": expected [begin, end] of non-negative integers, found ${describe(offsets)}`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`field "data_offsets" [${begin}, ${end}]: end ${end} is before begin ${begin}`);

    const elements = numel(dims);
    const expected = elements * dtypeBytes(dtype);
    if (end - begin !== expected) {
      fail(
        `data_offsets [${begin}, ${end}] hold ${end - begin} bytes; expected ${expected} bytes for ` +
          `${dtypeName} ${formatShape(dims)} (${elements} elements x ${dtypeBytes(dtype)} bytes)`,
      );
    }
    if (end > dataBytes) {
      fail(
        `data_offsets [${begin}, ${end}] run past the end of the file: the data section holds ${dataBytes} ` +
          `bytes (file ${fileSize} bytes, data starts at byte ${dataStart}); file truncated?`,
      );
    }

    tensors.set(
      name,
      Object.freeze({
        name,
        dtype,
        shape: Object.freeze(dims) as number[],
        byteOffset: dataStart + begin,
        byteLength: expected,
        file: path,
      }),
    );
  }

  checkOverlaps(path, tensors, dataStart);
  return { tensors, metadata };
}

function checkOverlaps(path: string, tensors: Map<string, TensorInfo>, dataStart: number): void {
  const ranges = [...tensors.values()]
    .filter((t) => t.byteLength > 0)
    .sort((a, b) => a.byteOffset - b.byteOffset);
  let last: TensorInfo | undefined;
  for (const t of ranges) {
    if (last !== undefined && t.byteOffset < last.byteOffset + last.byteLength) {
      const span = (x: TensorInfo) =>
        `[${x.byteOffset - dataStart}, ${x.byteOffset - dataStart + x.byteLength}]`;
      throw new CheckpointError(
        `${path}: tensors "${last.name}" (data_offsets ${span(last)}) and "${t.name}" (data_offsets ` +
          `${span(t)}) overlap; expected disjoint byte ranges`,
        { file: path, tensor: t.name },
      );
    }
    if (last === undefined || t.byteOffset + t.byteLength > last.byteOffset + last.byteLength) last = t;
  }
}
