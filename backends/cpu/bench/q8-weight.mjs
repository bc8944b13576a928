// A GGUF Q8_0 weight [n, k] as the importer uploads it (i8 quants in [-127, 127], one f32 scale per 32), for the
// bench scripts: quants from r.normals(n * k, 40), scales from scale(count).
import { uploadTensor } from '@dsa/backend';

export function uploadQ8Weight(be, r, n, k, scale) {
  return {
    weight: uploadTensor(
      be,
      'i8',
      [n, k],
      r.normals(n * k, 40).map((v) => Math.max(-127, Math.min(127, Math.round(v)))),
    ),
    scaleInv: uploadTensor(be, 'f32', [n, k / 32], scale((n * k) / 32)),
    blockSize: [1, 32],
  };
}
