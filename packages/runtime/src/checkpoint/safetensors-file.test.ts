import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DTYPES,
  type DType,
  dtypeBytes,
  dtypeToSafetensors,
  encodeBf16,
  floatToFp8E4m3,
  fp8E4m3ToFloat,
  numel,
} from '@dsa/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from './checkpoint-error.js';
import { MAX_HEADER_BYTES, SafetensorsFile } from './safetensors-file.js';
import { writeSafetensors } from './safetensors-writer.js';
import { seededBytes } from './test-fuzz-files.js';
import { expectOpenError } from './test-open-error.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../../fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-safetensors-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let counter = 0;

/** Writes a hand-built safetensors file: header length (given or computed), header text, then data. */
function rawFile(
  header: unknown,
  options: { dataBytes?: number; headerLength?: bigint; raw?: Uint8Array; text?: string } = {},
): string {
  const file = path.join(tmp, `raw-${counter++}.safetensors`);
  if (options.raw !== undefined) {
    fs.writeFileSync(file, options.raw);
    return file;
  }
  const text = Buffer.from(options.text ?? JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(options.headerLength ?? BigInt(text.byteLength));
  fs.writeFileSync(file, Buffer.concat([prefix, text, Buffer.alloc(options.dataBytes ?? 0, 7)]));
  return file;
}

/** Opens `file`, expecting a CheckpointError that names the file and contains every fragment. */
async function openError(
  file: string,
  tensor: string | undefined,
  ...fragments: string[]
): Promise<CheckpointError> {
  const e = await expectOpenError(() => SafetensorsFile.open(file), file, ...fragments);
  expect(e.file).toBe(file);
  if (tensor !== undefined) {
    expect(e.tensor).toBe(tensor);
    expect(e.message).toContain(tensor);
  }
  return e;
}

function f32(shape: number[], begin = 0) {
  return { dtype: 'F32', shape, data_offsets: [begin, begin + numel(shape) * 4] };
}

describe('SafetensorsFile round trip', () => {
  it('writes, opens and reads back every dtype byte for byte', async () => {
    const shape = [3, 5];
    const tensors = DTYPES.map((dtype, i) => {
      const bytes = seededBytes(numel(shape) * dtypeBytes(dtype), i + 1);
      if (dtype === 'bool') for (let j = 0; j < bytes.length; j++) bytes[j]! &= 1;
      return { name: `t.${dtype}`, dtype, shape, data: bytes };
    });
    const file = path.join(tmp, 'all-dtypes.safetensors');
    await writeSafetensors(file, tensors, { format: 'pt', note: 'round trip' });

    const st = await SafetensorsFile.open(file);
    try {
      expect(st.path).toBe(file);
      expect(st.metadata).toEqual({ format: 'pt', note: 'round trip' });
      expect([...st.tensors.keys()]).toEqual(tensors.map((t) => t.name));
      expect(st.dataStart % 8).toBe(0);
      for (const t of tensors) {
        const info = st.info(t.name);
        expect(info).toMatchObject({
          name: t.name,
          dtype: t.dtype,
          shape,
          file,
          byteLength: t.data.byteLength,
        });
        const bytes = await st.read(t.name);
        expect(bytes.byteOffset).toBe(0);
        expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
        expect(bytes).toEqual(t.data);
        // a range inside the tensor reads exactly those bytes; one that leaves it names the tensor
        if (t.data.byteLength >= 3) {
          const part = new Uint8Array(t.data.byteLength - 2);
          await st.readRange(t.name, 1, part);
          expect(part).toEqual(t.data.subarray(1, t.data.byteLength - 1));
        }
        await expect(st.readRange(t.name, 1, new Uint8Array(t.data.byteLength))).rejects.toThrow(
          new RegExp(`tensor "${t.name}": bytes 1\\.\\.${t.data.byteLength + 1} leave its`),
        );
      }
    } finally {
      await st.close();
    }
  });

  it('round-trips typed values: f32, f64, bf16, f8_e4m3, i32, i64, i16', async () => {
    const values = [0, 1, -2, 0.5, 3.25, -448, 448, 1e-3];
    const f32 = new Float32Array(values);
    const f64 = new Float64Array(values.map((v) => v + 1e-12));
    const bf16 = new Uint16Array(values.length);
    encodeBf16(f32, bf16);
    const f8 = Uint8Array.from(values, floatToFp8E4m3);
    const i32 = Int32Array.from([0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 42, -42, 7]);
    const i64 = BigInt64Array.from([0n, -1n, 2n ** 62n, -(2n ** 63n), 5n, 6n, 7n, 8n]);
    const i16 = Int16Array.from([0, 1, -1, 32767, -32768, 3, 4, 5]);
    const file = path.join(tmp, 'typed.safetensors');
    await writeSafetensors(file, [
      { name: 'f32', dtype: 'f32', shape: [2, 4], data: f32 },
      { name: 'f64', dtype: 'f64', shape: [8], data: f64 },
      { name: 'bf16', dtype: 'bf16', shape: [8], data: bf16 },
      { name: 'f8', dtype: 'f8_e4m3', shape: [4, 2], data: f8 },
      { name: 'i32', dtype: 'i32', shape: [8], data: i32 },
      { name: 'i64', dtype: 'i64', shape: [8], data: i64 },
      { name: 'i16', dtype: 'i16', shape: [8], data: i16 },
      { name: 'scalar', dtype: 'f32', shape: [], data: new Float32Array([9.5]) },
      { name: 'empty', dtype: 'bf16', shape: [0, 4], data: new Uint16Array(0) },
    ]);
    const st = await SafetensorsFile.open(file);
    try {
      expect(new Float32Array((await st.read('f32')).buffer)).toEqual(f32);
      expect(new Float64Array((await st.read('f64')).buffer)).toEqual(f64);
      expect(new Uint16Array((await st.read('bf16')).buffer)).toEqual(bf16);
      expect(st.info('bf16').dtype).toBe('bf16');
      const f8back = await st.read('f8');
      expect(st.info('f8').dtype).toBe('f8_e4m3');
      expect(Array.from(f8back, fp8E4m3ToFloat)).toEqual(Array.from(f8, fp8E4m3ToFloat));
      expect(new Int32Array((await st.read('i32')).buffer)).toEqual(i32);
      expect(new BigInt64Array((await st.read('i64')).buffer)).toEqual(i64);
      expect(new Int16Array((await st.read('i16')).buffer)).toEqual(i16);
      expect(st.info('scalar').shape).toEqual([]);
      expect(new Float32Array((await st.read('scalar')).buffer)).toEqual(new Float32Array([9.5]));
      expect(st.info('empty').byteLength).toBe(0);
      expect((await st.read('empty')).byteLength).toBe(0);
    } finally {
      await st.close();
    }
  });

  it('reads into a caller buffer and rejects a buffer of the wrong size', async () => {
    const file = path.join(tmp, 'into.safetensors');
    const data = Float32Array.from({ length: 64 }, (_, i) => i * 0.5);
    await writeSafetensors(file, [{ name: 'w', dtype: 'f32', shape: [8, 8], data }]);
    const st = await SafetensorsFile.open(file);
    try {
      const backing = new Uint8Array(512);
      const target = backing.subarray(100, 100 + 256);
      await st.readInto('w', target);
      expect(new Float32Array(backing.slice(100, 356).buffer)).toEqual(data);
      const error = await st.readInto('w', new Uint8Array(255)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as CheckpointError).message).toContain(file);
      expect((error as CheckpointError).message).toContain('"w"');
      expect((error as CheckpointError).message).toContain('255 bytes');
      expect((error as CheckpointError).message).toContain('256 bytes');
    } finally {
      await st.close();
    }
  });

  it('serves many concurrent reads correctly through one handle', async () => {
    const file = path.join(tmp, 'concurrent.safetensors');
    const tensors = Array.from({ length: 40 }, (_, i) => ({
      name: `layer.${i}.weight`,
      dtype: 'u8' as DType,
      shape: [1000 + i * 37],
      data: seededBytes(1000 + i * 37, 1000 + i),
    }));
    await writeSafetensors(file, tensors);
    const st = await SafetensorsFile.open(file);
    try {
      const order = [...tensors, ...tensors.slice().reverse(), ...tensors];
      const results = await Promise.all(order.map((t) => st.read(t.name)));
      for (const [i, bytes] of results.entries()) expect(bytes).toEqual(order[i]!.data);
    } finally {
      await st.close();
    }
  });

  it('does not read tensor data on open, and errors on reads after close', async () => {
    const file = path.join(tmp, 'closed.safetensors');
    await writeSafetensors(file, [
      { name: 'a', dtype: 'u8', shape: [4], data: new Uint8Array([1, 2, 3, 4]) },
    ]);
    const st = await SafetensorsFile.open(file);
    expect(st.closed).toBe(false);
    await st.close();
    await st.close();
    expect(st.closed).toBe(true);
    const error = await st.read('a').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).message).toContain(file);
    expect((error as CheckpointError).message).toContain('"a"');
    expect((error as CheckpointError).message).toContain('closed');
  });

  it('names the file and tensor when asked for a tensor it does not have', async () => {
    const file = path.join(tmp, 'lookup.safetensors');
    await writeSafetensors(file, [{ name: 'a', dtype: 'u8', shape: [1], data: new Uint8Array(1) }]);
    const st = await SafetensorsFile.open(file);
    try {
      expect(st.has('a')).toBe(true);
      expect(st.has('b')).toBe(false);
      expect(() => st.info('b')).toThrow(CheckpointError);
      expect(() => st.info('b')).toThrow(`${file}: tensor "b" not found`);
      await expect(st.read('b')).rejects.toThrow(CheckpointError);
    } finally {
      await st.close();
    }
  });
});

