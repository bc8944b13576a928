import { KernelArgumentError } from '@dsa/backend';
import { formatShape, type TensorView } from '@dsa/tensor';
import { read, write } from './strided.js';

export function hadamard(out: TensorView, x: TensorView): void {
  const k = 'hadamard';
  const d = x.shape[x.shape.length - 1]!;
  if (d < 1 || (d & (d - 1)) !== 0)
    throw new KernelArgumentError(k, `last dimension ${d} is not a power of two`);
  if (formatShape(out.shape) !== formatShape(x.shape)) {
    throw new KernelArgumentError(k, `out ${formatShape(out.shape)} and x ${formatShape(x.shape)} differ`);
  }
  const v = read(x, k);
  const scale = 1 / Math.sqrt(d);
  for (let base = 0; base < v.length; base += d) {
    // Butterflies (a, b) -> (a + b, a - b): H[i][j] = (-1)^popcount(i & j).
    for (let h = 1; h < d; h *= 2) {
      for (let i = 0; i < d; i += 2 * h) {
        for (let j = i; j < i + h; j++) {
          const a = v[base + j]!;
          const b = v[base + j + h]!;
          v[base + j] = a + b;
          v[base + j + h] = a - b;
        }
      }
    }
    for (let i = 0; i < d; i++) v[base + i]! *= scale;
  }
  write(out, v, k);
}
