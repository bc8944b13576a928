// Reading GGML blocks: the little-endian fields and the value layouts the block decoders share. Every helper
// writes into a caller's Float32Array and allocates nothing, so decoding a tensor allocates only its output.
//
// Precision: each value is a product gguf-py forms in float32 (scale · level · sign), exact there (an f16 scale
// has at most 11 significant bits, the integer and table factors at most 13 together), then at most one
// addition (Q4_1, Q5_1 and the K-quants' minimums). Computed in doubles and rounded once by the store into the
// Float32Array, it equals numpy's float32 result bit for bit (double rounding through a format of 53 ≥ 2·24 + 2
// bits is innocuous for one operation).
import { f16ToFloat } from './f16.js';

/**
 * Decodes the GGML block at byte `at` of `src` into `out[o ..]` (one block's worth of values).
 * Values are little-endian as GGUF stores them.
 */
export type BlockDecoder = (src: Uint8Array, at: number, out: Float32Array, o: number) => void;

/** The f16 at byte `at` of `src`, little-endian, as a number. */
export function half(src: Uint8Array, at: number): number {
  return f16ToFloat(src[at]! | (src[at + 1]! << 8));
}

/** `byte` read as a two's complement int8. */
export function int8(byte: number): number {
  return byte >= 128 ? byte - 256 : byte;
}

/** The uint16 at byte `at` of `src`, little-endian. */
export function u16(src: Uint8Array, at: number): number {
  return src[at]! | (src[at + 1]! << 8);
}

/** The uint32 at byte `at` of `src`, little-endian (a non-negative number). */
export function u32(src: Uint8Array, at: number): number {
  return (src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16) | (src[at + 3]! << 24)) >>> 0;
}

/**
 * Nibble-packed levels through a lookup table: the `n` bytes at `src[at ..]` hold `2n` 4-bit codes, byte j
 * the code of value j in its low nibble and of value j + n in its high nibble (ggml's order for IQ4_NL, IQ4_XS,
 * MXFP4, NVFP4). Writes `out[o + i] = scale · table[code i]` for i < 2n.
 */
export function putNibbleLevels(
  out: Float32Array,
  o: number,
  scale: number,
  table: Int8Array,
  src: Uint8Array,
  at: number,
  n: number,
): void {
  for (let j = 0; j < n; j++) {
    const b = src[at + j]!;
    out[o + j] = scale * table[b & 0x0f]!;
    out[o + j + n] = scale * table[b >> 4]!;
  }
}

/**
 * One row of an i-quant grid with signs: `out[o + j] = ±scale · grid[g + j]` for j < n, negative where bit
 * `bit0 + j` of `signs` is set (IQ2_*, IQ3_*: the row's magnitudes come from the grid, the signs separately).
 */
export function putSignedRow(
  out: Float32Array,
  o: number,
  scale: number,
  grid: Uint8Array,
  g: number,
  n: number,
  signs: number,
  bit0: number,
): void {
  for (let j = 0; j < n; j++) {
    const v = scale * grid[g + j]!;
    out[o + j] = (signs >> (bit0 + j)) & 1 ? -v : v;
  }
}

/** 4-bit field `i` of the nibble array at `src[at ..]`: byte i / 2, low nibble for even i, high for odd. */
export function nibble(src: Uint8Array, at: number, i: number): number {
  return (src[at + (i >> 1)]! >> ((i & 1) << 2)) & 0x0f;
}
