// The opt-in bf16 precision (settings.precision 'bf16'): linear and moeExperts with bf16, f8_e4m3 (128x128
// block scales) or i8 (GGUF Q8_0: 1x32 block scales) weights round x to bf16 and use vdpbf16ps
// (native/gemm-avx512bf16.cc; AMX tiles where the CPU has them: gemm-amx-bf16.cc); mlaAttention rounds q, the
// latent rows and the softmax weights to bf16 (native/attention-avx512bf16.cc; attention-amx-bf16.cc). Checked against the reference backend within a bf16 tolerance, against
// a float64 sum over x rounded to bf16 on the host within f32 accumulation error, for batch
// independence, and end to end on the tiny and tiny-fp8 fixtures. Skipped where the CPU lacks AVX512_BF16.
import path from 'node:path';
import {
  type AttentionBatch,
  compositeMoeExperts,
  downloadTensor,
  type ExpertWeights,
  fp8LatentCache,
  fp8LatentRowBytes,
  type LatentCache,
  type LinearWeight,
  scatterLatentRows,
  uploadTensor,
  Workspace,
} from '@dsa/backend';
import {
  emptyTensor,
  fusedCases,
  longPagedLayout,
  type PagedLayout,
  Random,
  sparseIndices,
  uploadBatch,
} from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel, SafetensorsFile } from '@dsa/runtime';
import { floatToFp8E4m3, fp8E4m3ToFloat, tensorView } from '@dsa/tensor';
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

  /**
   * Σ|x||w| and the float64 sum over bf16(x) of output (m, n) of x [M, K] · wᵀ (w [N, K], bf16 values):
   * the scale of f32 accumulation error and the value it bounds.
   */
  function bf16Dot(x: number[], w: number[], K: number, m: number, n: number) {
    let scale = 0;
    let rounded = 0;
    for (let k = 0; k < K; k++) {
      scale += Math.abs(x[m * K + k]! * w[n * K + k]!);
      rounded += toBf16(x[m * K + k]!) * w[n * K + k]!;
    }
    return { scale, rounded };
  }

  it('reports the AVX-512-BF16 kernel set', () => {
    expect(cpu.precision).toBe('bf16');
    expect(cpu.isaName).toBe('AVX-512-BF16');
  });

  it('measures its peak on its matrix instruction (TDPBF16PS on AMX, else vdpbf16ps), not the f32 FMA', () => {
    const f32 = new CpuBackend(native.addon, { threads: 2, settings: { precision: 'f32' } });
    // Best of 3 each: other test files share the cores, and a peak is a best case.
    const best = (backend: CpuBackend) => Math.max(...[0, 1, 2].map(() => backend.fmaPeak()));
    const ratio = best(cpu) / best(f32);
    const amx = native.addon.info().amxBf16;
    console.log(`${amx ? 'TDPBF16PS' : 'vdpbf16ps'} / f32 FMA peak: ${ratio.toFixed(2)}`);
    if (amx) {
      // 15.6 on the 2-core Xeon VM of session 16 (7450 against 479 GFLOP/s): 16 × 16 × 32 products per tile op.
      expect(ratio).toBeGreaterThan(4);
      return;
    }
    // vdpbf16ps: 2.0 where it issues at the FMA's rate (Zen 4); 0.5 on that Xeon without its tiles
    // (DSA_CPU_AMX=0: 240 against 480 GFLOP/s, a quarter of its two 512-bit FMAs' rate). The bf16 precision
    // measuring the f32 FMA instead would read 1.0.
    expect(ratio).toBeGreaterThan(0.4);
    expect(ratio).toBeLessThan(3);
    expect(Math.abs(ratio - 1)).toBeGreaterThan(0.2);
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
          const { scale, rounded } = bf16Dot(x, w, K, m, n);
          const got = ours[m * N + n]!;
          expect(Math.abs(got - exact[m * N + n]!)).toBeLessThanOrEqual(1e-2 * scale);
          expect(Math.abs(got - rounded)).toBeLessThanOrEqual(1e-5 * scale);
        }
    });
  }

  // AMX tiles (K a multiple of 32, where the CPU has AMX-BF16): each output one f32 accumulator over the K
  // chunks in order. TDPBF16PS's rounding inside a chunk is not the documented pair-by-pair sequence (about
  // half the outputs of a 256-wide test differ from it in the last bit, from every simple order), so the
  // check is f32 accumulation error against float64, and the same bits alone and batched. Rows of x: one
  // group of 16, a pair of groups and three groups (a pass of two and a single); N: a 16-row tail, one of
  // 1 row, a full last block.
  describe.skipIf(!native.addon.info().amxBf16)('on AMX tiles', () => {
    for (const [M, K, N] of [
      [1, 96, 37],
      [17, 256, 70],
      [40, 1024, 33],
      [3, 2048, 64],
    ] as const) {
      it(`M=${M} K=${K} N=${N}: within f32 error of a float64 bf16(x)·W, the same bits alone and batched`, async () => {
        const x = values(M * K, 13 + K);
        const w = values(N * K, 17 + N).map(toBf16);
        const ours = await linear(cpu, x, w, M, K, N);
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            const { scale, rounded } = bf16Dot(x, w, K, m, n);
            expect(Math.abs(ours[m * N + n]! - rounded), `row ${m}, output ${n}`).toBeLessThanOrEqual(
              1e-5 * scale,
            );
          }
        for (const m of [0, M - 1]) {
          const alone = await linear(cpu, x.slice(m * K, (m + 1) * K), w, 1, K, N);
          expect(Array.from(alone)).toEqual(Array.from(ours.subarray(m * N, (m + 1) * N)));
        }
      });
    }
    it('reports AMX-BF16 in the device description', () => {
      expect(cpu.device.description).toContain('AVX-512-BF16 + AMX-BF16');
    });
  });

  // Batched: 4 x 4 tiles (16 sums reduced at once), up to 8 rows against 2 weight rows, and single-row tiles; alone
  // (M = 1, K <= 512): 16 weight rows at a time, then single rows; K = 96 is the experts' down projection, K = 1024
  // takes neither short path; x beyond L1 takes column blocks (40 x 1024) or, within L2 where K would take the
  // chunked tiles (24 x 1600, 8 x 2816), keeps each weight tile against every row tile.
  for (const [M, K, N] of [
    [13, 300, 45],
    [8, 96, 70],
    [6, 1024, 21],
    [40, 1024, 37],
    [24, 1600, 19],
    [8, 2816, 23],
  ] as const) {
    it(`M=${M} K=${K} N=${N}: gives every row bit-identical results alone and batched`, async () => {
      const x = values(M * K, 3);
      const w = values(N * K, 5);
      const batched = await linear(cpu, x, w, M, K, N);
      for (let m = 0; m < M; m++) {
        const alone = await linear(cpu, x.slice(m * K, (m + 1) * K), w, 1, K, N);
        expect(Array.from(alone)).toEqual(Array.from(batched.subarray(m * N, (m + 1) * N)));
      }
    });
  }
});

