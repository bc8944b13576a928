// linear on the cpu backend vs the reference backend: y [M, N] = x [M, K] · Wᵀ with W [N, K] in its
// checkpoint dtype. Run: pnpm exec vitest bench backends/cpu/bench
import type { Backend } from '@dsa/backend';
import { uploadTensor } from '@dsa/backend';
import { Random, uploadLinearWeight } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { tensorView } from '@dsa/tensor';
import { bench, describe } from 'vitest';
import { CpuBackend } from '../src/cpu-backend.js';
import { loadNative } from '../src/native.js';

const native = loadNative();
if ('error' in native) throw native.error;

function setup(backend: Backend, dtype: 'bf16' | 'f8_e4m3' | 'f32', m: number, n: number, k: number) {
  const random = new Random(1);
  const x = uploadTensor(backend, 'f32', [m, k], random.normals(m * k));
  const w = uploadLinearWeight(
    backend,
    dtype,
    [n, k],
    random.normals(n * k, dtype === 'f8_e4m3' ? 100 : 0.05),
    (count) => new Array(count).fill(2 ** -10),
  );
  const out = tensorView(backend.allocate(m * n * 4, 'activations'), 'f32', [m, n]);
  return () => backend.kernels.linear(out, x, w);
}

const cpu = new CpuBackend(native.addon);
const portable = new CpuBackend(native.addon, { settings: { isa: 'portable' } });
const cpu1 = new CpuBackend(native.addon, { threads: 1 });

for (const dtype of ['bf16', 'f8_e4m3', 'f32'] as const) {
  describe(`linear 2048x2048 ${dtype}, M=1`, () => {
    bench(`cpu ${cpu.isaName} x${cpu.threads}`, setup(cpu, dtype, 1, 2048, 2048));
    bench(`cpu ${cpu1.isaName} x1`, setup(cpu1, dtype, 1, 2048, 2048));
    bench(`cpu portable x${portable.threads}`, setup(portable, dtype, 1, 2048, 2048));
    if (dtype === 'bf16')
      bench('reference', setup(new ReferenceBackend(), dtype, 1, 2048, 2048), { iterations: 3, time: 0 });
  });
}
describe('linear 2048x2048 bf16, M=64 (prefill)', () => {
  bench(`cpu ${cpu.isaName} x${cpu.threads}`, setup(cpu, 'bf16', 64, 2048, 2048));
  bench(`cpu portable x${portable.threads}`, setup(portable, 'bf16', 64, 2048, 2048));
});
