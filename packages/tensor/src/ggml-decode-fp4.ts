// Block decoders of ggml's fp4 types, MXFP4 and NVFP4: 4-bit e2m1 codes (kvalues_fp4, the e2m1 values doubled)
// times a per-block power-of-two (MXFP4) or fp8 (NVFP4) scale, halved to undo the doubling. Layouts and scale
// decodings follow gguf-py's quants.py (ggml: dequantize_row_mxfp4 / _nvfp4, ggml_e8m0_to_fp32_half,
// ggml_ue4m3_to_fp32).
import { type BlockDecoder, putNibbleLevels } from './ggml-block-bits.js';
import { KVALUES_FP4 } from './ggml-iq-grids.js';

/**
 * Half the value of each E8M0 scale byte e: 2^(e − 128), as float32 (e = 0 and 1 are subnormal). Built from
 * the bit patterns ggml's `ggml_e8m0_to_fp32_half` forms.
 */
export const E8M0_HALF: Float32Array = (() => {
  const bits = new Uint32Array(256);
  for (let e = 0; e < 256; e++) bits[e] = e < 2 ? 0x00200000 << e : (e - 1) << 23;
  return new Float32Array(bits.buffer);
})();

/**
 * Half the value of each unsigned E4M3 scale byte x (bias 7; bit 7 ignored; 0 and 0x7f read as 0), as
 * gguf-py's `NVFP4.ue4m3_to_fp32` and ggml's `ggml_ue4m3_to_fp32` decode it.
 */
export const UE4M3_HALF: Float32Array = (() => {
  const table = new Float32Array(256);
  for (let x = 0; x < 256; x++) {
    const exp = (x >> 3) & 0x0f;
    const man = x & 7;
    const raw = exp === 0 ? man * 2 ** -9 : (1 + man / 8) * 2 ** (exp - 7);
    table[x] = x === 0 || x === 0x7f ? 0 : raw * 0.5;
  }
  return table;
})();

/**
 * MXFP4, 17 bytes per 32 values (4.25 bits per value):
 *   0      e, the E8M0 shared exponent
 *   1..16  32 codes of 4 bits into kvalues_fp4 (byte j: value j low nibble, value j + 16 high)
 * value = 2^(e − 128) · kvalues_fp4[code]
 */
const mxfp4: BlockDecoder = (src, at, out, o) => {
  putNibbleLevels(out, o, E8M0_HALF[src[at]!]!, KVALUES_FP4, src, at + 1, 16);
};

/**
 * NVFP4, 36 bytes per 64 values (4.5 bits per value):
 *   0..3   4 UE4M3 scales, one per 16 values
 *   4..35  4 sub-blocks of 8 bytes: 4-bit codes into kvalues_fp4 (byte j: value j low nibble, j + 8 high)
 * value = ue4m3(scale) / 2 · kvalues_fp4[code]
 */
const nvfp4: BlockDecoder = (src, at, out, o) => {
  for (let s = 0; s < 4; s++) {
    putNibbleLevels(out, o + 16 * s, UE4M3_HALF[src[at + s]!]!, KVALUES_FP4, src, at + 4 + 8 * s, 8);
  }
};

/** Block decoders of the fp4 types, by GGML type name. */
export const FP4_DECODERS: Readonly<Record<string, BlockDecoder>> = { MXFP4: mxfp4, NVFP4: nvfp4 };
