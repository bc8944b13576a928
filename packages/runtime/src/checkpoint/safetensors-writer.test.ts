import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from './checkpoint-error.js';
import { SafetensorsFile } from './safetensors-file.js';
import { type SafetensorsTensorData, writeSafetensors } from './safetensors-writer.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-st-writer-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function parseRaw(file: string): { headerLength: number; header: Record<string, unknown>; bytes: Buffer } {
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  return { headerLength, header: JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')), bytes };
}

async function writeError(
  file: string,
  tensors: SafetensorsTensorData[],
  tensor: string,
  ...fragments: string[]
) {
  const error = await writeSafetensors(file, tensors).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CheckpointError);
  const e = error as CheckpointError;
  expect(e.file).toBe(file);
  expect(e.tensor).toBe(tensor);
  expect(e.message).toContain(file);
  expect(e.message).toContain(`"${tensor}"`);
  for (const fragment of fragments) expect(e.message).toContain(fragment);
  expect(fs.existsSync(file)).toBe(false);
  expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
}

describe('writeSafetensors', () => {
  it('writes a space-padded header, __metadata__ first, offsets relative to the data section', async () => {
    const file = path.join(tmp, 'layout.safetensors');
    const a = new Float32Array([1, 2, 3]);
    const b = new Uint8Array([9]);
    const c = new Int32Array([-1, 5]);
    await writeSafetensors(
      file,
      [
        { name: 'a', dtype: 'f32', shape: [3], data: a },
        { name: 'b', dtype: 'u8', shape: [1, 1], data: b },
        { name: 'c', dtype: 'i32', shape: [2], data: c },
      ],
      { format: 'pt' },
    );
    const { headerLength, header, bytes } = parseRaw(file);
    expect(headerLength % 8).toBe(0);
    const text = bytes.subarray(8, 8 + headerLength).toString('utf8');
    expect(text.trimEnd()).toBe(JSON.stringify(header));
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    expect(Object.keys(header)).toEqual(['__metadata__', 'a', 'b', 'c']);
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(header.a).toEqual({ dtype: 'F32', shape: [3], data_offsets: [0, 12] });
    expect(header.b).toEqual({ dtype: 'U8', shape: [1, 1], data_offsets: [12, 13] });
    expect(header.c).toEqual({ dtype: 'I32', shape: [2], data_offsets: [13, 21] });
    expect(bytes.byteLength).toBe(8 + headerLength + 21);
    const data = bytes.subarray(8 + headerLength);
    expect(new Uint8Array(data.subarray(0, 12))).toEqual(new Uint8Array(a.buffer));
    expect(data[12]).toBe(9);
    expect(new Uint8Array(data.subarray(13))).toEqual(new Uint8Array(c.buffer));
  });

  it('writes only the viewed bytes of a view into a larger buffer', async () => {
    const file = path.join(tmp, 'view.safetensors');
    const backing = new Float32Array([100, 1, 2, 3, 4, 200]);
    await writeSafetensors(file, [{ name: 'v', dtype: 'f32', shape: [2, 2], data: backing.subarray(1, 5) }]);
    const st = await SafetensorsFile.open(file);
    try {
      expect(new Float32Array((await st.read('v')).buffer)).toEqual(new Float32Array([1, 2, 3, 4]));
    } finally {
      await st.close();
    }
  });

  it('writes an empty file with no tensors and replaces an existing file', async () => {
    const file = path.join(tmp, 'empty.safetensors');
    fs.writeFileSync(file, 'old contents');
    await writeSafetensors(file, []);
    const st = await SafetensorsFile.open(file);
    expect(st.tensors.size).toBe(0);
    await st.close();
  });

  it('keeps a tensor called __proto__ as an ordinary name', async () => {
    const file = path.join(tmp, 'proto.safetensors');
    await writeSafetensors(file, [
      { name: '__proto__', dtype: 'u8', shape: [2], data: new Uint8Array([1, 2]) },
    ]);
    const st = await SafetensorsFile.open(file);
    try {
      expect(await st.read('__proto__')).toEqual(new Uint8Array([1, 2]));
    } finally {
      await st.close();
    }
  });

  it('rejects data whose byte length does not match the shape', async () => {
    await writeError(
      path.join(tmp, 'bad-length.safetensors'),
      [{ name: 'w', dtype: 'bf16', shape: [2, 3], data: new Uint16Array(5) }],
      'w',
      '10 bytes',
      'expected 12 bytes',
      'BF16 [2, 3]',
    );
  });

  it('rejects repeated names', async () => {
    const t = { name: 'dup', dtype: 'u8' as const, shape: [1], data: new Uint8Array(1) };
    await writeError(path.join(tmp, 'dup.safetensors'), [t, t], 'dup', 'more than once');
  });

  it('rejects bad shapes and reserved names', async () => {
    await writeError(
      path.join(tmp, 'shape.safetensors'),
      [{ name: 's', dtype: 'u8', shape: [2, -1], data: new Uint8Array(0) }],
      's',
      'shape [2, -1]',
    );
    await writeError(
      path.join(tmp, 'reserved.safetensors'),
      [{ name: '__metadata__', dtype: 'u8', shape: [1], data: new Uint8Array(1) }],
      '__metadata__',
      'invalid tensor name',
    );
  });
});
