import type { LinearWeight } from '@dsa/backend';
import { ReferenceBackend } from '@dsa/backend-reference';
import type { ModelConfig, ModelWeights } from '@dsa/runtime';
import { type DType, type Shape, tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { decodeTraffic, weightBytesOf } from './metrics.js';

const backend = new ReferenceBackend();
const view = (dtype: DType, shape: Shape) => {
  const bytes = shape.reduce((a, b) => a * b, 1) * (dtype === 'f32' ? 4 : dtype === 'bf16' ? 2 : 1);
  return tensorView(backend.allocate(bytes, 'weights'), dtype, shape);
};
const q8 = (n: number, k: number): LinearWeight => ({
  weight: view('i8', [n, k]),
  scaleInv: view('f32', [n, k / 32]),
  blockSize: [1, 32],
});

/**
 * A GGUF-Q8_0-like model: an f32 embedding [1000, 64] (256000 bytes, rows of 256), a Q8_0 LM head
 * (64000 + 8000), one MoE layer of 4 Q8_0 experts [32, 64] x 3 (each 3 · (2048 + 256) = 6912 bytes), and
 * 50000 bytes of everything else.
 */
function model(tied: boolean) {
  const embed_tokens = view('f32', [1000, 64]);
  const experts = Array.from({ length: 4 }, () => ({ gate: q8(32, 64), up: q8(32, 64), down: q8(64, 32) }));
  const lm_head = tied ? { weight: embed_tokens } : q8(1000, 64);
  const bytes = 256000 + (tied ? 0 : 72000) + 4 * 6912 + 50000;
  return { embed_tokens, lm_head, layers: [{ moe: { experts } }], bytes } as unknown as ModelWeights;
}

const config = {
  nRoutedExperts: 4,
  nActivatedExperts: 2,
  nLayers: 1,
  indexer: null,
} as unknown as ModelConfig;

describe('decode traffic from the weights as uploaded', () => {
  it('splits off the embedding table and the routed experts at their own dtypes', () => {
    expect(weightBytesOf(model(false))).toEqual({
      total: 405648,
      embedding: 256000,
      embeddingRow: 256,
      routedExperts: 27648,
    });
  });

  it('reads one embedding row per token and the experts a batch is expected to hit', () => {
    const weights = weightBytesOf(model(false));
    const at = (batch: number) =>
      decodeTraffic({
        config,
        weights,
        attention: 'dense',
        depth: 10,
        batch,
        latentRowBytes: 100,
        indexerRowBytes: 0,
      });
    // batch 1: 405648 − 256000 − 27648 + 256 + 27648 · 0.5 = 136080; cache 10 rows of 100.
    expect(at(1)).toEqual({ weightBytes: 136080, cacheBytes: 1000 });
    // batch 4: (122000 + 4 · 256 + 27648 · (1 − 0.5⁴)) / 4 = 37236.
    expect(at(4).weightBytes).toBeCloseTo(37236, 6);
  });

  it('counts a tied LM head whole (it reads the table every step)', () => {
    const weights = weightBytesOf(model(true));
    expect(weights.embedding).toBe(0);
    expect(weights.embeddingRow).toBe(0);
    const { weightBytes } = decodeTraffic({
      config,
      weights,
      attention: 'dense',
      depth: 0,
      batch: 1,
      latentRowBytes: 0,
      indexerRowBytes: 0,
    });
    expect(weightBytes).toBe(333648 - 27648 / 2);
  });
});
