import { describe, expect, it } from 'vitest';
import { bf16ToFloat, floatToBf16 } from './bf16.js';

describe('bfloat16', () => {
  it('encodes and decodes exact values', () => {
    expect(floatToBf16(1)).toBe(0x3f80);
    expect(bf16ToFloat(0x3f80)).toBe(1);
    expect(bf16ToFloat(0xc000)).toBe(-2);
  });
  it('rounds to nearest even', () => {
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7 → even (1)
    expect(bf16ToFloat(floatToBf16(1 + 2 ** -8))).toBe(1);
    // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6 → even (1 + 2^-6)
    expect(bf16ToFloat(floatToBf16(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(Number.isNaN(bf16ToFloat(floatToBf16(Number.NaN)))).toBe(true);
  });
});
