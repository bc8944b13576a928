import { describe, expect, it } from 'vitest';
import { FP8_E4M3_TABLE, floatToFp8E4m3, fp8E4m3ToFloat } from './fp8.js';

describe('float8 e4m3fn', () => {
  it('decodes hand-checked bit patterns', () => {
    expect(fp8E4m3ToFloat(0x00)).toBe(0);
    expect(fp8E4m3ToFloat(0x38)).toBe(1); // exponent 7, mantissa 0
    expect(fp8E4m3ToFloat(0x7e)).toBe(448); // 2^8 · 1.75
    expect(fp8E4m3ToFloat(0xfe)).toBe(-448);
    expect(fp8E4m3ToFloat(0x01)).toBe(2 ** -9); // smallest subnormal
    expect(fp8E4m3ToFloat(0x08)).toBe(2 ** -6); // smallest normal
    expect(Number.isNaN(fp8E4m3ToFloat(0x7f))).toBe(true);
    expect(Number.isNaN(fp8E4m3ToFloat(0xff))).toBe(true);
  });

  it('round-trips every finite code', () => {
    for (let bits = 0; bits < 256; bits++) {
      const v = FP8_E4M3_TABLE[bits]!;
      if (Number.isNaN(v)) continue;
      const back = floatToFp8E4m3(v);
      expect(FP8_E4M3_TABLE[back]).toBe(v);
    }
  });

  it('rounds to nearest even and saturates at 448', () => {
    expect(fp8E4m3ToFloat(floatToFp8E4m3(1.0625))).toBe(1); // halfway between 1 and 1.125 → even (1)
    expect(fp8E4m3ToFloat(floatToFp8E4m3(1.1875))).toBe(1.25); // halfway between 1.125 and 1.25 → even (1.25)
    expect(fp8E4m3ToFloat(floatToFp8E4m3(1.07))).toBe(1.125);
    expect(fp8E4m3ToFloat(floatToFp8E4m3(1000))).toBe(448);
    expect(fp8E4m3ToFloat(floatToFp8E4m3(-1e9))).toBe(-448);
    expect(fp8E4m3ToFloat(floatToFp8E4m3(300))).toBe(288); // spacing 32 above 256: 288 is nearest
    expect(fp8E4m3ToFloat(floatToFp8E4m3(2 ** -10))).toBe(0); // half of the smallest subnormal → even (0)
    expect(fp8E4m3ToFloat(floatToFp8E4m3(3 * 2 ** -10))).toBe(2 * 2 ** -9);
  });
});