/**
 * A block-scaled weight [N, K]: f8_e4m3 values (subnormals included) with [128, 128] blocks of
 * power-of-two scales, or i8 values in [-127, 127] with [1, 32] blocks of f32 scales (GGUF Q8_0, as
 * the importer reads it); `dense` holds W[n, k] = value · scale for the host reference.
 */
function blockScaled(kind: 'fp8' | 'q8_0', N: number, K: number, seed: number) {
  const [bn, bk] = kind === 'fp8' ? [128, 128] : [1, 32];
  const rows = Math.ceil(N / bn);
  const cols = Math.ceil(K / bk);
  const raw = values(N * K, seed).map((v, i) =>
    kind === 'fp8' ? fp8E4m3ToFloat(floatToFp8E4m3(v * 448 * 2 ** -(i % 13))) : Math.round(v * 127),
  );
  const scales = values(rows * cols, seed + 1).map((v) =>
    kind === 'fp8' ? 2 ** Math.round(v * 6 - 8) : Math.fround(1e-3 + Math.abs(v) * 2e-3),
  );
  const dense = raw.map((v, i) => {
    const n = Math.floor(i / K);
    const k = i % K;
    return v * scales[Math.floor(n / bn) * cols + Math.floor(k / bk)]!;
  });
  const upload = (backend: CpuBackend | ReferenceBackend): LinearWeight => ({
    weight: uploadTensor(backend, kind === 'fp8' ? 'f8_e4m3' : 'i8', [N, K], raw, 'weights'),
    scaleInv: uploadTensor(backend, 'f32', [rows, cols], scales, 'weights'),
    blockSize: [bn, bk] as const,
  });
  return { dense, upload };
}

