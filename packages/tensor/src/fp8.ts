// OCP float8 e4m3fn: 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits.
// Max finite ±448 (0x7e), NaN = 0x7f / 0xff, no infinities, subnormals m/8 · 2^-6.
import { roundHalfEven } from './round-half-even.js';

/** Largest finite e4m3fn magnitude. */
export const FP8_E4M3_MAX = 448;

/** Decode table: `FP8_E4M3_TABLE[bits]` is the value of the byte `bits`. */
export const FP8_E4M3_TABLE: Float32Array = (() => {
  const table = new Float32Array(256);
  for (let bits = 0; bits < 256; bits++) {
    const sign = bits & 0x80 ? -1 : 1;
    const exponent = (bits >> 3) & 0xf;
    const mantissa = bits & 0x7;
    let value: number;
    if (exponent === 0xf && mantissa === 0x7) value = Number.NaN;
    else if (exponent === 0) value = (mantissa / 8) * 2 ** -6;
    else value = (1 + mantissa / 8) * 2 ** (exponent - 7);
    table[bits] = sign * value;
  }
  return table;
})();

/** Decodes one e4m3fn byte. */
export function fp8E4m3ToFloat(bits: number): number {
  return FP8_E4M3_TABLE[bits & 0xff]!;
}

/**
 * Encodes a number as e4m3fn, rounding to nearest even. Values beyond ±448 saturate to ±448
 * (the reference clamps before casting); NaN encodes as 0x7f.
 */
export function floatToFp8E4m3(value: number): number {
  if (Number.isNaN(value)) return 0x7f;
  const sign = value < 0 || Object.is(value, -0) ? 0x80 : 0;
  let a = Math.abs(value);
  if (a >= FP8_E4M3_MAX) return sign | 0x7e;
  // Smallest normal is 2^-6; below it the spacing is 2^-9.
  if (a < 2 ** -6) {
    const m = roundHalfEven(a / 2 ** -9);
    return sign | m; // m may reach 8, which is exactly the encoding of 2^-6 (exponent 1, mantissa 0)
  }
  let exponent = Math.floor(Math.log2(a));
  // Guard against log2 rounding at exact powers of two.
  if (2 ** exponent > a) exponent -= 1;
  else if (2 ** (exponent + 1) <= a) exponent += 1;
  a = a / 2 ** exponent; // in [1, 2)
  let m = roundHalfEven((a - 1) * 8);
  if (m === 8) {
    m = 0;
    exponent += 1;
  }
  const e = exponent + 7;
  if (e > 15 || (e === 15 && m === 7)) return sign | 0x7e;
  return sign | (e << 3) | m;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * Encodes `source[i] · multiplier` as e4m3fn into `destination[i]` for every i, with the rounding,
 * saturation and NaN of {@link floatToFp8E4m3}, from the float32 bits (about 20× faster). The product
 * is rounded to float32 first, so it equals floatToFp8E4m3 exactly when the product is a float32
 * value, e.g. when `multiplier` is a power of two (block scales are).
 */
export function encodeFp8E4m3(source: Float32Array, destination: Uint8Array, multiplier = 1): void {
  if (destination.length < source.length) {
    throw new RangeError(`destination holds ${destination.length} bytes, source has ${source.length} values`);
  }
  for (let i = 0; i < source.length; i++) {
    f32Scratch[0] = source[i]! * multiplier;
    const u = u32Scratch[0]!;
    const a = u & 0x7fffffff;
    const sign = (u >>> 24) & 0x80;
    if (a > 0x7f800000)
      destination[i] = 0x7f; // NaN
    else if (a >= 0x43e00000)
      destination[i] = sign | 0x7e; // ≥ 448 (and ±inf) saturate
    else if (a < 0x3c800000)
      destination[i] = floatToFp8E4m3(f32Scratch[0]!); // below 2^-6: subnormal
    else destination[i] = sign | (((a + 0x7ffff + ((a >>> 20) & 1)) >>> 20) - 960); // RNE to 3 mantissa bits
  }
}
