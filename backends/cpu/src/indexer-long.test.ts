// The AVX-512 indexer scoring paths (heads folded into the vector lanes, f8_e4m3 keys decoded by table;
// with a bf16-exact q, as the fp8 indexer's, vdpbf16ps with the keys in the lanes where the CPU has
// AVX512_BF16) and the top-k of long rows (the AVX-512 count select up to 16384 keys, the threshold select
// beyond and on the other ISAs), at the small preset's and the real model's indexer dims, against the
// composite fallback on the reference backend: the selected positions must be identical.
import {
  type AttentionBatch,
  type Backend,
  downloadTensor,
  type IndexerKeyCache,
  indexerTopk,
  uploadTensor,
  Workspace,
} from '@dsa/backend';
import { Random } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { floatToFp8E4m3, fp8E4m3ToFloat, tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import { runnableIsas } from './cpu-settings.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
const ISAS = runnableIsas(native.addon.info().isa);

const BLOCK = 64;

/** One decode query of one sequence at position `depth - 1`, its blocks in reverse pool order. */
function batchOn(backend: Backend, depth: number): AttentionBatch {
  const blocks = Math.ceil(depth / BLOCK);
  const table = Array.from({ length: blocks }, (_, b) => blocks - 1 - b);
  return {
    positions: uploadTensor(backend, 'i32', [1], [depth - 1]),
    sequenceIds: uploadTensor(backend, 'i32', [1], [0]),
    blockTable: uploadTensor(backend, 'i32', [1, blocks], table),
    blockSize: BLOCK,
    host: {
      positions: Int32Array.from([depth - 1]),
      sequenceIds: Int32Array.from([0]),
      blockTable: Int32Array.from(table),
      maxBlocks: blocks,
    },
  };
}

const CASES: [string, number, number, number, number][] = [
  // label, heads, head dim, depth, k
  ['small preset dims', 8, 64, 5000, 256],
  ['small preset dims, deeper (sampled top-k threshold off AVX-512)', 8, 64, 9000, 256],
  ['small preset dims, past the count select (sampled top-k threshold)', 8, 64, 20000, 256],
  ['V3.2 dims', 64, 128, 4500, 64],
  ['short row, two heads', 2, 64, 300, 16],
];

for (const isa of ISAS) {
  describe(`indexerTopk on the cpu backend (${isa}), long rows`, () => {
    const cpu = new CpuBackend(native.addon, { threads: 2, settings: { isa } });
    const reference = new ReferenceBackend();
    const workspace = new Workspace(reference);
    for (const [label, heads, di, depth, k] of CASES) {
      for (const keyMode of ['f32', 'fp8', 'fp8, e4m3 q,'] as const) {
        it(`${label}, ${keyMode} keys, depth ${depth}: same positions as the composite`, async () => {
          const random = new Random(heads * 131 + di + (keyMode === 'f32' ? 0 : 1));
          const slots = Math.ceil(depth / BLOCK) * BLOCK;
          // The fp8 indexer's q is e4m3-rounded (exact in bf16).
          const q = random
            .normals(heads * di)
            .map((x) => (keyMode === 'fp8, e4m3 q,' ? fp8E4m3ToFloat(floatToFp8E4m3(x * 16)) / 16 : x));
          const weights = random.normals(heads);
          const keys = random.normals(slots * di, 50);
          const scales = Array.from({ length: slots }, () => 2 ** (-8 + random.int(4)));
          const run = async (backend: Backend, fused: boolean) => {
            const cache: IndexerKeyCache =
              keyMode === 'f32'
                ? { keys: uploadTensor(backend, 'f32', [slots, di], keys) }
                : {
                    keys: uploadTensor(backend, 'f8_e4m3', [slots, di], keys),
                    scales: uploadTensor(backend, 'f32', [slots], scales),
                  };
            const qv = uploadTensor(backend, 'f32', [1, heads, di], q);
            const wv = uploadTensor(backend, 'f32', [1, heads], weights);
            const out = tensorView(backend.allocate(k * 4, 'activations'), 'i32', [1, k]);
            const batch = batchOn(backend, depth);
            if (fused) backend.fused.indexerTopk!(out, qv, wv, cache, batch, k);
            else indexerTopk(backend, workspace, out, qv, wv, cache, batch, k);
            return Array.from(await downloadTensor(backend, out));
          };
          const got = await run(cpu, true);
          const want = await run(reference, false);
          expect(got).toEqual(want);
          expect(new Set(got).size).toBe(k);
        });
      }
    }
    for (const [depth, every] of [
      [2000, 13],
      [9000, 50],
      [20000, 100],
    ] as const) {
      it(`ties at the k-th score, depth ${depth}: the tied positions of lowest index, in index order`, async () => {
        // Every `every`-th key scores above zero; all others are zero rows, so their scores tie at exactly 0
        // and the selection must take the lowest of them (the final pass of either select).
        const heads = 8,
          di = 64,
          k = 256;
        const random = new Random(depth);
        const q = random.normals(heads * di);
        const weights = random.normals(heads).map(Math.abs);
        const slots = Math.ceil(depth / BLOCK) * BLOCK;
        const keys = new Array<number>(slots * di).fill(0);
        const high: number[] = [];
        const blocks = slots / BLOCK;
        for (let t = 0; t < depth; t += every) {
          high.push(t);
          const slot = (blocks - 1 - Math.floor(t / BLOCK)) * BLOCK + (t % BLOCK); // batchOn's block table
          for (let d = 0; d < di; d++) keys[slot * di + d] = 4 * q[d]!;
        }
        const low = Array.from({ length: depth }, (_, t) => t).filter((t) => t % every !== 0);
        const want = [...high, ...low.slice(0, k - high.length)].sort((a, b) => a - b);
        const cache: IndexerKeyCache = { keys: uploadTensor(cpu, 'f32', [slots, di], keys) };
        const out = tensorView(cpu.allocate(k * 4, 'activations'), 'i32', [1, k]);
        cpu.fused.indexerTopk!(
          out,
          uploadTensor(cpu, 'f32', [1, heads, di], q),
          uploadTensor(cpu, 'f32', [1, heads], weights),
          cache,
          batchOn(cpu, depth),
          k,
        );
        expect(high.length).toBeLessThan(k);
        expect(Array.from(await downloadTensor(cpu, out))).toEqual(want);
      });
    }
  });
}
