// rope's general path on the cpu backend: rows that are not contiguous f32 (bf16 rows, or an f32 view whose last
// dimension has a stride) are rotated as double rows, each value rounded once to x's dtype (native/rope.cc). The
// conformance kit's rope cases all take the f32 row kernels (rope-row.h), so this path is checked here, against
// the reference backend, on every kernel set the CPU supports.
import { type Backend, downloadTensor, uploadTensor } from '@dsa/backend';
import { Random } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { permute, tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import { runnableIsas } from './cpu-settings.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
const ISAS = runnableIsas(native.addon.info().isa);

/** x after rope, as bf16 rows [4, 3, 16] and as an f32 view [4, 3, 16] of a [4, 16, 3] tensor (last stride 3). */
async function rotated(backend: Backend, layout: 'interleaved' | 'half'): Promise<[number[], number[]]> {
  const random = new Random(11);
  const xb = uploadTensor(backend, 'bf16', [4, 3, 16], random.normals(192));
  const xf = uploadTensor(backend, 'f32', [4, 16, 3], random.normals(192));
  const positions = uploadTensor(backend, 'i32', [4], [0, 1, 77, 4095]);
  const freq = uploadTensor(
    backend,
    'f32',
    [8],
    Array.from({ length: 8 }, (_, i) => 10000 ** (-i / 8)),
  );
  backend.kernels.rope(xb, positions, freq, { layout, scale: 1.25 });
  backend.kernels.rope(permute(xf, [0, 2, 1]), positions, freq, { layout, scale: 1.25 });
  const xb32 = tensorView(backend.allocate(192 * 4, 'activations'), 'f32', [4, 3, 16]);
  backend.kernels.cast(xb32, xb); // bf16 to f32: exact
  return [Array.from(await downloadTensor(backend, xb32)), Array.from(await downloadTensor(backend, xf))];
}

for (const isa of ISAS) {
  describe(`rope on the cpu backend (${isa}), general rows`, () => {
    const cpu = new CpuBackend(native.addon, { threads: 2, settings: { isa } });
    const reference = new ReferenceBackend();
    for (const layout of ['interleaved', 'half'] as const) {
      it(`${layout}: bf16 rows within a bf16 step, strided f32 rows within 1e-6 of the reference`, async () => {
        const [gotB, gotF] = await rotated(cpu, layout);
        const [wantB, wantF] = await rotated(reference, layout);
        // The angles' cosines may differ from the reference's in their last double bits; a bf16 result then
        // differs by at most one step of 2^-7 relative.
        for (const [i, v] of gotB.entries())
          expect(Math.abs(v - wantB[i]!)).toBeLessThanOrEqual(2 ** -7 * Math.abs(wantB[i]!));
        for (const [i, v] of gotF.entries())
          expect(Math.abs(v - wantF[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(wantF[i]!)));
      });
    }
  });
}