/** Σ_k bf16(x[m, k]) · w[n, k] in float64, and Σ |…| (the scale of its rounding error). */
function roundedDot(x: number[], w: number[], K: number, m: number, n: number) {
  let sum = 0;
  let scale = 0;
  for (let k = 0; k < K; k++) {
    const p = toBf16(x[m * K + k]!) * w[n * K + k]!;
    sum += p;
    scale += Math.abs(p);
  }
  return { sum, scale };
}

for (const kind of ['fp8', 'q8_0'] as const) {
  describe.skipIf(!HAS_BF16)(`linear with ${kind} weights in bf16 precision${SKIP}`, () => {
    const cpu = new CpuBackend(native.addon, { threads: 2, settings: { precision: 'bf16' } });
    const reference = new ReferenceBackend();

    async function linear(
      backend: CpuBackend | ReferenceBackend,
      x: number[],
      weight: LinearWeight,
      M: number,
    ) {
      const [N, K] = weight.weight.shape as [number, number];
      const out = tensorView(backend.allocate(M * N * 4, 'activations'), 'f32', [M, N]);
      backend.kernels.linear(out, uploadTensor(backend, 'f32', [M, K], x), weight);
      const host = new Float32Array(M * N);
      await backend.download(out, host);
      return host;
    }

    // Ragged M (from 8 rows on: fewer take the streamed GEMV, tested below), N and K: K not a multiple of the block, N
    // across a 128-row fp8 block, several groups of 16 blocks (K 2100: 17 fp8 blocks; K 1000: 32 Q8_0
    // blocks in 2 groups).
    for (const [M, K, N] of [
      [8, 77, 37],
      [9, 300, 131],
      [33, 2100, 20],
      [12, 1000, 45],
    ] as const) {
      it(`M=${M} K=${K} N=${N}: within f32 error of a float64 bf16(x)·W, within 1e-2 of the reference`, async () => {
        const x = values(M * K, 17 + K);
        const { dense, upload } = blockScaled(kind, N, K, 29 + N);
        const ours = await linear(cpu, x, upload(cpu), M);
        const exact = await linear(reference, x, upload(reference), M);
        let worst = 0;
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            const { sum, scale } = roundedDot(x, dense, K, m, n);
            const got = ours[m * N + n]!;
            worst = Math.max(worst, Math.abs(got - sum) / scale);
            expect(Math.abs(got - sum)).toBeLessThanOrEqual(1e-6 * scale);
            expect(Math.abs(got - exact[m * N + n]!)).toBeLessThanOrEqual(1e-2 * scale);
          }
        console.log(`${kind} M=${M} K=${K} N=${N}: worst |ours - f64| / Σ|x·w| ${worst.toExponential(2)}`);
      });
    }

    it('gives every row the same bits in any batch of 8 rows or more', async () => {
      const [M, K, N] = [13, 700, 45];
      const x = values(M * K, 3);
      const weight = blockScaled(kind, N, K, 5).upload(cpu);
      const batched = await linear(cpu, x, weight, M);
      for (const first of [0, 5]) {
        const part = await linear(cpu, x.slice(first * K, (first + 8) * K), weight, 8);
        expect(Array.from(part)).toEqual(Array.from(batched.subarray(first * N, (first + 8) * N)));
      }
    });

    // Below 8 rows: the streamed GEMV (gemm-stream8-avx512bf16.cc). K 40 (one partial 64-chunk; Q8_0: a
    // partial second block), 300 (fp8: a partial chunk in the last of 3 blocks; Q8_0: 10 blocks, the last
    // partial), 1100 (fp8: 9 blocks, two runs of 4 in flight, then one), 8192 (x of one row past 16 KB of
    // f32 but within it as bf16); M 1 (4-row tiles over the column quarters, single rows past them), 2 and 7.
    for (const [M, K, N] of [
      [1, 40, 9],
      [1, 300, 131],
      [2, 1100, 37],
      [7, 1100, 21],
      [1, 8192, 6],
    ] as const) {
      it(`decode M=${M} K=${K} N=${N}: x rounded to bf16, within f32 error of a float64 bf16(x)·W`, async () => {
        const x = values(M * K, 23 + K);
        const { dense, upload } = blockScaled(kind, N, K, 31 + N);
        const ours = await linear(cpu, x, upload(cpu), M);
        const f32 = new CpuBackend(native.addon, { threads: 2, settings: { precision: 'f32' } });
        const unrounded = await linear(f32, x, upload(f32), M);
        let differs = 0;
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            const { sum, scale } = roundedDot(x, dense, K, m, n);
            expect(Math.abs(ours[m * N + n]! - sum)).toBeLessThanOrEqual(1e-6 * scale);
            if (ours[m * N + n] !== unrounded[m * N + n]) differs++;
          }
        // Not the f32 kernel's result (x unrounded there): most outputs differ.
        expect(differs).toBeGreaterThan((M * N) / 2);
      });
    }

    it('gives every row the same bits in any batch of 1 to 7 rows', async () => {
      const [M, K, N] = [7, 1100, 45];
      const x = values(M * K, 4);
      const weight = blockScaled(kind, N, K, 6).upload(cpu);
      const batched = await linear(cpu, x, weight, M);
      for (const [first, rows] of [
        [0, 1],
        [3, 1],
        [6, 1],
        [1, 2],
        [2, 5],
      ] as const) {
        const part = await linear(cpu, x.slice(first * K, (first + rows) * K), weight, rows);
        expect(Array.from(part)).toEqual(Array.from(batched.subarray(first * N, (first + rows) * N)));
      }
    });

    if (kind === 'q8_0')
      it('decode: widens -128 exactly (vpabsb leaves its magnitude at 0x80)', async () => {
        const [M, K, N] = [1, 96, 3];
        const x = values(M * K, 51);
        const raw = Array.from({ length: N * K }, (_, i) => [-128, 127, -127, 0, 1, -1, 64, -64][i % 8]!);
        const scales = Array.from({ length: N * (K / 32) }, (_, i) => 1e-3 * (i + 1));
        const weight: LinearWeight = {
          weight: uploadTensor(cpu, 'i8', [N, K], raw, 'weights'),
          scaleInv: uploadTensor(cpu, 'f32', [N, K / 32], scales, 'weights'),
          blockSize: [1, 32] as const,
        };
        const dense = raw.map((v, i) => v * scales[Math.floor(i / K) * (K / 32) + Math.floor((i % K) / 32)]!);
        const ours = await linear(cpu, x, weight, M);
        for (let n = 0; n < N; n++) {
          const { sum, scale } = roundedDot(x, dense, K, 0, n);
          expect(Math.abs(ours[n]! - sum)).toBeLessThanOrEqual(1e-6 * scale);
        }
      });
  });

  // 19 tokens, 3 of 5 experts each (11 or 12 rows per expert: the bf16 path), H 300, I 96 (K of down not a
  // multiple of 128); 61 tokens (36-37 rows per expert: prefill-sized, gate and up split into column tiles).
  describe.skipIf(!HAS_BF16).each([19, 61])(
    `moeExperts with ${kind} weights in bf16 precision, %i tokens${SKIP}`,
    (T) => {
      const [A, E, H, I] = [3, 5, 300, 96];
      const cpu = new CpuBackend(native.addon, { threads: 2, settings: { precision: 'bf16' } });
      const x = values(T * H, 41);
      const indices = Array.from({ length: T * A }, (_, i) => (Math.floor(i / A) + (i % A) * 2) % E);
      const routing = values(T * A, 43).map((v) => 0.25 + Math.abs(v));
      const experts = Array.from({ length: E }, (_, e) => ({
        gate: blockScaled(kind, I, H, 100 + e),
        up: blockScaled(kind, I, H, 200 + e),
        down: blockScaled(kind, H, I, 300 + e),
      }));

      async function run(fused: boolean) {
        const weights: ExpertWeights[] = experts.map((ex) => ({
          gate: ex.gate.upload(cpu),
          up: ex.up.upload(cpu),
          down: ex.down.upload(cpu),
        }));
        const out = tensorView(cpu.allocate(T * H * 4, 'activations'), 'f32', [T, H]);
        const args = [
          out,
          uploadTensor(cpu, 'f32', [T, H], x),
          uploadTensor(cpu, 'i32', [T, A], indices),
          uploadTensor(cpu, 'f32', [T, A], routing),
          weights,
        ] as const;
        if (fused) cpu.fused.moeExperts!(...args);
        else await compositeMoeExperts(cpu, new Workspace(cpu), ...args);
        const host = new Float32Array(T * H);
        await cpu.download(out, host);
        return host;
      }

      it('is bit-identical to its composite (linear in bf16 precision) and within 4e-3 of a float64 reference', async () => {
        const fused = await run(true);
        expect(Array.from(fused)).toEqual(Array.from(await run(false)));
        // float64 reference: gate and up over bf16(x); h = silu(gate) · up rounded to bf16 for down. The
        // kernel rounds its f32 h, so an h within f32 error of a bf16 tie may round the other way: one
        // bf16 step (2^-8 relative) of that term at most, hence 4e-3 of Σ |terms|.
        let worst = 0;
        for (let t = 0; t < T; t++) {
          const want = new Float64Array(H);
          const scale = new Float64Array(H);
          for (let s = 0; s < A; s++) {
            const ex = experts[indices[t * A + s]!]!;
            const r = routing[t * A + s]!;
            const h: number[] = [];
            for (let i = 0; i < I; i++) {
              const g = roundedDot(x, ex.gate.dense, H, t, i).sum;
              const u = roundedDot(x, ex.up.dense, H, t, i).sum;
              h.push(toBf16((g / (1 + Math.exp(-g))) * u));
            }
            for (let c = 0; c < H; c++) {
              const { sum, scale: terms } = roundedDot(h, ex.down.dense, I, 0, c);
              want[c]! += r * sum;
              scale[c]! += Math.abs(r) * terms;
            }
          }
          for (let c = 0; c < H; c++) {
            const error = Math.abs(fused[t * H + c]! - want[c]!);
            worst = Math.max(worst, error / scale[c]!);
            expect(error).toBeLessThanOrEqual(4e-3 * scale[c]!);
          }
        }
        console.log(`moeExperts ${kind}: worst |ours - f64| / Σ|terms| ${worst.toExponential(2)}`);
      });
    },
  );
}

