// The fused moeRoute (aclnnMoeGatingTopK) and moeExperts (aclnnMoeInitRoutingV2 + aclnnGroupedMatmulV4)
// of the ascend backend on the CANN emulator, against the composite fallbacks of @dsa/moe run on the
// reference backend, with random inputs. Expert weights are bf16, or fp8 with power-of-two block
// scales (their bf16 dequantization is then exact), so 'exact' precision must match the f32 composite.
import {
  type Backend,
  downloadTensor,
  type ExpertWeights,
  type LinearWeight,
  type MoeRouteOptions,
  uploadTensor,
  Workspace,
} from '@dsa/backend';
import { emptyTensor, MOE_ROUTE_CASES, Random, relativeError } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { moeExperts, moeRoute } from '@dsa/moe';
import { describe, expect, it } from 'vitest';
import { buildEmulator } from '../emulator/build-emulator.js';
import ascendBackendFactory from './index.js';

// On an NPU host, DSA_ASCEND_HARDWARE=1 keeps the normal CANN lookup instead of the emulator.
if (process.env.DSA_ASCEND_HARDWARE !== '1') process.env.DSA_ASCEND_LIB_DIR = buildEmulator();

const empty = emptyTensor;

/** Each row's (index, weight) pairs sorted by index: the fused router lists the best expert first. */
function byExpert(indices: ArrayLike<number>, weights: ArrayLike<number>, k: number) {
  const ids: number[] = [];
  const ws: number[] = [];
  for (let row = 0; row < indices.length / k; row++) {
    const pairs = Array.from({ length: k }, (_, j) => [indices[row * k + j]!, weights[row * k + j]!]);
    pairs.sort((p, q) => p[0]! - q[0]!);
    for (const [i, w] of pairs) {
      ids.push(i!);
      ws.push(w!);
    }
  }
  return { ids, ws };
}

const ascend = await ascendBackendFactory.create({
  settings: { log: () => {}, precision: 'exact', fusedOperators: ['moeRoute', 'moeExperts'] },
});
const ascendBf16 = await ascendBackendFactory.create({
  settings: { log: () => {}, precision: 'bf16', fusedOperators: ['moeExperts'] },
});
const reference = new ReferenceBackend();
const workspace = new Workspace(reference);

