// IEEE half precision -> number.
import { roundHalfEven } from './round-half-even.js';

/** Decodes one IEEE float16 bit pattern. */
export function f16ToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Encodes a number as IEEE float16 bits, rounding to nearest even, overflow to infinity. */
export function floatToF16(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -24 / 2) return sign;
  let exponent = Math.floor(Math.log2(a));
  if (exponent < -14) {
    const m = roundHalfEven(a / 2 ** -24);
    return sign | m;
  }
  let m = roundHalfEven((a / 2 ** exponent - 1) * 1024);
  if (m === 1024) {
    m = 0;
    exponent += 1;
  }
  return sign | ((exponent + 15) << 10) | m;
}
