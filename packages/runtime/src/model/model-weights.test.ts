import path from 'node:path';
import type { Backend } from '@dsa/backend';
import { ReferenceBackend } from '@dsa/backend-reference';
import { dtypeBytes, FP8_E4M3_TABLE, type TensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../checkpoint/checkpoint.js';
import { parseModelConfig } from '../config/model-config.js';
import { loadModelWeights } from './model-weights.js';

/** The raw bytes of a contiguous view. */
async function bytesOf(backend: Backend, view: TensorView): Promise<Uint8Array> {
  const out = new Uint8Array(view.shape.reduce((a, b) => a * b, 1) * dtypeBytes(view.dtype));
  await backend.download(view, out);
  return out;
}

const tiny = path.resolve(import.meta.dirname, '../../../../fixtures/tiny');
const tinyFp8 = path.resolve(import.meta.dirname, '../../../../fixtures/tiny-fp8');

describe('loadModelWeights', () => {
  it('streams large tensors in row slices with the bytes of a whole-tensor upload', async () => {
    const checkpoint = await Checkpoint.open(tiny);
    try {
      const config = parseModelConfig(await checkpoint.readJson('config.json'));
      const backend = new ReferenceBackend();
      let ranges = 0;
      const counting = {
        has: (n: string) => checkpoint.has(n),
        info: (n: string) => checkpoint.info(n),
        read: (n: string) => checkpoint.read(n),
        readRange: (n: string, offset: number, target: Uint8Array) => {
          ranges++;
          return checkpoint.readRange(n, offset, target);
        },
      };
      // 1 KiB slices: every tensor with rows of at most 1 KiB and more than 1 KiB in all streams
      const sliced = await loadModelWeights(backend, counting, config, undefined, 1024);
      expect(ranges).toBeGreaterThan(10);
      const whole = await loadModelWeights(
        backend,
        { has: counting.has, info: counting.info, read: counting.read }, // no ranges: whole tensors
        config,
      );
      const views = (w: typeof whole) => [
        w.embed_tokens,
        w.norm,
        w.lm_head.weight,
        w.layers[0]!.self_attn.kv_a_proj_with_mqa.weight,
      ];
      for (const [a, b] of views(sliced).map((v, i) => [v, views(whole)[i]!] as const)) {
        // compared as one boolean: a failing toEqual would print a diff of a whole weight matrix
        expect(Buffer.compare(await bytesOf(backend, a), await bytesOf(backend, b))).toBe(0);
      }
      expect(sliced.bytes).toBe(whole.bytes);
    } finally {
      await checkpoint.close();
    }
  });

  it('dequantizes an fp8 kv_b_proj to bf16 where every value is exact in bf16, else to f32', async () => {
    const checkpoint = await Checkpoint.open(tinyFp8);
    try {
      const config = parseModelConfig(await checkpoint.readJson('config.json'));
      const backend = new ReferenceBackend();
      const name = 'model.layers.0.self_attn.kv_b_proj.weight';
      const q = await checkpoint.read(name);
      const scaleBytes = await checkpoint.read(`${name.slice(0, -'.weight'.length)}.weight_scale_inv`);
      const scales = new Float32Array(scaleBytes.slice().buffer);
      const cols = config.kvLoraRank;
      const expected = (scale: (r: number, c: number) => number) =>
        Array.from(q, (v, i) => Math.fround(FP8_E4M3_TABLE[v]! * scale(Math.floor(i / cols), i % cols)));
      const scaleOf = (values: Float32Array) => (r: number, c: number) =>
        values[Math.floor(r / 128) * Math.ceil(cols / 128) + Math.floor(c / 128)]!;
      const read = async (view: TensorView) => {
        const raw = await bytesOf(backend, view);
        return view.dtype === 'bf16'
          ? Array.from(
              new Uint16Array(raw.buffer),
              (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]!,
            )
          : Array.from(new Float32Array(raw.buffer));
      };
      // The fixture's scales are not powers of two: products that need more than bf16's 8 bits stay f32.
      expect(Array.from(scales).some((s) => Math.log2(s) !== Math.round(Math.log2(s)))).toBe(true);
      const plain = await loadModelWeights(backend, checkpoint, config);
      const f32 = plain.layers[0]!.self_attn.kv_b_proj;
      expect(f32.dtype).toBe('f32');
      expect(await read(f32)).toEqual(expected(scaleOf(scales)));
      // Power-of-two scales (DeepSeek's ue8m0): e4m3 times 2^e is exact in bf16, kept in half the bytes.
      const toPow2 = (values: Float32Array) => values.map((s) => 2 ** Math.round(Math.log2(s)));
      const pow2 = toPow2(scales);
      const source = {
        has: (n: string) => checkpoint.has(n),
        info: (n: string) => checkpoint.info(n),
        read: async (n: string) => {
          const bytes = await checkpoint.read(n);
          if (!n.endsWith('.weight_scale_inv')) return bytes;
          return new Uint8Array(toPow2(new Float32Array(bytes.slice().buffer)).buffer);
        },
      };
      const exact = await loadModelWeights(backend, source, config);
      const bf16 = exact.layers[0]!.self_attn.kv_b_proj;
      expect(bf16.dtype).toBe('bf16');
      expect(await read(bf16)).toEqual(expected(scaleOf(pow2)));
      expect(exact.layers.every((l) => l.self_attn.kv_b_proj.dtype === 'bf16')).toBe(true);
      // Half the bytes for each layer that the fixture's own scales had left in f32.
      const widened = plain.layers.filter((l) => l.self_attn.kv_b_proj.dtype === 'f32').length;
      expect(widened).toBeGreaterThanOrEqual(1);
      expect(plain.bytes - exact.bytes).toBe(widened * q.length * 2);
    } finally {
      await checkpoint.close();
    }
  });
});