// matmul in the bf16 precision: the dot form (W_UV, b [B, N, K] transposed) as linear, a rounded to bf16 and
// vdpbf16ps (AMX tiles where the CPU has them); the axpy form (W_UK absorption, b [B, K, N]) on AMX only, b as
// tiles, one f32 chain per output over the K chunks (elsewhere f32 arithmetic). K = 40 leaves a partial chunk
// of 32. The f32 path would miss the bound below by about 2^-9 relative (it does not round a), so this checks
// the bf16 path ran, within f32 accumulation error of the float64 sum over bf16(a), and the same bits alone and
// batched.
const AMX = native.addon.info().amxBf16;
describe.skipIf(!HAS_BF16)(`matmul in bf16 precision${SKIP}`, () => {
  const cpu = new CpuBackend(native.addon, { threads: 2, settings: { precision: 'bf16' } });

  async function matmul(
    a: number[],
    b: number[],
    batch: number,
    M: number,
    K: number,
    N: number,
    t: boolean,
  ) {
    const out = tensorView(cpu.allocate(batch * M * N * 4, 'activations'), 'f32', [batch, M, N]);
    const bShape = t ? [batch, N, K] : [batch, K, N];
    cpu.kernels.matmul(
      out,
      uploadTensor(cpu, 'f32', [batch, M, K], a),
      uploadTensor(cpu, 'bf16', bShape, b),
      {
        transposeB: t,
        alpha: 0.5,
      },
    );
    const host = new Float32Array(batch * M * N);
    await cpu.download(out, host);
    return host;
  }

  for (const [batch, M, K, N, t] of [
    [2, 17, 128, 64, true],
    [16, 8, 128, 64, true],
    [2, 9, 40, 13, true],
    [3, 1, 64, 128, false],
    [2, 33, 40, 13, false],
    [1, 16, 96, 130, false],
  ] as const) {
    it.skipIf(!t && !AMX)(
      `${t ? 'dot' : 'axpy (AMX)'} form, B=${batch} M=${M} K=${K} N=${N}: within f32 error of 0.5 · bf16(a)·b, rows alone as batched`,
      async () => {
        const a = values(batch * M * K, 29 + K);
        const b = values(batch * K * N, 31 + N).map(toBf16);
        const ours = await matmul(a, b, batch, M, K, N, t);
        const at = (p: number, k: number, n: number) => b[p * K * N + (t ? n * K + k : k * N + n)]!;
        for (let p = 0; p < batch; p++)
          for (let m = 0; m < M; m++)
            for (let n = 0; n < N; n++) {
              let scale = 0;
              let rounded = 0;
              for (let k = 0; k < K; k++) {
                const x = a[(p * M + m) * K + k]!;
                scale += Math.abs(x * at(p, k, n));
                rounded += toBf16(x) * at(p, k, n);
              }
              const got = ours[(p * M + m) * N + n]!;
              expect(Math.abs(got - 0.5 * rounded), `item ${p}, row ${m}, column ${n}`).toBeLessThanOrEqual(
                1e-5 * scale,
              );
            }
        for (const m of [0, M - 1]) {
          const rows = Array.from({ length: batch }, (_, p) =>
            a.slice((p * M + m) * K, (p * M + m + 1) * K),
          ).flat();
          const alone = await matmul(rows, b, batch, 1, K, N, t);
          for (let p = 0; p < batch; p++)
            expect(Array.from(alone.subarray(p * N, (p + 1) * N))).toEqual(
              Array.from(ours.subarray((p * M + m) * N, (p * M + m + 1) * N)),
            );
        }
      },
    );
  }
});

