import { downloadTensor, uploadTensor } from '@dsa/backend';
import { tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { ue8m0Scale } from './fp8-quant.js';
import { ReferenceBackend } from './reference-backend.js';

const backend = new ReferenceBackend();

async function quantize(values: number[], scaleFormat: 'ue8m0' | 'f32') {
  const x = uploadTensor(backend, 'f32', [1, values.length], values);
  const q = tensorView(backend.allocate(values.length, 'activations'), 'f8_e4m3', [1, values.length]);
  const blocks = Math.ceil(values.length / 128);
  const s = tensorView(backend.allocate(4 * blocks, 'activations'), 'f32', [1, blocks]);
  backend.kernels.quantizeFp8(q, s, x, { blockSize: 128, scaleFormat });
  const back = tensorView(backend.allocate(4 * values.length, 'activations'), 'f32', [1, values.length]);
  backend.kernels.dequantizeFp8(back, q, s, { blockSize: 128 });
  return {
    scale: Array.from(await downloadTensor(backend, s)),
    values: Array.from(await downloadTensor(backend, back)),
  };
}

describe('fp8 activation quantization (act_quant)', () => {
  it('ue8m0 scales are 2^ceil(log2(amax / 448))', () => {
    expect(ue8m0Scale(3.5)).toBe(2 ** -7); // 3.5 / 448 = 2^-7 exactly: no rounding up
    expect(ue8m0Scale(3.6)).toBe(2 ** -6); // log2(3.6 / 448) = -6.96 -> -6
    expect(ue8m0Scale(448)).toBe(1);
    expect(ue8m0Scale(449)).toBe(2);
    expect(ue8m0Scale(1e-4)).toBe(2 ** -22); // the amax floor: log2(1e-4 / 448) = -22.09
  });

  it('quantizes a block by hand-computed values', async () => {
    // amax 3.6 -> scale 2^-6; 3.6 / 2^-6 = 230.4 -> e4m3 224 (spacing 16 in [128, 256)) -> 3.5
    // 1 / 2^-6 = 64 exactly; -0.3 / 2^-6 = -19.2 -> -20 (spacing 2 in [16, 32)) -> -0.3125
    // 0.01 / 2^-6 = 0.64 -> 0.625 (spacing 1/8 in [0.5, 1)) -> 0.009765625
    const { scale, values } = await quantize([3.6, 1, -0.3, 0.01], 'ue8m0');
    expect(scale).toEqual([2 ** -6]);
    expect(values).toEqual([3.5, 1, -0.3125, 0.009765625]);
  });

  it('uses amax / 448 with plain f32 scales, so the largest value maps to 448 without overflow', async () => {
    const { scale, values } = await quantize([-7, 2, 0.5], 'f32');
    expect(scale[0]).toBeCloseTo(7 / 448, 9);
    expect(values[0]).toBeCloseTo(-7, 5); // -448 · scale
    expect(values[1]).toBeCloseTo(2, 1);
  });

  it('floors amax at 1e-4 for an all-zero block', async () => {
    const { scale, values } = await quantize(new Array(128).fill(0), 'ue8m0');
    expect(scale).toEqual([2 ** -22]);
    expect(values.every((v) => v === 0)).toBe(true);
  });

  it('keeps one scale per 128-wide block', async () => {
    const row = [...new Array(128).fill(0.5), ...new Array(72).fill(100)];
    const { scale, values } = await quantize(row, 'ue8m0');
    expect(scale).toEqual([2 ** -9, 2 ** -2]); // 0.5/448 -> 2^-9.8 -> 2^-9; 100/448 -> 2^-2.16 -> 2^-2
    expect(values.slice(0, 128).every((v) => v === 0.5)).toBe(true);
    // 100 / 2^-2 = 400 lies halfway between e4m3 384 and 416: ties to even (384) -> 96
    expect(values.slice(128).every((v) => v === 96)).toBe(true);
  });
});

describe('hadamard', () => {
  it('is orthonormal: maps e0 to 1/sqrt(n) everywhere, preserves norms, and is its own inverse', async () => {
    const n = 128;
    const e0 = new Array(n).fill(0);
    e0[0] = 1;
    const random = Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 3);
    const x = uploadTensor(backend, 'f32', [2, n], [...e0, ...random]);
    const y = uploadTensor(backend, 'f32', [2, n], new Array(2 * n).fill(0));
    backend.kernels.hadamard(y, x);
    const h = Array.from(await downloadTensor(backend, y));
    for (let i = 0; i < n; i++) expect(h[i]).toBeCloseTo(1 / Math.sqrt(n), 7);
    const norm = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    expect(norm(h.slice(n))).toBeCloseTo(norm(random), 4);
    backend.kernels.hadamard(x, y);
    const back = Array.from(await downloadTensor(backend, x));
    for (let i = 0; i < n; i++) expect(back[n + i]).toBeCloseTo(random[i]!, 4);
  });

  it('follows the Sylvester order H[i][j] = (-1)^popcount(i & j)', async () => {
    const n = 8;
    const e5 = [0, 0, 0, 0, 0, 1, 0, 0];
    const x = uploadTensor(backend, 'f32', [1, n], e5);
    backend.kernels.hadamard(x, x);
    const h = Array.from(await downloadTensor(backend, x));
    const popcount = (v: number) =>
      v
        .toString(2)
        .split('')
        .filter((c) => c === '1').length;
    for (let i = 0; i < n; i++) expect(h[i]).toBeCloseTo((-1) ** popcount(i & 5) / Math.sqrt(n), 7);
  });
});
