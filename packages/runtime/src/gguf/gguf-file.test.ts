import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ggmlTypeByName } from '@dsa/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import { GGUF_MAX_HEADER_BYTES, GgufFile } from './gguf-file.js';
import { type GgufValue, gguf } from './gguf-value.js';
import { writeGguf } from './gguf-writer.js';

let dir: string;
let good: string;
let bytes: Uint8Array;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dsa-gguf-file-'));
  good = join(dir, 'good.gguf');
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', gguf.string('test')],
    ['test.count', gguf.u32(7)],
    ['test.eps', gguf.f32(0.5)],
    ['test.flag', gguf.bool(true)],
    ['test.words', gguf.strings(['a', 'bé', ''])],
    ['test.big', { type: 'u64', value: 2n ** 40n }],
  ]);
  const f32 = ggmlTypeByName('F32')!;
  const q8 = ggmlTypeByName('Q8_0')!;
  await writeGguf(good, metadata, [
    {
      name: 'a',
      type: f32,
      shape: [2, 3],
      data: async () => new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer),
    },
    { name: 'b', type: q8, shape: [1, 32], data: async () => new Uint8Array(34).fill(1) },
  ]);
  bytes = new Uint8Array(await readFile(good));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `mutate(copy of the good file)` and returns the error GgufFile.open gives. */
