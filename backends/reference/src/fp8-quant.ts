import { KernelArgumentError } from '@dsa/backend';
import { FP8_E4M3_MAX, type TensorView } from '@dsa/tensor';
import { expectDType, expectRank, expectShape, read, write } from './strided.js';

/** DeepSeek's power-of-two scale: 2^ceil(log2(amax / 448)), from the f32 bit pattern as the reference does. */
export function ue8m0Scale(amax: number): number {
  const ratio = Math.fround(amax / FP8_E4M3_MAX);
  const bits = new Uint32Array(new Float32Array([ratio]).buffer)[0]!;
  const exponent = ((bits >>> 23) & 0xff) - 127 + ((bits & 0x7fffff) !== 0 ? 1 : 0);
  return 2 ** exponent;
}

export function quantizeFp8(
  q: TensorView,
  scale: TensorView,
  x: TensorView,
  options: { blockSize: number; scaleFormat: 'ue8m0' | 'f32' },
): void {
  const k = 'quantizeFp8';
  expectRank(k, 'x', x, 2);
  expectDType(k, 'q', q, 'f8_e4m3');
  const [rows, d] = x.shape as [number, number];
  const blocks = Math.ceil(d / options.blockSize);
  expectShape(k, 'q', q, [rows, d]);
  expectShape(k, 'scale', scale, [rows, blocks]);
  if (options.blockSize < 1)
    throw new KernelArgumentError(k, `blockSize ${options.blockSize} must be positive`);
  const v = read(x, k);
  const scales = new Float64Array(rows * blocks);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const start = r * d + b * options.blockSize;
      const end = r * d + Math.min(d, (b + 1) * options.blockSize);
      let amax = 1e-4;
      for (let i = start; i < end; i++) amax = Math.max(amax, Math.abs(v[i]!));
      const s = options.scaleFormat === 'ue8m0' ? ue8m0Scale(amax) : Math.fround(amax / FP8_E4M3_MAX);
      scales[r * blocks + b] = s;
      for (let i = start; i < end; i++)
        v[i] = Math.min(FP8_E4M3_MAX, Math.max(-FP8_E4M3_MAX, Math.fround(v[i]! / s)));
    }
  }
  write(q, v, k); // the f8_e4m3 store rounds to nearest even
  write(scale, scales, k);
}

export function dequantizeFp8(
  out: TensorView,
  q: TensorView,
  scale: TensorView,
  options: { blockSize: number },
): void {
  const k = 'dequantizeFp8';
  expectRank(k, 'q', q, 2);
  const [rows, d] = q.shape as [number, number];
  const blocks = Math.ceil(d / options.blockSize);
  expectShape(k, 'out', out, [rows, d]);
  expectShape(k, 'scale', scale, [rows, blocks]);
  const v = read(q, k);
  const s = read(scale, k);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < d; i++) v[r * d + i]! *= s[r * blocks + Math.floor(i / options.blockSize)]!;
  }
  write(out, v, k);
}
