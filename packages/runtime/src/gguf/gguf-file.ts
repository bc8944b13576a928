import type { FileHandle } from 'node:fs/promises';
import { formatShape, type GgmlTypeInfo, ggmlTypeInfo } from '@dsa/tensor';
import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import { CheckpointFile } from '../checkpoint/checkpoint-file.js';
import { openCheckpointFile } from '../checkpoint/open-checkpoint-file.js';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  type GgufValue,
  type GgufValueType,
  ggufScalarBytes,
} from './gguf-value.js';

/** One tensor of a GGUF file, as its tensor info describes it. */
export interface GgufTensorInfo {
  /** Name in the file (`blk.0.attn_q_a.weight`). */
  readonly name: string;
  /** GGML element type and its block layout. */
  readonly type: GgmlTypeInfo;
  /** Dimensions in ggml order, innermost (contiguous) first: `ne[0], ne[1], ...`. */
  readonly dims: readonly number[];
  /** Dimensions outermost first (the reverse of `dims`), as safetensors and our views write them. */
  readonly shape: readonly number[];
  /** Absolute byte position of the data in the file (aligned: mmap-friendly). */
  readonly byteOffset: number;
  /** Bytes of the data. */
  readonly byteLength: number;
  /** Path of the file. */
  readonly file: string;
}

/** Largest GGML tensor rank (`GGML_MAX_DIMS`). */
const MAX_DIMS = 4;
/** Nesting limit of array values (GGUF allows arrays of arrays; real files do not nest). */
const MAX_ARRAY_DEPTH = 4;
/**
 * Largest GGUF header accepted (metadata and tensor infos), in bytes. Real headers take a few MiB (a 256K-token
 * vocabulary with its merges is about 10 MiB); the header is held in memory and its arrays become JS arrays of
 * up to 8 bytes an item, so a larger one is refused before it is read rather than exhausting the heap.
 */
export const GGUF_MAX_HEADER_BYTES = 64 << 20;
/** First read of the header region; doubled until the header fits. */
const FIRST_HEADER_READ = 1 << 22;
const READ_CHUNK_BYTES = 1 << 30;

/** Raised by the cursor when the header runs past the bytes read so far (not past the file). */
class NeedMoreBytes extends Error {}

function fail(path: string, field: string, message: string): never {
  throw new CheckpointError(`${path}: ${field}: ${message}`, { file: path, tensor: field });
}

/** Readers of GGUF's number types at a byte offset (little-endian). */
const NUMBER_READERS: Partial<Record<GgufValueType, (v: DataView, at: number) => number | bigint>> = {
  u8: (v, at) => v.getUint8(at),
  i8: (v, at) => v.getInt8(at),
  u16: (v, at) => v.getUint16(at, true),
  i16: (v, at) => v.getInt16(at, true),
  u32: (v, at) => v.getUint32(at, true),
  i32: (v, at) => v.getInt32(at, true),
  f32: (v, at) => v.getFloat32(at, true),
  f64: (v, at) => v.getFloat64(at, true),
  u64: (v, at) => v.getBigUint64(at, true),
  i64: (v, at) => v.getBigInt64(at, true),
};