async function openBroken(name: string, mutate: (b: Uint8Array) => Uint8Array): Promise<CheckpointError> {
  const path = join(dir, name);
  await writeFile(path, mutate(bytes.slice()));
  const error = await GgufFile.open(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  expect((error as CheckpointError).file).toBe(path);
  return error as CheckpointError;
}

/** Byte position of the first occurrence of `text` in the good file. */
function find(text: string): number {
  const needle = new TextEncoder().encode(text);
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error(`${text} not found`);
}

describe('GgufFile', () => {
  it('reads what writeGguf wrote: metadata, tensor infos, aligned data', async () => {
    await using file = await GgufFile.open(good);
    expect(file.version).toBe(3);
    expect(file.get('test.count')).toEqual({ type: 'u32', value: 7 });
    expect(file.get('test.eps')).toEqual({ type: 'f32', value: 0.5 });
    expect(file.get('test.flag')).toEqual({ type: 'bool', value: true });
    expect(file.get('test.words')).toEqual({ type: 'array', itemType: 'string', value: ['a', 'bé', ''] });
    expect(file.get('test.big')).toEqual({ type: 'u64', value: 2n ** 40n });
    const a = file.info('a');
    expect([a.dims, a.shape, a.type.name, a.byteLength]).toEqual([[3, 2], [2, 3], 'F32', 24]);
    expect(a.byteOffset % 32).toBe(0);
    expect([...new Float32Array((await file.read('a')).buffer)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(file.info('b').byteLength).toBe(34);
    expect(file.info('b').byteOffset - a.byteOffset).toBe(32);
    await expect(file.read('nope')).rejects.toThrow(/"?nope"?: tensor not found/);
  });

  it('refuses a file that is not GGUF, or of another version', async () => {
    expect((await openBroken('magic.gguf', (b) => b.fill(0x41, 0, 4))).message).toMatch(
      /magic: expected "GGUF", found "AAAA"/,
    );
    const version = await openBroken('version.gguf', (b) => {
      b[4] = 1;
      return b;
    });
    expect(version.message).toContain('GGUF version 1 is not supported');
    expect((await openBroken('empty.gguf', () => new Uint8Array(0))).message).toMatch(
      /magic: needs 1 bytes at byte 0/,
    );
  });

  it('refuses a truncated header or data section, naming the field or tensor', async () => {
    const header = await openBroken('cut-header.gguf', (b) => b.slice(0, find('test.words') + 4));
    expect(header.message).toMatch(/file ends at byte/);
    const data = await openBroken('cut-data.gguf', (b) => b.slice(0, b.length - 40));
    expect(data.tensor).toBe('b');
    expect(data.message).toMatch(/runs past the end of the data section/);
  });

  it('refuses absurd counts and lengths without allocating them', async () => {
    const count = await openBroken('count.gguf', (b) => {
      new DataView(b.buffer).setBigUint64(8, 2n ** 40n, true); // tensor_count
      return b;
    });
    expect(count.message).toMatch(/tensor_count: .* cannot fit/);
    const array = await openBroken('array.gguf', (b) => {
      // test.words: key, type (9 = array), item type (8 = string), count
      const at = find('test.words') + 'test.words'.length + 8;
      new DataView(b.buffer).setBigUint64(at, 2n ** 50n, true);
      return b;
    });
    expect(array.tensor).toBe('test.words');
    expect(array.message).toMatch(/array of \d+ string values cannot fit/);
  });

  it('refuses unknown types, misaligned offsets and rows that split a block', async () => {
    // tensor info "b": name, n_dims 2, ne0 32, ne1 1, type 8 (Q8_0), offset
    const info = find('\u0001\u0000\u0000\u0000\u0000\u0000\u0000\u0000b') + 9;
    const type = await openBroken('type.gguf', (b) => {
      new DataView(b.buffer).setUint32(info + 4 + 16, 99, true);
      return b;
    });
    expect(type.message).toMatch(/b: unknown GGML type 99/);
    const offset = await openBroken('offset.gguf', (b) => {
      new DataView(b.buffer).setBigUint64(info + 4 + 16 + 4, 33n, true);
      return b;
    });
    expect(offset.message).toMatch(/data offset 33 is not a multiple of the alignment 32/);
    const rows = await openBroken('rows.gguf', (b) => {
      new DataView(b.buffer).setBigUint64(info + 4, 16n, true);
      return b;
    });
    expect(rows.message).toMatch(/ne\[0\] = 16 is not a multiple of the Q8_0 block size 32/);
    const overlap = await openBroken('overlap.gguf', (b) => {
      new DataView(b.buffer).setBigUint64(info + 4 + 16 + 4, 0n, true);
      return b;
    });
    expect(overlap.message).toMatch(/overlaps tensor "a"/);
  });
  // Found by gguf-file.fuzz.test.ts: a lying metadata_kv_count was reported as a bad tensor_count.
  it('names metadata_kv_count when that count cannot fit in the file', async () => {
    const kv = await openBroken('kv-count.gguf', (b) => {
      new DataView(b.buffer).setBigUint64(16, 2n ** 40n, true); // metadata_kv_count
      return b;
    });
    expect(kv.tensor).toBe('metadata_kv_count');
    expect(kv.message).toMatch(/metadata_kv_count: 1099511627776 metadata entries .*cannot fit/);
  });

  it('refuses a header over GGUF_MAX_HEADER_BYTES before reading or allocating it', async () => {
    // A sparse file past the limit whose "test.words" claims more u8 items than the limit: each fits the
    // file, but as a JS array they would take 8 bytes each of heap.
    const array = join(dir, 'huge-array.gguf');
    const b = bytes.slice();
    const at = find('test.words') + 'test.words'.length;
    new DataView(b.buffer).setUint32(at + 4, 0, true); // item type u8
    new DataView(b.buffer).setBigUint64(at + 8, BigInt(GGUF_MAX_HEADER_BYTES + 1), true);
    await writeFile(array, b);
    await truncate(array, GGUF_MAX_HEADER_BYTES + (4 << 20));
    const started = performance.now();
    const error = await GgufFile.open(array).then(
      () => undefined,
      (e: unknown) => e as CheckpointError,
    );
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error?.tensor).toBe('test.words');
    expect(error?.message).toMatch(
      /array of \d+ u8 values runs past the 67108864 bytes a GGUF header may take/,
    );
    // A string as long: refused at its length, before the bytes are read.
    const string = join(dir, 'huge-string.gguf');
    new DataView(b.buffer).setUint32(at + 4, 8, true); // item type string
    new DataView(b.buffer).setBigUint64(at + 8, 1n, true);
    new DataView(b.buffer).setBigUint64(at + 16, BigInt(GGUF_MAX_HEADER_BYTES), true);
    await writeFile(string, b);
    await truncate(string, GGUF_MAX_HEADER_BYTES + (4 << 20));
    const long = await GgufFile.open(string).then(
      () => undefined,
      (e: unknown) => e as CheckpointError,
    );
    expect(long?.message).toMatch(
      /test\.words\[0\]: needs 67108864 bytes at byte \d+, past the 67108864 bytes/,
    );
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
