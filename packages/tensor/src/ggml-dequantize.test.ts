import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEQUANTIZABLE_GGML_TYPES, dequantizeGgml, quantizeQ8_0 } from './ggml-dequantize.js';
import { ggmlRowBytes, ggmlTypeByName, ggmlTypeInfo } from './ggml-type.js';

/** Blocks and their dequantization by gguf-py (testdata/make-ggml-blocks.py). */
const golden = JSON.parse(readFileSync(new URL('../testdata/ggml-blocks.json', import.meta.url), 'utf8')) as {
  blocks: Record<string, { bytes: string; values_f32_bits: number[] }>;
  q8_0: { values_f32_bits: number[]; bytes: string };
  type_sizes: Record<string, [number, number]>;
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

  it('decodes every type gguf-py can dequantize, each with goldens', () => {
    const plain = ['F32', 'F16', 'BF16', 'F64'];
    expect([...DEQUANTIZABLE_GGML_TYPES].sort()).toEqual([...plain, ...Object.keys(golden.blocks)].sort());
  });

  it('refuses types it cannot decode, saying why, and sizes that do not fit', () => {
    const refuse = (name: string) => {
      const type = ggmlTypeByName(name)!;
      const values = new Float32Array(type.blockSize);
      return () => dequantizeGgml(type, new Uint8Array(type.typeSize), values, type.blockSize);
    };
    expect(refuse('Q8_K')).toThrow(/cannot dequantize GGML type Q8_K: .*gguf-py .* cannot dequantize it/);
    expect(refuse('Q1_0')).toThrow(/cannot dequantize GGML type Q1_0: gguf-py .* cannot dequantize it/);
    expect(refuse('I32')).toThrow(
      /cannot dequantize GGML type I32: an integer type.*supported: F32, F16, Q4_0/,
    );
    const q8 = ggmlTypeByName('Q8_0')!;
    expect(() => dequantizeGgml(q8, new Uint8Array(34), new Float32Array(48), 48)).toThrow(
      /multiple of the block/,
    );
    expect(() => dequantizeGgml(q8, new Uint8Array(33), new Float32Array(32), 32)).toThrow(/need 34 bytes/);
  });

  it('decodes whole tensors of many blocks at their offsets', () => {
    // The golden blocks of a type laid end to end decode to the golden values laid end to end.
    for (const [name, { bytes, values_f32_bits }] of Object.entries(golden.blocks)) {
      const type = ggmlTypeByName(name)!;
      const source = hex(bytes);
      const out = new Float32Array(values_f32_bits.length + 1).fill(7);
      dequantizeGgml(type, source, out, values_f32_bits.length);
      expect(new Uint32Array(out.buffer, 0, values_f32_bits.length), name).toEqual(
        Uint32Array.from(values_f32_bits),
      );
      expect(out[values_f32_bits.length], `${name} writes past the end`).toBe(7);
    }
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
  it("know every type's block layout as gguf-py's GGML_QUANT_SIZES has it", () => {
    for (const [name, [blockSize, typeSize]] of Object.entries(golden.type_sizes)) {
      expect(ggmlTypeByName(name), name).toMatchObject({ blockSize, typeSize });
    }
  });

  it('know the block layouts of the common types', () => {
    expect(ggmlTypeInfo(8)).toMatchObject({ name: 'Q8_0', blockSize: 32, typeSize: 34 });
    expect(ggmlTypeInfo(12)).toMatchObject({ name: 'Q4_K', blockSize: 256, typeSize: 144 });
    expect(ggmlTypeInfo(14)).toMatchObject({ name: 'Q6_K', blockSize: 256, typeSize: 210 });
    expect(ggmlTypeInfo(30)).toMatchObject({ name: 'BF16', typeSize: 2 });
    expect(ggmlTypeInfo(9)).toMatchObject({ name: 'Q8_1', blockSize: 32, typeSize: 36 });
    expect(ggmlTypeInfo(16)).toMatchObject({ name: 'IQ2_XXS', blockSize: 256, typeSize: 66 });
    expect(ggmlTypeInfo(29)).toMatchObject({ name: 'IQ1_M', blockSize: 256, typeSize: 56 });
    expect(ggmlTypeInfo(39)).toMatchObject({ name: 'MXFP4', blockSize: 32, typeSize: 17 });
    expect(ggmlTypeInfo(4)).toBeUndefined();
    expect(ggmlRowBytes(ggmlTypeByName('Q8_0')!, 64)).toBe(68);
  });
});
