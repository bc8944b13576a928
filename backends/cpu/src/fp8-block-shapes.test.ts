// f8_e4m3 linear weights whose scale blocks are not multiples of 64 along K (48, 16): the AVX-512 table kernel
// needs 64-blocks, so these take the per-block-sum tile (gemm-tiles.h dot_tile_blocks, with the · 256 of the
// e4m3 widening folded into each scale). Checked against the reference backend on every kernel set.
import { uploadTensor } from '@dsa/backend';
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

describe.each(ISAS)('fp8 linear with odd scale blocks (%s)', (isa) => {
  const cpu = new CpuBackend(native.addon, { threads: 2, settings: { isa } });
  const reference = new ReferenceBackend();
  for (const [bn, bk] of [
    [128, 48],
    [1, 16],
  ] as const)
    for (const M of [1, 3, 9])
      it(`blocks [${bn}, ${bk}], M = ${M}: within 1e-6 of the reference`, async () => {
        const [N, K] = [37, 300];
        const r = new Random(bk * 10 + M);
        const raw = r.normals(N * K, 100).map((v) => fp8E4m3ToFloat(floatToFp8E4m3(v)));
        const scales = r
          .normals(Math.ceil(N / bn) * Math.ceil(K / bk), 0.01)
          .map((v) => Math.abs(v) + 2 ** -8);
        const x = r.normals(M * K);
        const run = async (backend: CpuBackend | ReferenceBackend) => {
          const out = tensorView(backend.allocate(M * N * 4, 'activations'), 'f32', [M, N]);
          backend.kernels.linear(out, uploadTensor(backend, 'f32', [M, K], x), {
            weight: uploadTensor(backend, 'f8_e4m3', [N, K], raw),
            scaleInv: uploadTensor(backend, 'f32', [Math.ceil(N / bn), Math.ceil(K / bk)], scales),
            blockSize: [bn, bk],
          });
          const host = new Float32Array(M * N);
          await backend.download(out, host);
          return host;
        };
        const ours = await run(cpu);
        const want = await run(reference);
        let scale = 1;
        for (const v of want) scale = Math.max(scale, Math.abs(v));
        for (let i = 0; i < want.length; i++)
          expect(Math.abs(ours[i]! - want[i]!)).toBeLessThanOrEqual(1e-6 * scale);
      });
});
