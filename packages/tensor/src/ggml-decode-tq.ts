// Block decoders of ggml's ternary types TQ1_0 and TQ2_0 (BitNet b1.58 style weights −1, 0, 1 times one f16
// scale per 256 values). Layouts follow gguf-py's quants.py (ggml: dequantize_row_tq1_0 / _tq2_0).
import { type BlockDecoder, half } from './ggml-block-bits.js';

const POW3 = Uint8Array.of(1, 3, 9, 27, 81);

/**
 * Base-3 packed trits: each of the `count` bytes at `src[at ..]` holds `digits` trits t (0, 1, 2) as the
 * fixed-point fraction ⌈Σ t_n·3^(4−n) · 256 / 243⌉; trit n is the top of (byte · 3^n mod 256) · 3, that is
 * ((byte · 3^n mod 256) · 3) >> 8. Writes `out[o + n·count + m] = d · (trit n of byte m − 1)`.
 */
function putTrits(
  out: Float32Array,
  o: number,
  d: number,
  src: Uint8Array,
  at: number,
  count: number,
  digits: number,
): void {
  for (let n = 0; n < digits; n++) {
    const p = POW3[n]!;
    for (let m = 0; m < count; m++) {
      const q = (src[at + m]! * p) & 0xff;
      out[o + n * count + m] = d * (((q * 3) >> 8) - 1);
    }
  }
}

/**
 * TQ1_0, 54 bytes (1.69 bits per value):
 *   0..31   5 trits per byte: values n·32 + m (n < 5) from byte m
 *   32..47  5 trits per byte: values 160 + n·16 + m from byte 32 + m
 *   48..51  4 trits per byte: values 240 + n·4 + m (n < 4) from byte 48 + m
 *   52..53  d (f16)
 * value = d · (trit − 1)
 */
const tq1_0: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at + 52);
  putTrits(out, o, d, src, at, 32, 5);
  putTrits(out, o + 160, d, src, at + 32, 16, 5);
  putTrits(out, o + 240, d, src, at + 48, 4, 4);
};

/**
 * TQ2_0, 66 bytes (2.06 bits per value):
 *   0..63   2 halves of 32 bytes: bits 2l, 2l+1 of byte m of half h hold q for value 128h + 32l + m
 *   64..65  d (f16)
 * value = d · (q − 1)
 */
const tq2_0: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at + 64);
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 4; l++) {
      const y = o + 128 * h + 32 * l;
      for (let m = 0; m < 32; m++) out[y + m] = d * (((src[at + 32 * h + m]! >> (2 * l)) & 3) - 1);
    }
  }
};

/** Block decoders of the ternary types, by GGML type name. */
export const TQ_DECODERS: Readonly<Record<string, BlockDecoder>> = { TQ1_0: tq1_0, TQ2_0: tq2_0 };
