// The lightning indexer's fp8 scoring loops (indexer-avx512bf16.cc: vdpbf16ps, or AMX tiles where the CPU has
// them, with the keys in the lanes; indexer-avx512.cc: f32 FMAs with the heads in the lanes) against a plain
// float64 loop on random
// e4m3 keys and a bf16-exact q (e4m3 values times a power of two, as the fp8 indexer's dequantized q),
// at several head counts and widths and key counts that are not multiples of 16. The products are exact
// in both loops, so the scores differ from the plain sum by rounding only: within 1e-6 of the score's
// magnitude (scale · Σ_h |w_h| Σ_d |q_hd · k_td|).
import { Random } from '@dsa/backend/testing';
import { fp8E4m3ToFloat } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
const addon = native.addon;

/** A random e4m3 byte that is not NaN. */
function e4m3Byte(random: Random): number {
  for (;;) {
    const b = random.int(256);
    if ((b & 0x7f) !== 0x7f) return b;
  }
}

const SHAPES: [number, number, number][] = [
  // heads, head dim, keys
  [8, 64, 1000],
  [64, 128, 333],
  [4, 128, 17],
  [17, 64, 250],
  [5, 192, 40],
  [1, 64, 15],
];

describe.each(['bf16', 'avx512'] as const)('indexer fp8 scores (%s loop)', (kernel) => {
  for (const [heads, di, n] of SHAPES) {
    it(`${heads} heads × ${di}, ${n} keys: within 1e-6 of a plain float64 sum`, (context) => {
      const random = new Random(heads * 1009 + di * 7 + n);
      const keys = Uint8Array.from({ length: n * di }, () => e4m3Byte(random));
      const q = Float32Array.from({ length: heads * di }, () => fp8E4m3ToFloat(e4m3Byte(random)) * 2 ** -4);
      const w = Float32Array.from(random.normals(heads));
      // Powers of two (the fp8 cache's ue8m0 scales) and one arbitrary scale.
      const scales = Float32Array.from({ length: n }, (_, t) => (t === 3 ? 0.3 : 2 ** (-9 + random.int(6))));
      const score = new Float32Array(n).fill(Number.NaN);
      if (!addon.debugIndexerScores(kernel, q, w, keys, scales, heads, di, score)) {
        context.skip();
        return;
      }
      let worst = 0;
      for (let t = 0; t < n; t++) {
        let want = 0;
        let magnitude = 0;
        for (let h = 0; h < heads; h++) {
          let dot = 0;
          let size = 0;
          for (let d = 0; d < di; d++) {
            const product = q[h * di + d]! * fp8E4m3ToFloat(keys[t * di + d]!);
            dot += product;
            size += Math.abs(product);
          }
          want += w[h]! * Math.max(dot, 0);
          magnitude += Math.abs(w[h]!) * size;
        }
        want *= scales[t]!;
        magnitude *= scales[t]!;
        worst = Math.max(worst, Math.abs(score[t]! - want) / magnitude);
      }
      expect(worst).toBeLessThan(1e-6);
    });
  }

  it('declines a q that is not exact in bf16 (bf16 loop), scoring nothing', () => {
    const heads = 8;
    const di = 64;
    const q = new Float32Array(heads * di).fill(1 / 3);
    const score = new Float32Array(16).fill(7);
    const ran = addon.debugIndexerScores(
      kernel,
      q,
      new Float32Array(heads).fill(1),
      new Uint8Array(16 * di),
      new Float32Array(16).fill(1),
      heads,
      di,
      score,
    );
    if (kernel === 'bf16') {
      expect(ran).toBe(false);
      expect(Array.from(score)).toEqual(new Array(16).fill(7));
    }
  });
});
