import { describe, expect, it } from 'vitest';
import { mlaChunks } from './mla-attention.js';

// The split-KV chunking of the f32 MLA kernel (mla_chunk in kernels/fused/mla-attention.cu): chunks of
// at least 64 keys, a multiple of the 32-key tile, at most 64 per query. The combine kernel's grid and the
// workspace are sized from it, so it must cover every key with few, full chunks.
describe('mlaChunks', () => {
  it('gives one chunk per 64 keys up to 4096 keys, then chunks of a multiple of 32 keys, at most 64', () => {
    expect([0, 1, 64, 65, 2048, 4096, 4097, 131072].map(mlaChunks)).toEqual([0, 1, 1, 2, 32, 64, 43, 64]); // 4097: 96-key chunks
    expect(mlaChunks(5001)).toBe(53); // chunks of 96 keys
  });

  it('never exceeds 64 chunks and always covers the keys', () => {
    for (let count = 1; count <= 300_000; count += 997) {
      const chunks = mlaChunks(count);
      expect(chunks).toBeGreaterThanOrEqual(1);
      expect(chunks).toBeLessThanOrEqual(64);
      const chunk = Math.max(64, Math.ceil(Math.ceil(count / 64) / 32) * 32);
      expect(chunks * chunk).toBeGreaterThanOrEqual(count);
      expect((chunks - 1) * chunk).toBeLessThan(count);
    }
  });
});
