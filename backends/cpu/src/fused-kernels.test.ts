// Each fused kernel of the cpu backend against the composite fallback that defines it, run on the
// reference backend, with random inputs and a small paged batch (two sequences, block size 4).
import {
  type AttentionBatch,
  type Backend,
  downloadTensor,
  type ExpertWeights,
  type IndexerKeyCache,
  type LinearWeight,
  uploadTensor,
  Workspace,
} from '@dsa/backend';
import {
  emptyTensor,
  MOE_ROUTE_CASES,
  Random,
  relativeError,
  SMALL_PAGED_LAYOUT,
  sparseIndices,
  uploadBatch,
  uploadLinearWeight,
} from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { indexerTopK } from '@dsa/indexer';
import { mlaAttention } from '@dsa/mla';
import { moeExperts, moeRoute, swiglu } from '@dsa/moe';
import type { DType } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
const ISAS = (['portable', 'avx2', 'avx512'] as const).slice(0, native.addon.info().isa + 1);

// The small paged batch of the testing kit: a 3-token prefill chunk of sequence 0, a decode token of
// sequence 1 and a 2-token chunk of sequence 1, in a pool of 10 blocks of 4.
const LAYOUT = SMALL_PAGED_LAYOUT;
const SLOTS = LAYOUT.slots;
const POSITIONS = LAYOUT.positions;
const S = POSITIONS.length;
const batchOn = (backend: Backend): AttentionBatch => uploadBatch(backend, LAYOUT);
const empty = emptyTensor;

/** The same backend without its fused moeExperts, so `moeExperts` runs the composite on it. */
function withoutFusedMoeExperts(backend: Backend): Backend {
  const fused = Object.fromEntries(Object.entries(backend.fused).filter(([name]) => name !== 'moeExperts'));
  return Object.create(backend, { fused: { value: fused } }) as Backend;
}

/** A random [n, k] LinearWeight in `dtype`; f8_e4m3 gets 128x128 block scales. */
function randomLinear(backend: Backend, random: Random, dtype: DType, n: number, k: number): LinearWeight {
  return uploadLinearWeight(
    backend,
    dtype,
    [n, k],
    random.normals(n * k, dtype === 'f8_e4m3' ? 8 : 0.1),
    (count) => Array.from({ length: count }, () => 0.005 + 0.02 * random.next()),
  );
}

/**
 * Routing of `n` tokens over `e` experts, `a` slots: distinct ascending experts per token (as the
 * router writes them), except token 1 (descending), token 2 (a -1 slot) and token 3 (no expert).
 */
function randomRouting(
  random: Random,
  n: number,
  e: number,
  a: number,
): { indices: number[]; weights: number[] } {
  const indices: number[] = [];
  for (let t = 0; t < n; t++) {
    const experts = Array.from({ length: e }, (_, i) => i)
      .sort(() => random.next() - 0.5)
      .slice(0, a)
      .sort((p, q) => (t === 1 ? q - p : p - q));
    if (t === 2) experts[a - 1] = -1;
    if (t === 3) experts.fill(-1);
    indices.push(...experts);
  }
  return { indices, weights: Array.from({ length: n * a }, () => 0.1 + random.next()) };
}

