// The fused moeRoute (aclnnMoeGatingTopK) and moeExperts (aclnnMoeInitRoutingV2 + aclnnGroupedMatmulV4)
// of the ascend backend on the CANN emulator: the kit's fused suite (each kernel against its composite
// definition on the reference backend), and what only this backend has (16-wide fp8 blocks, an expert
// list split at 128). Expert weights are bf16, or fp8 with power-of-two block scales (their bf16
// dequantization is then exact), so 'exact' precision must match the f32 composite.
import {
  type Backend,
  compositeMoeExperts,
  downloadTensor,
  type ExpertWeights,
  type LinearWeight,
  uploadTensor,
  Workspace,
} from '@dsa/backend';
import { emptyTensor, fusedCases, Random, relativeError } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { buildEmulator } from '../emulator/build-emulator.js';
import ascendBackendFactory from './index.js';

// On an NPU host, DSA_ASCEND_HARDWARE=1 keeps the normal CANN lookup instead of the emulator.
if (process.env.DSA_ASCEND_HARDWARE !== '1') process.env.DSA_ASCEND_LIB_DIR = buildEmulator();

/** Kit cases the operators do not meet: aclnnMoeInitRoutingV2 asserts every expert id is in range, -1 included. */
const SKIPPED = /a -1 slot is skipped|rejects an expert index/;

const ascend = await ascendBackendFactory.create({
  settings: { log: () => {}, precision: 'exact', fusedOperators: ['moeRoute', 'moeExperts'] },
});
const ascendBf16 = await ascendBackendFactory.create({
  settings: { log: () => {}, precision: 'bf16', fusedOperators: ['moeExperts'] },
});
const reference = new ReferenceBackend();

describe('fused MoE kernels of the ascend backend (CANN emulator) match their composite definitions', () => {
  it('lists moeRoute and moeExperts only when asked', async () => {
    expect([...ascend.capabilities.fused].sort()).toEqual(['moeExperts', 'moeRoute']);
    expect([...ascendBf16.capabilities.fused]).toEqual(['moeExperts']);
  });

  // The kit's fused suite, for the kernels each instance offers (the router lists the best expert first).
  for (const [label, backend, options] of [
    ['exact', ascend, { anyRouteOrder: true }],
    // bf16 precision: activations rounded to bf16 at each grouped matmul; a looser, stated bound
    ['bf16', ascendBf16, { anyRouteOrder: true, tolerances: { moeExperts: 3e-2 } }],
  ] as const) {
    for (const testCase of fusedCases(options)) {
      if (!backend.capabilities.fused.has(testCase.kernel) || SKIPPED.test(testCase.name)) continue;
      it(`${label}: ${testCase.name}`, async () => {
        const { error, detail } = await testCase.check(backend, reference);
        expect(error, detail).toBeLessThanOrEqual(testCase.tolerance);
      });
    }
  }

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
        const out = emptyTensor(backend, 'f32', [n, h]);
        if (fused) backend.fused.moeExperts!(out, xv, iv, wv, experts);
        else await compositeMoeExperts(backend, new Workspace(backend), out, xv, iv, wv, experts);
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
