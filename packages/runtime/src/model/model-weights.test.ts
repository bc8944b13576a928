import path from 'node:path';
import type { Backend } from '@dsa/backend';
import { ReferenceBackend } from '@dsa/backend-reference';
import { dtypeBytes, type TensorView } from '@dsa/tensor';
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
});
