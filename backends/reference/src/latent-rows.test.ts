// The fp8 latent cache's write and read paths (@dsa/backend's scatterLatentRows and gatherLatentRows) on
// the oracle backend: DeepSeek's quantize-on-write (act_quant with UE8M0 scales over blocks of 128, e4m3
// saturating, bf16 RoPE) checked byte by byte against rows computed by hand.
import {
  fp8LatentCache,
  fp8LatentRowBytes,
  gatherLatentRows,
  scatterLatentRows,
  uploadTensor,
  Workspace,
} from '@dsa/backend';
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from './reference-backend.js';

const backend = new ReferenceBackend();

/** Writes `rows` (C + R values each) into slots `slots` of a fresh fp8 cache of `count` slots; returns its bytes and the rows read back. */
async function roundTrip(c: number, r: number, count: number, rows: number[][], slots: number[]) {
  const workspace = new Workspace(backend);
  const rowBytes = fp8LatentRowBytes(c, r);
  const cache = fp8LatentCache(backend.allocate(count * rowBytes, 'kv-cache'), count, c, r);
  backend.upload(cache.packed, new Uint8Array(count * rowBytes).fill(0xee)); // 0xee: untouched bytes
  const values = uploadTensor(backend, 'f32', [rows.length, c + r], rows.flat());
  scatterLatentRows(backend, workspace, cache, values, uploadTensor(backend, 'i32', [slots.length], slots));
  const bytes = new Uint8Array(count * rowBytes);
  await backend.download(cache.packed, bytes);
  const read = gatherLatentRows(
    backend,
    workspace,
    cache,
    uploadTensor(backend, 'i32', [count], [...Array(count).keys()]),
  );
  const back = new Float32Array(count * (c + r));
  await backend.download(read, back);
  return { bytes, rowBytes, back };
}

/** The little-endian bytes of an f32. */
const f32Bytes = (value: number) => [...new Uint8Array(new Float32Array([value]).buffer)];

describe('fp8 latent rows: quantize on write, dequantize on read', () => {
  it('writes a hand-computed row: e4m3 NoPE, its UE8M0 scale, bf16 RoPE rounded to nearest even', async () => {
    // C = 4 (one block), R = 2: 4 + 4 + 4 = 12 bytes.
    // amax 3.6 -> scale 2^ceil(log2(3.6 / 448)) = 2^ceil(-6.96) = 2^-6;
    // 3.6 / 2^-6 = 230.4 -> 224 = 1.75 · 2^7 (e 14, m 6): 0x76;  1 / 2^-6 = 64 = 2^6 (e 13): 0x68;
    // -0.3 / 2^-6 = -19.2 -> -20 = -1.25 · 2^4 (e 11, m 2): 0xda;  0.01 / 2^-6 = 0.64 -> 0.625 = 1.25 · 2^-1: 0x32.
    // RoPE 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties to even, 0x3f80; 1 + 3 · 2^-8 to 0x3f82.
    const { bytes, back } = await roundTrip(
      4,
      2,
      1,
      [[3.6, 1, -0.3, 0.01, 1 + 2 ** -8, 1 + 3 * 2 ** -8]],
      [0],
    );
    expect([...bytes]).toEqual([0x76, 0x68, 0xda, 0x32, ...f32Bytes(2 ** -6), 0x80, 0x3f, 0x82, 0x3f]);
    expect([...back]).toEqual([3.5, 1, -0.3125, 0.009765625, 1, 1 + 2 ** -6]);
  });

  it('rounds the scale up (never past 448): a power-of-two ratio is kept, the block maximum maps to 448', async () => {
    // Row 0, amax 3.5: 3.5 / 448 = 2^-7 exactly, so scale 2^-7 and 3.5 -> 448 (0x7e, the largest finite
    // e4m3); -447 · 2^-7 rounds to -448 (0xfe), not to NaN (0x7f/0xff); 2^-7 -> 1 (0x38).
    // Row 1, amax 3.51: 3.51 / 448 is just above 2^-7, so the scale rounds up to 2^-6 (3.51 -> 224.6 -> 224).
    const rows = [
      [3.5, -447 * 2 ** -7, 2 ** -7, 0, 0, 0],
      [3.51, 1.755, 0, 0, 0, 0],
    ];
    const { bytes, rowBytes } = await roundTrip(4, 2, 2, rows, [0, 1]);
    expect([...bytes.subarray(0, 8)]).toEqual([0x7e, 0xfe, 0x38, 0x00, ...f32Bytes(2 ** -7)]);
    expect([...bytes.subarray(rowBytes, rowBytes + 8)]).toEqual([
      0x76,
      0x6e,
      0x00,
      0x00,
      ...f32Bytes(2 ** -6),
    ]);
  });

  it('scales each block of 128 on its own (small values go subnormal) and floors a zero block at 1e-4', async () => {
    // C = 132: blocks [0, 128) and [128, 132). Block 0: amax 1000 -> scale 2^ceil(log2(1000 / 448)) = 2^2,
    // 1000 / 4 = 250 -> 256 (0x78); 0.01 / 4 = 0.0025 -> the smallest subnormal 2^-9 (0x01). Block 1 is all
    // zeros: amax floor 1e-4 -> scale 2^ceil(log2(1e-4 / 448)) = 2^-22, bytes 0.
    const c = 132;
    const row = new Array<number>(c + 2).fill(0);
    row[0] = 1000;
    row[1] = -1000;
    row[2] = 0.01;
    row[c] = -3;
    row[c + 1] = 0.5;
    const { bytes, rowBytes, back } = await roundTrip(c, 2, 1, [row], [0]);
    expect(rowBytes).toBe(132 + 8 + 4);
    expect([...bytes.subarray(0, 3)]).toEqual([0x78, 0xf8, 0x01]);
    expect(bytes.subarray(128, 132).every((b) => b === 0)).toBe(true);
    expect([...bytes.subarray(132, 140)]).toEqual([...f32Bytes(4), ...f32Bytes(2 ** -22)]);
    expect([...back.subarray(0, 3)]).toEqual([1024, -1024, 2 ** -9 * 4]);
    expect([...back.subarray(c, c + 2)]).toEqual([-3, 0.5]);
  });

  it('writes only the given slots (-1 skips a row) and reads any slot back', async () => {
    const rows = [
      [1, 2, 3, 4, 5, 6],
      [9, 9, 9, 9, 9, 9],
      [-1, -0.5, 0.25, 0.125, -2, 2],
    ];
    const { bytes, rowBytes, back } = await roundTrip(4, 2, 3, rows, [2, -1, 0]);
    expect(bytes.subarray(rowBytes, 2 * rowBytes).every((b) => b === 0xee)).toBe(true); // slot 1 untouched
    expect([...back.subarray(0, 6)]).toEqual([-1, -0.5, 0.25, 0.125, -2, 2]);
    expect([...back.subarray(12, 18)]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
