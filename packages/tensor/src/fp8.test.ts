import { describe, expect, it } from 'vitest';
import { encodeFp8E4m3, FP8_E4M3_TABLE, floatToFp8E4m3, fp8E4m3ToFloat } from './fp8.js';

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

  it('encodeFp8E4m3 equals floatToFp8E4m3 on every float32 in a stride over all bit patterns', () => {
    // 2^32 / 4099 ≈ 1.05M patterns: every exponent, both signs, NaN and infinities, plus the ties and
    // boundaries around each code listed below.
    const bits = new Uint32Array(1_050_000 + 256 * 5);
    let n = 0;
    for (let u = 0; u < 2 ** 32 && n < 1_050_000; u += 4099) bits[n++] = u;
    const f = new Float32Array(1);
    const fu = new Uint32Array(f.buffer);
    for (let code = 0; code < 256; code++) {
      f[0] = FP8_E4M3_TABLE[code]!;
      const u = fu[0]!;
      for (const d of [0, 1, -1, 0x80000, 0x7ffff]) bits[n++] = (u + d) >>> 0; // neighbours and ties
    }
    const values = new Float32Array(bits.buffer, 0, n);
    const fast = new Uint8Array(n);
    encodeFp8E4m3(values, fast);
    let mismatches = 0;
    for (let i = 0; i < n; i++) if (fast[i] !== floatToFp8E4m3(values[i]!)) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('encodeFp8E4m3 applies a power-of-two multiplier exactly', () => {
    const values = new Float32Array([0.003, -0.02, 1e-7, 0.1, -0.5]);
    const out = new Uint8Array(values.length);
    encodeFp8E4m3(values, out, 2 ** 10);
    expect([...out]).toEqual([...values].map((v) => floatToFp8E4m3(v * 2 ** 10)));
    expect(() => encodeFp8E4m3(values, new Uint8Array(2))).toThrow(/destination holds 2 bytes/);
  });
});
