// quantizeFp8's AVX-512 walk (native/fp8-quantize-avx512.cc) and scalar walk (native/fp8.cc, the other kernel
// sets, and AVX-512 rows holding an Infinity or a NaN) against the reference backend's
// (backends/reference/src/fp8-quant.ts), bit for bit: e4m3 codes and scales, both scale formats, over values
// that reach every e4m3 binade, the subnormal range, rounding ties, ±0, ±448 and beyond, ±Infinity and NaN,
// with ragged rows and blocks.
import { downloadTensor, uploadTensor } from '@dsa/backend';
import { emptyTensor, Random } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import { runnableIsas } from './cpu-settings.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
const ISAS = runnableIsas(native.addon.info().isa);

/** Row values: scaled normals over 2^-12 .. 2^10, exact e4m3 ties (midpoints times the block scale), specials. */
function rowValues(random: Random, d: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < d; i++) {
    const kind = i % 11;
    if (kind === 0) out.push(random.normals(1)[0]! * 2 ** (Math.floor(random.next() * 22) - 12));
    else if (kind === 1)
      out.push(((2 * Math.floor(random.next() * 16) + 1) / 16) * 2 ** -7); // ties near 2^-6
    else if (kind === 2)
      out.push((17 / 16) * 2 ** Math.floor(random.next() * 10 - 3)); // a tie of 3 mantissa bits
    else if (kind === 3) out.push(-0);
    else out.push(random.normals(1)[0]!);
  }
  return out;
}

describe.each(ISAS)('quantizeFp8 (%s) equals the reference bit for bit', (isa) => {
  const cpu = new CpuBackend(native.addon, { threads: 2, settings: { isa } });
  const reference = new ReferenceBackend();

  async function run(
    backend: CpuBackend | ReferenceBackend,
    x: number[],
    rows: number,
    d: number,
    block: number,
    format: 'ue8m0' | 'f32',
  ) {
    const blocks = Math.ceil(d / block);
    const q = emptyTensor(backend, 'f8_e4m3', [rows, d]);
    const scale = emptyTensor(backend, 'f32', [rows, blocks]);
    backend.kernels.quantizeFp8(q, scale, uploadTensor(backend, 'f32', [rows, d], x), {
      blockSize: block,
      scaleFormat: format,
    });
    const codes = new Uint8Array(rows * d);
    await backend.download(q, codes);
    return { codes: Array.from(codes), scales: Array.from(await downloadTensor(backend, scale)) };
  }

  for (const [rows, d, block] of [
    [7, 128, 128],
    [5, 200, 64],
    [3, 37, 16],
    [33, 576, 128],
  ] as const)
    for (const format of ['ue8m0', 'f32'] as const) {
      it(`${rows} rows of ${d}, blocks of ${block}, ${format} scales`, async () => {
        const random = new Random(rows * 1000 + d + block);
        const x = rowValues(random, rows * d);
        // Specials in row 0: ±Infinity, NaN, ±448 · scale and beyond (the clamp), a block of tiny values (amax 1e-4).
        x.splice(0, 6, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 1e30, -1e30, 448);
        for (let i = 0; i < Math.min(block, d); i++) x[d * (rows - 1) + i] = 3e-7 * (i % 5) - 5e-7;
        const ours = await run(cpu, x, rows, d, block, format);
        const want = await run(reference, x, rows, d, block, format);
        expect(ours.scales).toEqual(want.scales);
        expect(ours.codes).toEqual(want.codes);
      });
    }
});