describe('fused MoE kernels of the ascend backend (CANN emulator) match the @dsa/moe composites', () => {
  it('lists moeRoute and moeExperts only when asked', async () => {
    expect([...ascend.capabilities.fused].sort()).toEqual(['moeExperts', 'moeRoute']);
    expect([...ascendBf16.capabilities.fused]).toEqual(['moeExperts']);
  });

  const ROUTES: [string, MoeRouteOptions, boolean][] = [
    ...MOE_ROUTE_CASES.map((c): [string, MoeRouteOptions, boolean] => [c.label, c.options, c.withBias]),
    [
      'softmax with bias, normalized, scale 1.5',
      { nGroup: 4, topkGroup: 3, topk: 5, routedScalingFactor: 1.5, normalize: true, scoring: 'softmax' },
      true,
    ],
  ];
  for (const [label, options, withBias] of ROUTES) {
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
        return byExpert(
          await downloadTensor(backend, indices),
          await downloadTensor(backend, weights),
          options.topk,
        );
      };
      const got = await run(ascend);
      const want = await run(reference);
      expect(got.ids).toEqual(want.ids);
      expect(relativeError(got.ws, want.ws)).toBeLessThanOrEqual(1e-6);
    });
  }

  it('moeRoute composes primitive kernels where aclnnMoeGatingTopK cannot (2 experts per group)', async () => {
    const options: MoeRouteOptions = {
      nGroup: 4,
      topkGroup: 2,
      topk: 3,
      routedScalingFactor: 2,
      normalize: true,
      scoring: 'sigmoid',
    };
    const random = new Random(9);
    const logits = random.normals(5 * 8, 2);
    const bias = random.normals(8, 0.1);
    const run = async (backend: Backend) => {
      const lv = uploadTensor(backend, 'f32', [5, 8], logits);
      const bv = uploadTensor(backend, 'f32', [8], bias);
      const indices = empty(backend, 'i32', [5, 3]);
      const weights = empty(backend, 'f32', [5, 3]);
      moeRoute(backend, workspace, indices, weights, lv, bv, options);
      return byExpert(await downloadTensor(backend, indices), await downloadTensor(backend, weights), 3);
    };
    const got = await run(ascend);
    const want = await run(reference);
    expect(got.ids).toEqual(want.ids);
    expect(relativeError(got.ws, want.ws)).toBeLessThanOrEqual(1e-6);
  });

  /** Random expert weights: bf16, or fp8 values with power-of-two block scales (blocks of 16). */
  function upload(backend: Backend, dtype: 'bf16' | 'f8_e4m3', values: number[], shape: [number, number]) {
    const weight = uploadTensor(backend, dtype, shape, values, 'weights');
    if (dtype === 'bf16') return { weight } satisfies LinearWeight;
    const scales = Array.from(
      { length: Math.ceil(shape[0] / 16) * Math.ceil(shape[1] / 16) },
      (_, i) => 2 ** ((i % 5) - 2),
    );
    const scaleInv = uploadTensor(
      backend,
      'f32',
      [Math.ceil(shape[0] / 16), Math.ceil(shape[1] / 16)],
      scales,
      'weights',
    );
    return { weight, scaleInv, blockSize: [16, 16] as const } satisfies LinearWeight;
  }
  const CASES = [
    { label: 'bf16 experts', dtype: 'bf16', n: 7, h: 48, inner: 24, count: 6, used: 6, a: 3 },
    {
      label: 'fp8 experts, one never routed to',
      dtype: 'f8_e4m3',
      n: 7,
      h: 48,
      inner: 24,
      count: 6,
      used: 5,
      a: 3,
    },
    {
      label: '130 bf16 experts (bf16 weight lists split at 128)',
      dtype: 'bf16',
      n: 200,
      h: 16,
      inner: 8,
      count: 130,
      used: 130,
      a: 4,
    },
  ] as const;
  for (const { label, dtype, n, h, inner, count, used, a } of CASES) {
    it(`moeExperts with ${label}: ${n} tokens, ${a} experts each`, async () => {
      const random = new Random(count + used);
      const x = random.normals(n * h);
      const values = Array.from({ length: count }, () => ({
        gate: random.normals(inner * h, 0.2),
        up: random.normals(inner * h, 0.2),
        down: random.normals(h * inner, 0.2),
      }));
      const indices: number[] = [];
      for (let row = 0; row < n; row++) {
        const order = Array.from({ length: used }, (_, i) => i).sort(() => random.next() - 0.5);
        indices.push(...order.slice(0, a));
      }
      const weights = random.normals(n * a, 0.5);
      expect(new Set(indices).size).toBe(used); // every expert but the idle ones gets tokens
      const run = async (backend: Backend, fused: boolean) => {
        const experts: ExpertWeights[] = values.map((v) => ({
          gate: upload(backend, dtype, v.gate, [inner, h]),
          up: upload(backend, dtype, v.up, [inner, h]),
          down: upload(backend, dtype, v.down, [h, inner]),
        }));
        const xv = uploadTensor(backend, 'f32', [n, h], x);
        const iv = uploadTensor(backend, 'i32', [n, a], indices);
        const wv = uploadTensor(backend, 'f32', [n, a], weights);
        const out = empty(backend, 'f32', [n, h]);
        if (fused) backend.fused.moeExperts!(out, xv, iv, wv, experts);
        else await moeExperts(backend, workspace, out, xv, iv, wv, experts);
        return downloadTensor(backend, out);
      };
      const want = await run(reference, false);
      // exact precision: f32 activations, each run's weights upcast into one f32 slab
      expect(relativeError(await run(ascend, true), want)).toBeLessThanOrEqual(1e-5);
      // bf16 precision: activations rounded to bf16 at each grouped matmul; a looser, stated bound
      expect(relativeError(await run(ascendBf16, true), want)).toBeLessThanOrEqual(3e-2);
    });
  }
});