describe.skipIf(!HAS_BF16)(`mlaAttention in bf16 precision${SKIP}`, () => {
  const cpu = new CpuBackend(native.addon, { threads: 2, settings: { precision: 'bf16' } });
  const reference = new ReferenceBackend();

  // The kit's cases (f32, bf16 and fp8 caches; dense and sparse; one and two fp8 scale blocks; the V3.2
  // decode shape over 5000 tokens) against the f32 composite on the reference backend: q, the rows and
  // the softmax weights rounded to bf16 leave about 2^-8 of relative error.
  for (const testCase of fusedCases({ long: true }).filter((c) => c.kernel === 'mlaAttention')) {
    if (testCase.name.includes('rejects') || testCase.name.includes('all -1')) {
      it(testCase.name, async () => {
        const { error, detail } = await testCase.check(cpu, reference);
        expect(error, detail).toBeLessThanOrEqual(testCase.tolerance);
      });
      continue;
    }
    it(`${testCase.name}: within 1e-2 of the f32 composite`, async () => {
      const { error, detail } = await testCase.check(cpu, reference);
      console.log(`bf16 mlaAttention, ${testCase.name}: relative error ${error.toExponential(2)}`);
      expect(error, detail).toBeLessThanOrEqual(1e-2);
      // Not the f32 kernel's result: the bf16 path ran.
      expect(error).toBeGreaterThan(1e-6);
    });
  }

  // Two long sequences (5000 and 3001 positions): batched, each query runs on one thread; alone, a query
  // splits its row blocks and value columns over both threads. The bits must not change. 16 heads take the
  // AMX tiles where the CPU has them (4 heads never do).
  for (const [cacheKind, heads] of [
    ['f32', 4],
    ['fp8', 4],
    ['f32', 16],
  ] as const) {
    it(`gives a query the same bits alone and in a batch (${cacheKind} cache, ${heads} heads, dense and sparse)`, async () => {
      const random = new Random(31);
      const layout = longPagedLayout(random);
      const [c, r] = [128, 16];
      const s = layout.positions.length;
      const q = random.normals(s * heads * (c + r));
      const rows = random.normals(layout.slots * (c + r));
      let cache: LatentCache;
      if (cacheKind === 'f32') {
        cache = uploadTensor(cpu, 'f32', [layout.slots, c + r], rows);
      } else {
        cache = fp8LatentCache(
          cpu.allocate(layout.slots * fp8LatentRowBytes(c, r), 'kv-cache'),
          layout.slots,
          c,
          r,
        );
        const all = uploadTensor(
          cpu,
          'i32',
          [layout.slots],
          Array.from({ length: layout.slots }, (_, i) => i),
        );
        scatterLatentRows(
          cpu,
          new Workspace(cpu),
          cache,
          uploadTensor(cpu, 'f32', [layout.slots, c + r], rows),
          all,
        );
      }
      const k = 700;
      const indices = sparseIndices(random, layout, k);
      const run = async (part: PagedLayout, first: number, count: number, sparse: boolean) => {
        const out = emptyTensor(cpu, 'f32', [count, heads, c]);
        const width = heads * (c + r);
        const batch: AttentionBatch = uploadBatch(cpu, part);
        cpu.fused.mlaAttention!(
          out,
          uploadTensor(cpu, 'f32', [count, heads, c + r], q.slice(first * width, (first + count) * width)),
          cache,
          batch,
          sparse ? uploadTensor(cpu, 'i32', [count, k], indices.slice(first * k, (first + count) * k)) : null,
          1 / Math.sqrt(c + r),
        );
        return downloadTensor(cpu, out);
      };
      for (const sparse of [false, true]) {
        const batched = await run(layout, 0, s, sparse);
        for (let i = 0; i < s; i++) {
          const alone = await run(
            { ...layout, sequenceIds: [layout.sequenceIds[i]!], positions: [layout.positions[i]!] },
            i,
            1,
            sparse,
          );
          const size = heads * c;
          expect(Array.from(alone)).toEqual(Array.from(batched.subarray(i * size, (i + 1) * size)));
        }
      }
    });
  }
});