for (const isa of ISAS) {
  describe(`fused kernels of the cpu backend (${isa}) match their composite fallbacks`, () => {
    const cpu = new CpuBackend(native.addon, { threads: 2, settings: { isa } });
    const reference = new ReferenceBackend();
    const workspace = new Workspace(reference);

    it('addRmsNorm: residual += x, out = rmsNorm(residual)', async () => {
      const random = new Random(1);
      const [n, d] = [5, 96];
      const residual = random.normals(n * d, 2);
      const x = random.normals(n * d);
      const weight = random.normals(d);
      const run = async (backend: Backend, fused: boolean) => {
        const r = uploadTensor(backend, 'f32', [n, d], residual);
        const xv = uploadTensor(backend, 'f32', [n, d], x);
        const w = uploadTensor(backend, 'bf16', [d], weight);
        const out = empty(backend, 'f32', [n, d]);
        if (fused) backend.fused.addRmsNorm!(out, r, xv, w, 1e-6);
        else {
          backend.kernels.binary(r, r, xv, 'add');
          backend.kernels.rmsNorm(out, r, w, 1e-6);
        }
        return [await downloadTensor(backend, out), await downloadTensor(backend, r)];
      };
      const [out, res] = await run(cpu, true);
      const [wantOut, wantRes] = await run(reference, false);
      expect(relativeError(res!, wantRes!)).toBe(0);
      expect(relativeError(out!, wantOut!)).toBeLessThanOrEqual(1e-6);
    });

    it('swiglu: out = silu(gate) · up', async () => {
      const random = new Random(2);
      const [n, i] = [7, 130];
      const gate = random.normals(n * i, 3);
      const up = random.normals(n * i);
      const run = async (backend: Backend) => {
        const g = uploadTensor(backend, 'f32', [n, i], gate);
        const u = uploadTensor(backend, 'f32', [n, i], up);
        const out = empty(backend, 'f32', [n, i]);
        swiglu(backend, out, g, u);
        return downloadTensor(backend, out);
      };
      expect(relativeError(await run(cpu), await run(reference))).toBeLessThanOrEqual(1e-6);
    });

    for (const mode of ['dense', 'sparse'] as const) {
      for (const cacheDtype of ['f32', 'bf16'] as const) {
        it(`mlaAttention ${mode} over a paged ${cacheDtype} latent cache`, async () => {
          const random = new Random(mode === 'dense' ? 3 : 4);
          const [heads, c, r] = [4, 32, 8];
          const q = random.normals(S * heads * (c + r));
          const cache = random.normals(SLOTS * (c + r));
          const indices = mode === 'sparse' ? sparseIndices(random, LAYOUT, 6) : null;
          const scale = 1 / Math.sqrt(c + r);
          const run = async (backend: Backend, fused: boolean) => {
            const qv = uploadTensor(backend, 'f32', [S, heads, c + r], q);
            const cv = uploadTensor(backend, cacheDtype, [SLOTS, c + r], cache);
            const iv = indices ? uploadTensor(backend, 'i32', [S, 6], indices) : null;
            const out = empty(backend, 'f32', [S, heads, c]);
            const batch = batchOn(backend);
            if (fused) backend.fused.mlaAttention!(out, qv, cv, batch, iv, scale);
            else mlaAttention(backend, workspace, out, qv, cv, batch, iv, scale);
            return downloadTensor(backend, out);
          };
          const error = relativeError(await run(cpu, true), await run(reference, false));
          expect(error).toBeLessThanOrEqual(1e-5);
        });
      }
    }

    it('mlaAttention: a query whose indices are all -1 gets zeros', async () => {
      const [heads, c, r] = [2, 16, 4];
      const random = new Random(5);
      const qv = uploadTensor(cpu, 'f32', [S, heads, c + r], random.normals(S * heads * (c + r)));
      const cv = uploadTensor(cpu, 'f32', [SLOTS, c + r], random.normals(SLOTS * (c + r)));
      const iv = uploadTensor(cpu, 'i32', [S, 2], new Array(2 * S).fill(-1));
      const out = uploadTensor(cpu, 'f32', [S, heads, c], new Array(S * heads * c).fill(7));
      cpu.fused.mlaAttention!(out, qv, cv, batchOn(cpu), iv, 0.1);
      expect(Array.from(await downloadTensor(cpu, out)).every((v) => v === 0)).toBe(true);
    });

    for (const keyMode of ['f32', 'fp8'] as const) {
      it(`indexerTopK over ${keyMode} keys: same positions as scores + topK`, async () => {
        const random = new Random(keyMode === 'f32' ? 6 : 7);
        const [heads, di, k] = [4, 32, 8];
        const q = random.normals(S * heads * di);
        const weights = random.normals(S * heads);
        const keys = random.normals(SLOTS * di, 50);
        const scales = Array.from({ length: SLOTS }, () => 2 ** (-8 + random.int(4)));
        const run = async (backend: Backend, fused: boolean) => {
          const cache: IndexerKeyCache =
            keyMode === 'f32'
              ? { keys: uploadTensor(backend, 'f32', [SLOTS, di], keys) }
              : {
                  keys: uploadTensor(backend, 'f8_e4m3', [SLOTS, di], keys), // encoded on upload
                  scales: uploadTensor(backend, 'f32', [SLOTS], scales),
                };
          const qv = uploadTensor(backend, 'f32', [S, heads, di], q);
          const wv = uploadTensor(backend, 'f32', [S, heads], weights);
          const out = empty(backend, 'i32', [S, k]);
          const batch = batchOn(backend);
          if (fused) backend.fused.indexerTopK!(out, qv, wv, cache, batch, k);
          else indexerTopK(backend, workspace, out, qv, wv, cache, batch, k);
          return Array.from(await downloadTensor(backend, out));
        };
        const got = await run(cpu, true);
        const want = await run(reference, false);
        expect(got).toEqual(want);
        // the decode token of sequence 1 sits at position 2: three candidates, then -1 padding
        expect(got.slice(3 * k, 4 * k)).toEqual([0, 1, 2, -1, -1, -1, -1, -1]);
      });
    }

    for (const { label, options, withBias } of MOE_ROUTE_CASES) {
      it(`moeRoute: ${label}`, async () => {
        const random = new Random(8);
        const [n, e] = [9, 64];
        const logits = random.normals(n * e, 2);
        const bias = random.normals(e, 0.1);
        const run = async (backend: Backend) => {
          const lv = uploadTensor(backend, 'f32', [n, e], logits);
          const bv = withBias ? uploadTensor(backend, 'f32', [e], bias) : null;
          const indices = empty(backend, 'i32', [n, options.topk]);
          const weights = empty(backend, 'f32', [n, options.topk]);
          moeRoute(backend, workspace, indices, weights, lv, bv, options);
          return [await downloadTensor(backend, indices), await downloadTensor(backend, weights)];
        };
        const [gotIndices, gotWeights] = await run(cpu);
        const [wantIndices, wantWeights] = await run(reference);
        expect(Array.from(gotIndices!)).toEqual(Array.from(wantIndices!));
        expect(relativeError(gotWeights!, wantWeights!)).toBeLessThanOrEqual(1e-6);
      });
    }

    for (const dtype of ['f32', 'bf16', 'f8_e4m3'] as const) {
      it(`moeExperts with ${dtype} experts: the composite bit for bit, alone or batched`, async () => {
        const random = new Random(11);
        const [e, a, d, inter] = [6, 3, 160, 40];
        const weightSeed = random.int(1 << 30);
        const experts = (backend: Backend): ExpertWeights[] => {
          const r = new Random(weightSeed);
          return Array.from({ length: e }, () => ({
            gate: randomLinear(backend, r, dtype, inter, d),
            up: randomLinear(backend, r, dtype, inter, d),
            down: randomLinear(backend, r, dtype, d, inter),
          }));
        };
        const cpuExperts = experts(cpu);
        const referenceExperts = experts(reference);
        const composite = withoutFusedMoeExperts(cpu);
        const cpuWorkspace = new Workspace(composite);
        const n = 13;
        const x = random.normals(n * d);
        const routing = randomRouting(random, n, e, a);
        const run = async (backend: Backend, ws: Workspace, list: ExpertWeights[], rows: number[]) => {
          const m = rows.length;
          const xv = uploadTensor(
            backend,
            'f32',
            [m, d],
            rows.flatMap((t) => x.slice(t * d, (t + 1) * d)),
          );
          const iv = uploadTensor(
            backend,
            'i32',
            [m, a],
            rows.flatMap((t) => routing.indices.slice(t * a, (t + 1) * a)),
          );
          const wv = uploadTensor(
            backend,
            'f32',
            [m, a],
            rows.flatMap((t) => routing.weights.slice(t * a, (t + 1) * a)),
          );
          const out = uploadTensor(backend, 'f32', [m, d], new Array(m * d).fill(Number.NaN));
          await moeExperts(backend, ws, out, xv, iv, wv, list);
          return downloadTensor(backend, out);
        };
        const all = Array.from({ length: n }, (_, t) => t);
        const fused = await run(cpu, cpuWorkspace, cpuExperts, all);
        expect(Array.from(fused)).toEqual(Array.from(await run(composite, cpuWorkspace, cpuExperts, all)));
        const want = await run(reference, workspace, referenceExperts, all);
        expect(relativeError(fused, want)).toBeLessThanOrEqual(1e-5);
        expect(Array.from(fused.subarray(3 * d, 4 * d))).toEqual(new Array(d).fill(0));
        for (const t of all) {
          const alone = await run(cpu, cpuWorkspace, cpuExperts, [t]);
          expect(Array.from(alone)).toEqual(Array.from(fused.subarray(t * d, (t + 1) * d)));
        }
      });
    }

    it('moeExperts rejects an expert index out of range', async () => {
      const random = new Random(12);
      const [e, d, inter] = [2, 32, 16];
      const list = Array.from({ length: e }, () => ({
        gate: randomLinear(cpu, random, 'bf16', inter, d),
        up: randomLinear(cpu, random, 'bf16', inter, d),
        down: randomLinear(cpu, random, 'bf16', d, inter),
      }));
      const xv = uploadTensor(cpu, 'f32', [1, d], random.normals(d));
      const iv = uploadTensor(cpu, 'i32', [1, 2], [0, 5]);
      const wv = uploadTensor(cpu, 'f32', [1, 2], [0.5, 0.5]);
      cpu.fused.moeExperts!(empty(cpu, 'f32', [1, d]), xv, iv, wv, list);
      await expect(cpu.synchronize()).rejects.toThrow(/moeExperts: .*router picked expert 5 of 2/);
    });

    it('rejects a batch whose block table does not cover a position', async () => {
      const [heads, c, r] = [2, 16, 4];
      const qv = uploadTensor(cpu, 'f32', [S, heads, c + r], new Array(S * heads * (c + r)).fill(0));
      const cv = uploadTensor(cpu, 'f32', [SLOTS, c + r], new Array(SLOTS * (c + r)).fill(0));
      const out = empty(cpu, 'f32', [S, heads, c]);
      const batch = batchOn(cpu);
      const broken = {
        ...batch,
        host: { ...batch.host, blockTable: batch.host.blockTable.map((b, i) => (i === 2 ? -1 : b)) },
      };
      cpu.fused.mlaAttention!(out, qv, cv, broken, null, 0.1);
      await expect(cpu.synchronize()).rejects.toThrow(/mlaAttention: .*no cache block for position 8/);
    });
  });
}
