import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { E8M0_HALF, UE4M3_HALF } from './ggml-decode-fp4.js';

/** gguf-py's decoding of every scale byte (testdata/make-ggml-blocks.py). */
const golden = JSON.parse(readFileSync(new URL('../testdata/ggml-blocks.json', import.meta.url), 'utf8')) as {
  fp4_scales: { e8m0_half_f32_bits: number[]; ue4m3_half_f32_bits: number[] };
};

const bits = (table: Float32Array) => [...new Uint32Array(table.buffer, table.byteOffset, table.length)];

describe('fp4 scales', () => {
  it("decode every E8M0 byte as gguf-py's MXFP4.e8m0_to_fp32_half does, bit for bit", () => {
    expect(bits(E8M0_HALF)).toEqual(golden.fp4_scales.e8m0_half_f32_bits);
    expect([E8M0_HALF[0], E8M0_HALF[127], E8M0_HALF[128], E8M0_HALF[255]]).toEqual([
      2 ** -128,
      0.5,
      1,
      2 ** 127,
    ]);
  });

  it("decode every UE4M3 byte as gguf-py's NVFP4.ue4m3_to_fp32 does, bit for bit", () => {
    expect(bits(UE4M3_HALF)).toEqual(golden.fp4_scales.ue4m3_half_f32_bits);
    // 0x38 = 1.0, 0x7e = 448 (the largest), 0x7f is read as 0; all halved
    expect([UE4M3_HALF[0x38], UE4M3_HALF[0x7e], UE4M3_HALF[0x7f], UE4M3_HALF[0x01]]).toEqual([
      0.5,
      224,
      0,
      2 ** -10,
    ]);
  });
});
