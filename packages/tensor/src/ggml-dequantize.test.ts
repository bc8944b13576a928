import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dequantizeGgml, quantizeQ8_0 } from './ggml-dequantize.js';
import { ggmlRowBytes, ggmlTypeByName, ggmlTypeInfo } from './ggml-type.js';

/** Blocks and their dequantization by gguf-py (testdata/make-ggml-blocks.py). */
const golden = JSON.parse(readFileSync(new URL('../testdata/ggml-blocks.json', import.meta.url), 'utf8')) as {
  blocks: Record<string, { bytes: string; values_f32_bits: number[] }>;
  q8_0: { values_f32_bits: number[]; bytes: string };
};

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => Number.parseInt(b, 16)));

describe('dequantizeGgml', () => {
  for (const [name, { bytes, values_f32_bits }] of Object.entries(golden.blocks)) {
    it(`${name} equals gguf-py block by block, bit for bit`, () => {
      const type = ggmlTypeByName(name)!;
      const source = hex(bytes);
      const expected = new Float32Array(Uint32Array.from(values_f32_bits).buffer);
      const blocks = source.byteLength / type.typeSize;
      expect(expected.length).toBe(blocks * type.blockSize);
      for (let b = 0; b < blocks; b++) {
        const out = new Float32Array(type.blockSize);
        dequantizeGgml(
          type,
          source.subarray(b * type.typeSize, (b + 1) * type.typeSize),
          out,
          type.blockSize,
        );
        const want = expected.subarray(b * type.blockSize, (b + 1) * type.blockSize);
        const firstDiff = out.findIndex((v, i) => !Object.is(v, want[i]));
        expect(firstDiff, `${name} block ${b}: element ${firstDiff}`).toBe(-1);
      }
      expect(expected.some((v) => v !== 0)).toBe(true);
    });
  }

  it('decodes F16 and BF16 rows', () => {
    const out = new Float32Array(2);
    dequantizeGgml(ggmlTypeByName('F16')!, Uint8Array.from([0x00, 0x3c, 0x00, 0xc0]), out, 2);
    expect([...out]).toEqual([1, -2]);
    dequantizeGgml(ggmlTypeByName('BF16')!, Uint8Array.from([0x80, 0x3f, 0x40, 0xc0]), out, 2);
    expect([...out]).toEqual([1, -3]);
  });

  it('refuses types it cannot decode, and sizes that do not fit', () => {
    const iq = ggmlTypeByName('IQ2_XXS')!;
    expect(() => dequantizeGgml(iq, new Uint8Array(iq.typeSize), new Float32Array(256), 256)).toThrow(
      /cannot dequantize GGML type IQ2_XXS/,
    );
    const q8 = ggmlTypeByName('Q8_0')!;
    expect(() => dequantizeGgml(q8, new Uint8Array(34), new Float32Array(48), 48)).toThrow(
      /multiple of the block/,
    );
    expect(() => dequantizeGgml(q8, new Uint8Array(33), new Float32Array(32), 32)).toThrow(/need 34 bytes/);
  });
});

describe('quantizeQ8_0', () => {
  it('writes the bytes gguf-py writes', () => {
    const values = new Float32Array(Uint32Array.from(golden.q8_0.values_f32_bits).buffer);
    const out = new Uint8Array((values.length / 32) * 34);
    quantizeQ8_0(values, out);
    expect(Buffer.from(out).toString('hex')).toBe(golden.q8_0.bytes);
  });
});

describe('ggml types', () => {
  it('know the block layouts of the common types', () => {
    expect(ggmlTypeInfo(8)).toMatchObject({ name: 'Q8_0', blockSize: 32, typeSize: 34 });
    expect(ggmlTypeInfo(12)).toMatchObject({ name: 'Q4_K', blockSize: 256, typeSize: 144 });
    expect(ggmlTypeInfo(14)).toMatchObject({ name: 'Q6_K', blockSize: 256, typeSize: 210 });
    expect(ggmlTypeInfo(30)).toMatchObject({ name: 'BF16', typeSize: 2 });
    expect(ggmlTypeInfo(4)).toBeUndefined();
    expect(ggmlRowBytes(ggmlTypeByName('Q8_0')!, 64)).toBe(68);
  });
});
