// The opt-in bf16 precision (settings.precision 'bf16'): linear with bf16 weights rounds x to bf16
// and uses vdpbf16ps (native/gemm-avx512bf16.cc). Checked against the reference backend within a
// bf16 tolerance, against x rounded to bf16 on the host within f32 accumulation error, for batch
// independence, and end to end on the tiny fixture. Skipped where the CPU lacks AVX512_BF16.
import path from 'node:path';
import { uploadTensor } from '@dsa/backend';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel, SafetensorsFile } from '@dsa/runtime';
import { tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './cpu-backend.js';
import { loadNative } from './native.js';

const native = loadNative();
if ('error' in native) throw native.error;
const HAS_BF16 = native.addon.info().avx512bf16;
const SKIP = HAS_BF16 ? '' : ' (skipped: this CPU lacks AVX512_BF16)';

/** Deterministic values in [-1, 1). */
function values(count: number, seed: number): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s / 2 ** 31 - 1);
  }
  return out;
}

/** Rounds an f32 to bf16 (nearest even), as vcvtneps2bf16 does for finite values. */
function toBf16(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  u[0] = ((u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) >>> 16) << 16;
  return f[0]!;
}

describe('cpu backend precision setting', () => {
  it('defaults to f32 and rejects unknown values', () => {
    const cpu = new CpuBackend(native.addon, { threads: 2, settings: { precision: 'f32' } });
    expect(cpu.precision).toBe('f32');
    expect(cpu.isaName).not.toBe('AVX-512-BF16');
    expect(() => new CpuBackend(native.addon, { settings: { precision: 'f8' as 'bf16' } })).toThrow(
      /settings\.precision: "f8" is not one of f32, bf16/,
    );
  });
});

describe.skipIf(!HAS_BF16)(`linear in bf16 precision${SKIP}`, () => {
  const cpu = new CpuBackend(native.addon, { threads: 2, settings: { precision: 'bf16' } });
  const reference = new ReferenceBackend();

  async function linear(
    backend: CpuBackend | ReferenceBackend,
    x: number[],
    w: number[],
    M: number,
    K: number,
    N: number,
  ) {
    const out = tensorView(backend.allocate(M * N * 4, 'activations'), 'f32', [M, N]);
    backend.kernels.linear(out, uploadTensor(backend, 'f32', [M, K], x), {
      weight: uploadTensor(backend, 'bf16', [N, K], w, 'weights'),
    });
    const host = new Float32Array(M * N);
    await backend.download(out, host);
    return host;
  }

  it('reports the AVX-512-BF16 kernel set', () => {
    expect(cpu.precision).toBe('bf16');
    expect(cpu.isaName).toBe('AVX-512-BF16');
  });

  for (const [M, K, N] of [
    [1, 77, 37],
    [5, 256, 70],
    [33, 1000, 20],
  ] as const) {
    it(`M=${M} K=${K} N=${N}: within 1e-2 of Σ|x||w| of the reference, within f32 error of bf16(x)·w`, async () => {
      const x = values(M * K, 7 + K);
      const w = values(N * K, 11 + N).map(toBf16);
      const ours = await linear(cpu, x, w, M, K, N);
      const exact = await linear(reference, x, w, M, K, N);
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) {
          let scale = 0;
          let rounded = 0;
          for (let k = 0; k < K; k++) {
            scale += Math.abs(x[m * K + k]! * w[n * K + k]!);
            rounded += toBf16(x[m * K + k]!) * w[n * K + k]!;
          }
          const got = ours[m * N + n]!;
          expect(Math.abs(got - exact[m * N + n]!)).toBeLessThanOrEqual(1e-2 * scale);
          expect(Math.abs(got - rounded)).toBeLessThanOrEqual(1e-5 * scale);
        }
    });
  }

  it('gives every row bit-identical results alone and batched', async () => {
    const [M, K, N] = [13, 300, 45];
    const x = values(M * K, 3);
    const w = values(N * K, 5);
    const batched = await linear(cpu, x, w, M, K, N);
    for (let m = 0; m < M; m++) {
      const alone = await linear(cpu, x.slice(m * K, (m + 1) * K), w, 1, K, N);
      expect(Array.from(alone)).toEqual(Array.from(batched.subarray(m * N, (m + 1) * N)));
    }
  });
});

// Only prompts within index_topk (32 on tiny) are compared: past it, bf16 rounding of the indexer's
// projections flips near-tied top-k selections of this random-weight fixture (prompt48: 12 of 1536
// selections differ, logits off by 0.96), so its 100-token greedy decode does not reproduce the golden
// tokens in bf16 precision. The f32 default does (tests/golden.test.ts).
describe.skipIf(!HAS_BF16)(`the tiny fixture on a bf16-precision cpu backend${SKIP}`, () => {
  it('prompt of 7 tokens (no top-k selection): logits within 5e-2 of the golden', async () => {
    const dir = path.resolve(import.meta.dirname, '../../../fixtures/tiny');
    const file = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
    const backend = new CpuBackend(native.addon, { threads: 2, settings: { precision: 'bf16' } });
    expect(backend.isaName).toBe('AVX-512-BF16');
    const model = await DeepseekModel.load(backend, dir, { cacheTokens: 512 });
    const vocab = model.config.vocabSize;
    const idBytes = await file.read('prompt7.input_ids');
    const ids = new Int32Array(idBytes.buffer, idBytes.byteOffset, idBytes.byteLength / 4);
    const refBytes = await file.read('prompt7.logits');
    const expected = new Float32Array(refBytes.buffer, refBytes.byteOffset, refBytes.byteLength / 4);
    const sequence = model.cache.createSequence();
    const result = await model.forward([{ sequence, tokens: ids }], { logits: 'all' });
    model.cache.release(sequence);
    const logits = new Float32Array(ids.length * vocab);
    await backend.download(result.logits, logits);
    let worst = 0;
    for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i]! - expected[i]!));
    console.log(`bf16 precision tiny prompt7: logits max abs ${worst.toExponential(3)}`);
    expect(worst).toBeLessThanOrEqual(5e-2);
  });
});
