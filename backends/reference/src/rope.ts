import type { RopeLayout } from '@dsa/backend';
import { KernelArgumentError } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { expectDType, expectRank, expectShape, read, write } from './strided.js';

export function rope(
  x: TensorView,
  positions: TensorView,
  invFreq: TensorView,
  options: { layout: RopeLayout; scale?: number },
): void {
  const k = 'rope';
  expectRank(k, 'x', x, 3);
  expectDType(k, 'positions', positions, 'i32');
  const [n, heads, dim] = x.shape as [number, number, number];
  if (dim % 2 !== 0) throw new KernelArgumentError(k, `rotary width ${dim} is odd`);
  expectShape(k, 'positions', positions, [n]);
  expectShape(k, 'invFreq', invFreq, [dim / 2]);
  const half = dim / 2;
  const scale = options.scale ?? 1;
  const pos = read(positions, k);
  const freq = Float32Array.from(read(invFreq, k));
  const v = read(x, k);
  const angle = new Float32Array(1);
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < half; i++) {
      // As the reference computes it: f32 product, cos/sin of the f32 angle.
      angle[0] = Math.fround(pos[t]!) * freq[i]!;
      const cos = Math.cos(angle[0]) * scale;
      const sin = Math.sin(angle[0]) * scale;
      for (let h = 0; h < heads; h++) {
        const base = (t * heads + h) * dim;
        const a = options.layout === 'interleaved' ? base + 2 * i : base + i;
        const b = options.layout === 'interleaved' ? base + 2 * i + 1 : base + i + half;
        const x0 = v[a]!;
        const x1 = v[b]!;
        v[a] = x0 * cos - x1 * sin;
        v[b] = x1 * cos + x0 * sin;
      }
    }
  }
  write(x, v, k);
}