// Only positions within index_topk (32 on tiny) are compared: past it, bf16 rounding of the indexer's
// projections flips near-tied top-k selections of this random-weight fixture (prompt48: 12 of 1536
// selections differ, logits off by 0.96), so its 100-token greedy decode does not reproduce the golden
// tokens in bf16 precision. The f32 default does (tests/golden.test.ts). tiny runs prompt7; tiny-fp8 the
// first 32 tokens of prompt48 (a causal prefix: its logits are the golden's first 32 rows), so that its
// f8_e4m3 linears get the 8 rows or more of the bf16 path. (tiny on those 32 tokens is off by 1.37: a
// near-tied choice of this random fixture flips under bf16 rounding, as past index_topk above.)
describe.skipIf(!HAS_BF16)(`the tiny fixtures on a bf16-precision cpu backend${SKIP}`, () => {
  // tiny: bf16 weights; tiny-fp8: f8_e4m3 weights with 128x128 block scales.
  for (const [fixture, prompt, tokens] of [
    ['tiny', 'prompt7', 7],
    ['tiny-fp8', 'prompt48', 32],
  ] as const) {
    it(`${fixture}, first ${tokens} tokens of ${prompt} (no top-k selection): logits within 5e-2 of the golden`, async () => {
      const dir = path.resolve(import.meta.dirname, '../../../fixtures', fixture);
      const file = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
      const backend = new CpuBackend(native.addon, { threads: 2, settings: { precision: 'bf16' } });
      expect(backend.isaName).toBe('AVX-512-BF16');
      const model = await DeepseekModel.load(backend, dir, { cacheTokens: 512 });
      const vocab = model.config.vocabSize;
      const idBytes = await file.read(`${prompt}.input_ids`);
      const ids = new Int32Array(idBytes.buffer, idBytes.byteOffset, idBytes.byteLength / 4).subarray(
        0,
        tokens,
      );
      const refBytes = await file.read(`${prompt}.logits`);
      const expected = new Float32Array(refBytes.buffer, refBytes.byteOffset, refBytes.byteLength / 4);
      const sequence = model.cache.createSequence();
      const result = await model.forward([{ sequence, tokens: ids }], { logits: 'all' });
      model.cache.release(sequence);
      const logits = new Float32Array(ids.length * vocab);
      await backend.download(result.logits, logits);
      let worst = 0;
      for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i]! - expected[i]!));
      console.log(
        `bf16 precision ${fixture} ${prompt}[:${tokens}]: logits max abs ${worst.toExponential(3)}`,
      );
      expect(worst).toBeLessThanOrEqual(5e-2);
    });
  }
});