describe('SafetensorsFile rejects corrupt files', () => {
  it('missing file', async () => {
    await openError(path.join(tmp, 'nope.safetensors'), undefined, 'file not found');
  });

  it('file shorter than 8 bytes', async () => {
    const file = rawFile(null, { raw: new Uint8Array([1, 2, 3]) });
    await openError(file, 'header length', '3 bytes', 'at least 8 bytes');
  });

  it('header length larger than the file', async () => {
    const file = rawFile({}, { headerLength: 1000n, text: '{}' });
    await openError(
      file,
      'header length',
      'header length 1000',
      'past the end of the file',
      'at most 2 bytes',
    );
  });

  it('absurd header length', async () => {
    const file = rawFile({}, { headerLength: 2n ** 40n, text: '{}' });
    await openError(file, 'header length', String(2 ** 40), `at most ${MAX_HEADER_BYTES}`);
  });

  it('header that is not JSON', async () => {
    const file = rawFile(null, { text: '{"w": {"dtype": "F32", ' });
    await openError(file, 'header', 'not valid JSON');
  });

  it('header that is not UTF-8', async () => {
    const raw = Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]);
    await openError(rawFile(null, { raw }), 'header', 'UTF-8');
  });

  it('header that is not an object', async () => {
    await openError(rawFile([1, 2]), 'header', 'must be a JSON object', 'found array');
    await openError(rawFile(null), 'header', 'must be a JSON object', 'found null');
  });

  it('tensor entry that is not an object', async () => {
    await openError(rawFile({ w: 5 }), 'w', 'expected an object', 'found number 5');
  });

  it('entry missing dtype', async () => {
    await openError(
      rawFile({ w: { shape: [1], data_offsets: [0, 4] } }, { dataBytes: 4 }),
      'w',
      '"dtype"',
      'missing',
    );
  });

  it('entry missing shape', async () => {
    await openError(
      rawFile({ w: { dtype: 'F32', data_offsets: [0, 4] } }, { dataBytes: 4 }),
      'w',
      '"shape"',
      'missing',
    );
  });

  it('entry missing data_offsets', async () => {
    await openError(
      rawFile({ w: { dtype: 'F32', shape: [1] } }, { dataBytes: 4 }),
      'w',
      '"data_offsets"',
      'missing',
    );
  });

  it('dtype of the wrong type', async () => {
    const file = rawFile({ w: { dtype: 32, shape: [1], data_offsets: [0, 4] } }, { dataBytes: 4 });
    await openError(file, 'w', '"dtype"', 'expected a string', 'found number 32');
  });

  it('shape of the wrong type', async () => {
    const file = rawFile({ w: { dtype: 'F32', shape: '1x4', data_offsets: [0, 16] } }, { dataBytes: 16 });
    await openError(file, 'w', '"shape"', 'expected an array', '"1x4"');
  });

  it('data_offsets of the wrong type', async () => {
    for (const offsets of [[0], [0, '4'], 'abc', [0, 4, 8]]) {
      const file = rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: offsets } }, { dataBytes: 8 });
      await openError(file, 'w', '"data_offsets"', 'expected [begin, end]');
    }
  });

  it('unknown dtype, naming it and the known ones', async () => {
    const file = rawFile({ w: { dtype: 'F4_E2M1', shape: [2], data_offsets: [0, 1] } }, { dataBytes: 1 });
    const e = await openError(file, 'w', 'unknown dtype "F4_E2M1"');
    for (const dtype of DTYPES) expect(e.message).toContain(dtypeToSafetensors(dtype));
  });

  it('negative shape dimension', async () => {
    const file = rawFile({ w: { dtype: 'F32', shape: [2, -2], data_offsets: [0, 16] } }, { dataBytes: 16 });
    await openError(file, 'w', '"shape" [2,-2]', 'dimension 1', 'non-negative integer', 'found number -2');
  });

  it('non-integer shape dimension', async () => {
    const file = rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 6] } }, { dataBytes: 16 });
    await openError(file, 'w', 'dimension 0', 'non-negative integer', 'found number 1.5');
  });

  it('data_offsets end before begin', async () => {
    const file = rawFile({ w: { dtype: 'U8', shape: [0], data_offsets: [8, 4] } }, { dataBytes: 16 });
    await openError(file, 'w', '"data_offsets" [8, 4]', 'end 4 is before begin 8');
  });

  it('byte length that does not match the shape', async () => {
    const file = rawFile({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, { dataBytes: 16 });
    await openError(file, 'w', 'hold 12 bytes', 'expected 16 bytes', 'F32 [2, 2]');
  });

  it('offsets past the end of the file', async () => {
    const file = rawFile({ a: f32([2]), w: f32([4], 8) }, { dataBytes: 16 });
    await openError(file, 'w', 'data_offsets [8, 24]', 'past the end of the file', 'holds 16 bytes');
  });

  it('overlapping tensors, naming both', async () => {
    const file = rawFile({ first: f32([4]), second: f32([4], 8), third: f32([1], 40) }, { dataBytes: 64 });
    const e = await openError(file, 'second', '"first"', 'overlap', '[0, 16]', '[8, 24]');
    expect(e.message).not.toContain('third');
  });

  it('a tensor inside another, listed first', async () => {
    const file = rawFile({ inner: f32([1], 4), outer: f32([8]), after: f32([1], 24) }, { dataBytes: 64 });
    await openError(file, 'inner', '"outer"', 'overlap');
  });

  it('non-string __metadata__ values', async () => {
    const file = rawFile({ __metadata__: { format: 'pt', step: 100 }, w: f32([1]) }, { dataBytes: 4 });
    await openError(
      file,
      '__metadata__.step',
      'metadata field "__metadata__.step"',
      'expected a string',
      'found number 100',
    );
  });

  it('__metadata__ that is not an object', async () => {
    const file = rawFile({ __metadata__: ['pt'], w: f32([1]) }, { dataBytes: 4 });
    await openError(file, '__metadata__', 'must be an object', 'found array');
  });
});