/** A bounds-checked little-endian reader over the header bytes read so far. */
class Cursor {
  position = 0;
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    bytes: Uint8Array,
    readonly fileSize: number,
    readonly path: string,
  ) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * Checks `n` more bytes exist in the file and within {@link GGUF_MAX_HEADER_BYTES} (else a typed error about
   * `field`) and have been read.
   */
  need(n: number, field: string): void {
    if (this.position + n > this.fileSize) {
      fail(
        this.path,
        field,
        `needs ${n} bytes at byte ${this.position}, but the file ends at byte ${this.fileSize} (truncated, or not a GGUF file?)`,
      );
    }
    if (this.position + n > GGUF_MAX_HEADER_BYTES) {
      fail(
        this.path,
        field,
        `needs ${n} bytes at byte ${this.position}, past the ${GGUF_MAX_HEADER_BYTES} bytes a GGUF header may take`,
      );
    }
    if (this.position + n > this.#bytes.byteLength) throw new NeedMoreBytes();
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.#view.getUint32(this.position, true);
    this.position += 4;
    return v;
  }

  /** A u64 that must fit a safe integer. */
  count(field: string): number {
    this.need(8, field);
    const v = this.#view.getBigUint64(this.position, true);
    this.position += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(this.path, field, `value ${v} is too large`);
    return Number(v);
  }

  string(field: string): string {
    const length = this.count(`${field} (string length)`);
    this.need(length, field);
    const bytes = this.#bytes.subarray(this.position, this.position + length);
    this.position += length;
    try {
      return this.#decoder.decode(bytes);
    } catch {
      return fail(this.path, field, 'string is not valid UTF-8');
    }
  }

  scalar(type: GgufValueType, field: string): number | bigint | boolean | string {
    if (type === 'string') return this.string(field);
    const size = ggufScalarBytes(type);
    this.need(size, field);
    const at = this.position;
    this.position += size;
    const v = this.#view;
    const read = NUMBER_READERS[type];
    if (read !== undefined) return read(v, at);
    if (type !== 'bool') return fail(this.path, field, `unexpected value type ${type}`);
    const b = v.getUint8(at);
    if (b > 1) fail(this.path, field, `expected a bool (0 or 1), found ${b}`);
    return b === 1;
  }

  valueType(field: string): GgufValueType {
    const id = this.u32(`${field} (value type)`);
    const type = GGUF_VALUE_TYPES[id];
    if (type === undefined) {
      fail(this.path, field, `unknown value type ${id}; expected 0..${GGUF_VALUE_TYPES.length - 1}`);
    }
    return type;
  }

  value(type: GgufValueType, field: string, depth = 0): GgufValue {
    if (type !== 'array') return { type, value: this.scalar(type, field) } as GgufValue;
    if (depth >= MAX_ARRAY_DEPTH) fail(this.path, field, `arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
    const itemType = this.valueType(`${field}[]`);
    const length = this.count(`${field} (array length)`);
    // Every item takes at least one byte (strings take 8), so a length past the file is malformed.
    const minimum = itemType === 'string' || itemType === 'array' ? 8 : ggufScalarBytes(itemType);
    if (length * minimum > this.fileSize - this.position) {
      fail(this.path, field, `array of ${length} ${itemType} values cannot fit in the rest of the file`);
    }
    if (length * minimum > GGUF_MAX_HEADER_BYTES - this.position) {
      fail(
        this.path,
        field,
        `array of ${length} ${itemType} values runs past the ${GGUF_MAX_HEADER_BYTES} bytes a GGUF header may take`,
      );
    }
    const items: unknown[] = new Array(length);
    for (let i = 0; i < length; i++) {
      items[i] =
        itemType === 'array'
          ? this.value('array', `${field}[${i}]`, depth + 1).value
          : this.scalar(itemType, `${field}[${i}]`);
    }
    return { type: 'array', itemType, value: items };
  }
}

interface ParsedHeader {
  readonly version: number;
  readonly metadata: Map<string, GgufValue>;
  readonly tensors: Map<string, GgufTensorInfo>;
  readonly alignment: number;
  readonly dataStart: number;
}

function parseHeader(cursor: Cursor, path: string): ParsedHeader {
  const magic = String.fromCharCode(...[0, 1, 2, 3].map(() => cursor.scalar('u8', 'magic') as number));
  if (magic !== GGUF_MAGIC) {
    fail(path, 'magic', `expected "GGUF", found ${JSON.stringify(magic)} (not a GGUF file)`);
  }
  const version = cursor.u32('version');
  if (version !== 2 && version !== 3) {
    fail(path, 'version', `GGUF version ${version} is not supported; expected 2 or 3`);
  }
  const tensorCount = cursor.count('tensor_count');
  const kvCount = cursor.count('metadata_kv_count');
  // A tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes; a key-value pair at least 8 + 4 + 1. Each count is
  // checked alone first, so the error names the one that lies.
  const room = Math.min(cursor.fileSize, GGUF_MAX_HEADER_BYTES);
  const fits = (field: string, count: number, minimum: number, what: string) => {
    if (count * minimum > room) {
      fail(path, field, `${count} ${what} of at least ${minimum} bytes each cannot fit in ${room} bytes`);
    }
  };
  fits('tensor_count', tensorCount, 32, 'tensor infos');
  fits('metadata_kv_count', kvCount, 13, 'metadata entries');
  if (tensorCount * 32 + kvCount * 13 > room) {
    fail(
      path,
      'tensor_count, metadata_kv_count',
      `${tensorCount} tensors and ${kvCount} metadata entries cannot fit in ${room} bytes`,
    );
  }

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string(`metadata key ${i}`);
    if (metadata.has(key)) fail(path, key, 'metadata key appears twice');
    const type = cursor.valueType(key);
    metadata.set(key, cursor.value(type, key));
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const alignmentValue = metadata.get('general.alignment');
  if (alignmentValue !== undefined) {
    const a = alignmentValue.value;
    if (alignmentValue.type !== 'u32' || typeof a !== 'number' || a === 0 || (a & (a - 1)) !== 0) {
      fail(
        path,
        'general.alignment',
        `expected a u32 power of two, found ${alignmentValue.type} ${String(a)}`,
      );
    }
    alignment = a;
  }

  const infos: { name: string; type: GgmlTypeInfo; dims: number[]; offset: number; byteLength: number }[] =
    [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string(`tensor info ${i} name`);
    if (names.has(name)) fail(path, name, 'tensor name appears twice');
    names.add(name);
    const nDims = cursor.u32(`${name} n_dims`);
    if (nDims < 1 || nDims > MAX_DIMS) fail(path, name, `n_dims ${nDims} is not in 1..${MAX_DIMS}`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(cursor.count(`${name} ne[${d}]`));
    const typeId = cursor.u32(`${name} type`);
    const type = ggmlTypeInfo(typeId);
    if (type === undefined) fail(path, name, `unknown GGML type ${typeId}`);
    const offset = cursor.count(`${name} offset`);
    const elements = dims.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elements)) fail(path, name, `dims ${formatShape(dims)} hold too many elements`);
    if (dims[0]! % type.blockSize !== 0) {
      fail(
        path,
        name,
        `ne[0] = ${dims[0]} is not a multiple of the ${type.name} block size ${type.blockSize}`,
      );
    }
    if (offset % alignment !== 0) {
      fail(path, name, `data offset ${offset} is not a multiple of the alignment ${alignment}`);
    }
    infos.push({ name, type, dims, offset, byteLength: (elements / type.blockSize) * type.typeSize });
  }
  const dataStart = Math.ceil(cursor.position / alignment) * alignment;
  const dataBytes = cursor.fileSize - dataStart;

  const tensors = new Map<string, GgufTensorInfo>();
  for (const t of infos) {
    if (t.offset + t.byteLength > dataBytes) {
      fail(
        path,
        t.name,
        `data [${t.offset}, ${t.offset + t.byteLength}) (${t.type.name} ${formatShape([...t.dims].reverse())}) ` +
          `runs past the end of the data section (${dataBytes} bytes from byte ${dataStart}); file truncated?`,
      );
    }
    tensors.set(
      t.name,
      Object.freeze({
        name: t.name,
        type: t.type,
        dims: Object.freeze(t.dims),
        shape: Object.freeze([...t.dims].reverse()),
        byteOffset: dataStart + t.offset,
        byteLength: t.byteLength,
        file: path,
      }),
    );
  }
  const sorted = [...tensors.values()]
    .filter((t) => t.byteLength > 0)
    .sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    if (sorted[i]!.byteOffset < previous.byteOffset + previous.byteLength) {
      fail(path, sorted[i]!.name, `data overlaps tensor "${previous.name}"; expected disjoint byte ranges`);
    }
  }
  return { version, metadata, tensors, alignment, dataStart };
}

/**
 * One GGUF file (versions 2 and 3), opened for random access.
 *
 * {@link GgufFile.open} reads and validates the header only: magic, version, every metadata key-value pair,
 * and every tensor info (name, rank, dims, GGML type, aligned offset). Every length and offset is checked
 * against the file before it is used, so a truncated or hostile file gives a {@link CheckpointError} naming
 * the file and the field or tensor, never a crash or a huge allocation. Tensor data is read on demand at
 * its aligned offset (mmap-friendly).
 */
export class GgufFile extends CheckpointFile {
  /** GGUF version (2 or 3). */
  readonly version: number;
  /** Every metadata key-value pair, in file order. */
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** Every tensor, by name, in file order. */
  readonly tensors: ReadonlyMap<string, GgufTensorInfo>;
  /** Alignment of tensor data (`general.alignment`, default 32). */
  readonly alignment: number;
  /** Absolute byte position where the data section starts. */
  readonly dataStart: number;

  private constructor(path: string, handle: FileHandle, size: number, header: ParsedHeader) {
    super(path, handle, size);
    this.version = header.version;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.alignment = header.alignment;
    this.dataStart = header.dataStart;
  }

  /**
   * Opens `path` and parses its header.
   * @throws CheckpointError when the file cannot be read or its header is malformed.
   */
  static async open(path: string): Promise<GgufFile> {
    return openCheckpointFile(path, 'GGUF', async (handle) => {
      const stat = await handle.stat();
      if (!stat.isFile()) fail(path, 'file', 'expected a GGUF file, found a directory or special file');
      const most = Math.min(stat.size, GGUF_MAX_HEADER_BYTES);
      let want = Math.min(most, FIRST_HEADER_READ);
      for (;;) {
        const bytes = new Uint8Array(want);
        await readFully(handle, bytes, 0, path, 'header');
        try {
          const header = parseHeader(new Cursor(bytes, stat.size, path), path);
          return new GgufFile(path, handle, stat.size, header);
        } catch (error) {
          if (!(error instanceof NeedMoreBytes)) throw error;
          want = Math.min(most, want * 2);
        }
      }
    });
  }

  /** The value of metadata key `key`, or undefined. */
  get(key: string): GgufValue | undefined {
    return this.metadata.get(key);
  }

  /**
   * Where tensor `name` lives and what it holds.
   * @throws CheckpointError when the file has no such tensor.
   */
  info(name: string): GgufTensorInfo {
    const info = this.tensors.get(name);
    if (info === undefined)
      fail(this.path, name, `tensor not found (the file has ${this.tensors.size} tensors)`);
    return info;
  }

  /**
   * Reads the bytes of tensor `name` into a fresh buffer (offset 0, exact length).
   * @throws CheckpointError when the tensor does not exist, the file was closed, or the read fails.
   */
  async read(name: string): Promise<Uint8Array> {
    const info = this.info(name);
    const handle = this.handle;
    if (handle === undefined) fail(this.path, name, 'cannot read, the file has been closed');
    const target = new Uint8Array(new ArrayBuffer(info.byteLength));
    await readFully(handle, target, info.byteOffset, this.path, name);
    return target;
  }
}

async function readFully(
  handle: FileHandle,
  target: Uint8Array,
  position: number,
  path: string,
  field: string,
): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    const want = Math.min(target.byteLength - done, READ_CHUNK_BYTES);
    const { bytesRead } = await handle.read(target, done, want, position + done);
    if (bytesRead === 0) {
      fail(
        path,
        field,
        `expected ${target.byteLength} bytes at byte ${position}, found ${done} (file truncated?)`,
      );
    }
    done += bytesRead;
  }
}
