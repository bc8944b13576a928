// The opt-in fused indexerTopk (aclnnLightningIndexer) and mlaAttention (aclnnSparseFlashAttention),
// on the emulator's libcust_opapi.so, against
// the contract's formula evaluated on the host, with inputs exactly representable in bf16 so the
// operator's bf16 copies change nothing: a paged batch of two sequences (block size 16), a prefill
// chunk, a decode token and a second chunk, f32 and fp8 (per-token scaled) key caches.
import {
  type AttentionBatch,
  type Backend,
  downloadTensor,
  fp8LatentCache,
  fp8LatentRowBytes,
  gatherLatentRows,
  scatterLatentRows,
  uploadTensor,
  Workspace,
} from '@dsa/backend';
import { type PagedLayout, Random, uploadBatch } from '@dsa/backend/testing';
import { describe, expect, it } from 'vitest';
import { buildEmulator } from '../emulator/build-emulator.js';
import ascendBackendFactory from './index.js';

process.env.DSA_ASCEND_LIB_DIR = buildEmulator();

// Two sequences in a pool of 6 blocks of 16: a 3-token chunk of sequence 0, a decode token and a
// 2-token chunk of sequence 1.
const LAYOUT: PagedLayout = {
  blockSize: 16,
  blockTable: [
    [4, 1, 5],
    [0, 3, -1],
  ],
  sequenceIds: [0, 0, 0, 1, 1, 1],
  positions: [37, 38, 39, 9, 20, 21],
  slots: 6 * 16,
};
const BLOCK = LAYOUT.blockSize;
const SLOTS = LAYOUT.slots;
const BLOCK_TABLE = LAYOUT.blockTable;
const SEQUENCE_IDS = LAYOUT.sequenceIds;
const POSITIONS = LAYOUT.positions;
const S = POSITIONS.length;
const HEADS = 4;
const WIDTH = 128;
const batchOn = (backend: Backend): AttentionBatch => uploadBatch(backend, LAYOUT);

/** The contract: score = scale_t · Σ_h w·ReLU(q·k_t) over t ≤ position, k best ascending, ties low, -1 padded. */
function expected(q: number[], w: number[], keys: number[], scales: number[] | null, k: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < S; s++) {
    const row = BLOCK_TABLE[SEQUENCE_IDS[s]!]!;
    const scores: [number, number][] = [];
    for (let t = 0; t <= POSITIONS[s]!; t++) {
      const slot = row[Math.floor(t / BLOCK)]! * BLOCK + (t % BLOCK);
      let score = 0;
      for (let h = 0; h < HEADS; h++) {
        let dot = 0;
        for (let d = 0; d < WIDTH; d++) dot += q[(s * HEADS + h) * WIDTH + d]! * keys[slot * WIDTH + d]!;
        score += w[s * HEADS + h]! * Math.max(0, dot * (scales ? scales[slot]! : 1));
      }
      scores.push([score, t]);
    }
    scores.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const picked = scores.slice(0, k).map(([, t]) => t);
    picked.sort((a, b) => a - b);
    while (picked.length < k) picked.push(-1);
    out.push(...picked);
  }
  return out;
}

const small = (random: Random, n: number, scale: number) =>
  Array.from({ length: n }, () => Math.round(random.normal() * 2) / scale);