describe('SafetensorsFile on the tiny fixtures', () => {
  it('opens fixtures/tiny/model.safetensors', async () => {
    const file = path.join(FIXTURES, 'tiny/model.safetensors');
    const st = await SafetensorsFile.open(file);
    try {
      expect(st.metadata).toEqual({ format: 'pt' });
      const bias = st.info('model.layers.1.mlp.gate.e_score_correction_bias');
      expect(bias.dtype).toBe('f32');
      expect(bias.shape).toEqual([16]);
      expect(bias.byteLength).toBe(64);
      const embed = st.info('model.embed_tokens.weight');
      expect(embed.dtype).toBe('bf16');
      expect(embed.shape).toEqual([1024, 128]);
      const bytes = await st.read('model.embed_tokens.weight');
      expect(bytes.byteLength).toBe(1024 * 128 * 2);
      const values = new Float32Array(
        (await st.read('model.layers.1.mlp.gate.e_score_correction_bias')).buffer,
      );
      expect(values.length).toBe(16);
      expect(values.every(Number.isFinite)).toBe(true);
      let total = 0;
      for (const t of st.tensors.values()) total += t.byteLength;
      expect(st.dataStart + total).toBeLessThanOrEqual(st.size);
    } finally {
      await st.close();
    }
  });
});