describe('fused indexerTopk through aclnnLightningIndexer (CANN emulator)', async () => {
  const backend = await ascendBackendFactory.create({ settings: { log: () => {}, fusedOperators: true } });
  const plain = await ascendBackendFactory.create({ settings: { log: () => {} } });

  it('is opt-in: absent from the default backend', () => {
    expect(plain.capabilities.fused.size).toBe(0);
    expect(backend.capabilities.fused.has('indexerTopk')).toBe(true);
    expect(backend.capabilities.fused.has('mlaAttention')).toBe(true);
  });

  for (const mode of ['f32', 'fp8'] as const) {
    it(`matches the contract formula with ${mode} keys (k = 24, padding for short rows)`, async () => {
      const random = new Random(mode === 'f32' ? 11 : 12);
      const q = small(random, S * HEADS * WIDTH, 4);
      const w = small(random, S * HEADS, 8);
      const keys = small(random, SLOTS * WIDTH, mode === 'fp8' ? 1 : 4);
      const scales = mode === 'fp8' ? Array.from({ length: SLOTS }, () => 2 ** -(3 + random.int(4))) : null;
      const k = 24;
      const indices = uploadTensor(backend, 'i32', [S, k], new Array(S * k).fill(7));
      backend.fused.indexerTopk!(
        indices,
        uploadTensor(backend, 'f32', [S, HEADS, WIDTH], q),
        uploadTensor(backend, 'f32', [S, HEADS], w),
        {
          keys: uploadTensor(backend, mode === 'fp8' ? 'f8_e4m3' : 'f32', [SLOTS, WIDTH], keys),
          ...(scales ? { scales: uploadTensor(backend, 'f32', [SLOTS], scales) } : {}),
        },
        batchOn(backend),
        k,
      );
      const got = Array.from(await downloadTensor(backend, indices));
      await backend.synchronize();
      expect(got).toEqual(expected(q, w, keys, scales, k));
      expect(got.slice(3 * k, 4 * k).filter((v) => v === -1).length).toBe(k - 10); // decode token at position 9
    });
  }

  for (const sparse of [true, false]) {
    it(`mlaAttention via aclnnSparseFlashAttention matches the contract (${sparse ? 'sparse, -1 interleaved' : 'dense'}) within bf16 rounding`, async () => {
      const random = new Random(sparse ? 21 : 22);
      const [c, r, h] = [512, 64, 2];
      const q = small(random, S * h * (c + r), 8);
      const cache = small(random, SLOTS * (c + r), 8);
      const scale = 0.1352338;
      const k = 12;
      const lists: number[] = [];
      for (let s = 0; s < S; s++) {
        const row: number[] = [];
        for (let j = 0; j < k; j++) row.push(j % 4 === 1 ? -1 : random.int(POSITIONS[s]! + 1));
        lists.push(...row.map((v, j) => (row.indexOf(v) === j ? v : -1))); // distinct positions
      }
      const out = uploadTensor(backend, 'f32', [S, h, c], new Array(S * h * c).fill(0));
      backend.fused.mlaAttention!(
        out,
        uploadTensor(backend, 'f32', [S, h, c + r], q),
        uploadTensor(backend, 'f32', [SLOTS, c + r], cache),
        batchOn(backend),
        sparse ? uploadTensor(backend, 'i32', [S, k], lists) : null,
        scale,
      );
      const got = await downloadTensor(backend, out);
      await backend.synchronize();
      let worst = 0;
      let largest = 1;
      for (let s = 0; s < S; s++) {
        const table = BLOCK_TABLE[SEQUENCE_IDS[s]!]!;
        const positions = sparse
          ? lists.slice(s * k, (s + 1) * k).filter((t) => t >= 0)
          : Array.from({ length: POSITIONS[s]! + 1 }, (_, t) => t);
        const slots = positions.map((t) => table[Math.floor(t / BLOCK)]! * BLOCK + (t % BLOCK));
        for (let head = 0; head < h; head++) {
          const qRow = q.slice((s * h + head) * (c + r), (s * h + head + 1) * (c + r));
          const logits = slots.map(
            (slot) => scale * qRow.reduce((a, v, d) => a + v * cache[slot * (c + r) + d]!, 0),
          );
          const max = Math.max(...logits);
          const p = logits.map((l) => Math.exp(l - max));
          const sum = p.reduce((a, b) => a + b, 0);
          for (let d = 0; d < c; d++) {
            const want = slots.reduce((a, slot, j) => a + (p[j]! / sum) * cache[slot * (c + r) + d]!, 0);
            largest = Math.max(largest, Math.abs(want));
            worst = Math.max(worst, Math.abs(want - got[(s * h + head) * c + d]!));
          }
        }
      }
      console.log(
        `ascend fused mlaAttention (${sparse ? 'sparse' : 'dense'}): max abs error ${worst.toExponential(3)}`,
      );
      expect(worst / largest).toBeLessThan(1e-2);
      expect(got.some((v) => Math.abs(v) > 0.05)).toBe(true);
    });
  }

  it('mlaAttention over an fp8 latent cache (656-byte rows) gives the bits of the f32 cache holding its dequantized rows', async () => {
    // The fp8 rows become the operator's bf16 copy exactly (e4m3 × a power of two fits bf16).
    const random = new Random(23);
    const [c, r, h] = [512, 64, 2];
    const workspace = new Workspace(backend);
    const cache = fp8LatentCache(backend.allocate(SLOTS * fp8LatentRowBytes(c, r), 'kv-cache'), SLOTS, c, r);
    const slots = uploadTensor(backend, 'i32', [SLOTS], [...Array(SLOTS).keys()]);
    const values = uploadTensor(backend, 'f32', [SLOTS, c + r], small(random, SLOTS * (c + r), 8));
    scatterLatentRows(backend, workspace, cache, values, slots);
    const dequantized = gatherLatentRows(backend, workspace, cache, slots);
    const q = uploadTensor(backend, 'f32', [S, h, c + r], small(random, S * h * (c + r), 8));
    const run = async (latent: typeof dequantized | typeof cache) => {
      const out = uploadTensor(backend, 'f32', [S, h, c], new Array(S * h * c).fill(0));
      backend.fused.mlaAttention!(out, q, latent, batchOn(backend), null, 0.1352338);
      return downloadTensor(backend, out);
    };
    const fp8 = await run(cache);
    expect(fp8.some((v) => Math.abs(v) > 0.05)).toBe(true);
    expect(fp8).toEqual(await run(dequantized));
  });

  it('surfaces the operator constraints: a head dim other than 128 is refused by aclnnLightningIndexer', () => {
    expect(() =>
      backend.fused.indexerTopk!(
        uploadTensor(backend, 'i32', [S, 8], new Array(S * 8).fill(0)),
        uploadTensor(backend, 'f32', [S, HEADS, 64], new Array(S * HEADS * 64).fill(0)),
        uploadTensor(backend, 'f32', [S, HEADS], new Array(S * HEADS).fill(0)),
        { keys: uploadTensor(backend, 'f32', [SLOTS, 64], new Array(SLOTS * 64).fill(0)) },
        batchOn(backend),
        8,
      ),
    ).toThrow(/aclnnLightningIndexerGetWorkspaceSize failed .*head dim D = 64 must be 128/);
  });

  it('rejects k beyond the operator limit', () => {
    const t = uploadTensor(backend, 'f32', [S, HEADS, WIDTH], new Array(S * HEADS * WIDTH).fill(0));
    expect(() =>
      backend.fused.indexerTopk!(
        uploadTensor(backend, 'i32', [S, 4096], new Array(S * 4096).fill(0)),
        t,
        uploadTensor(backend, 'f32', [S, HEADS], new Array(S * HEADS).fill(0)),
        { keys: uploadTensor(backend, 'f32', [SLOTS, WIDTH], new Array(SLOTS * WIDTH).fill(0)) },
        batchOn(backend),
        4096,
      ),
    ).toThrow(/sparseCount 1\.\.2048/);
  });
});
