import { type Backend, downloadTensor, uploadTensor } from '@dsa/backend';
import { emptyTensor, Random, relativeError, uploadLinearWeight } from '@dsa/backend/testing';
import { type DType, narrow, permute } from '@dsa/tensor';
import { type CheckResult, runCheck } from './check-result.js';

/**
 * Tolerance of the prefill GEMM checks, as the conformance kit measures error
 * (max |got − want| / max(1, max |want|)). Default paths are f32-accurate (x split into three bf16
 * terms = 24 bits times bf16 / fp8 weights exact in bf16, or f32 GEMMs), so the error is that of f32
 * accumulation in another order, ~1e-6: 2e-5, as the conformance kit's linear cases. With the
 * setting `gemmFast` (DSA_CUDA_GEMM_FAST=1; one bf16 term: bf16 rounding of x and of the fp8 product, ~2⁻⁹ relative per
 * product, partly cancelling over K) the allowance is bf16-sized, 1e-2.
 */
export function gemmTolerance(gemmFast: boolean): number {
  return gemmFast ? 1e-2 : 2e-5;
}
/** Tolerance of the matmul checks (f32 or bf16 operands, exact products, f32 accumulation). */
export const MATMUL_TOLERANCE = 2e-5;

/** What a GEMM check needs from the CUDA backend: choose cuBLASLt or our dsa_gemm_mma. */
interface GemmSwitch {
  preferCublasLt: boolean;
  cublasLt(): unknown;
}

type Run = (backend: Backend) => Promise<ArrayLike<number>>;

function linearCase(m: number, dtype: 'f32' | 'bf16' | 'f8_e4m3'): { name: string; run: Run } {
  // N and K are not multiples of the 128 × 128 scale block (partial blocks) nor of the 64-wide tiles.
  const [n, k] = m >= 4096 ? [136, 352] : [200, 640];
  return {
    name: `linear ${dtype} weight, M=${m} N=${n} K=${k}`,
    run: async (b) => {
      const r = new Random(m * 7 + k);
      const x = uploadTensor(b, 'f32', [m, k], r.normals(m * k));
      const weight = uploadLinearWeight(
        b,
        dtype,
        [n, k],
        r.normals(n * k, dtype === 'f8_e4m3' ? 100 : 0.05),
        (count) => Array.from({ length: count }, (_, i) => 0.0007 * (1 + (i % 5))),
      );
      const out = emptyTensor(b, 'f32', [m, n]);
      b.kernels.linear(out, x, weight);
      return downloadTensor(b, out);
    },
  };
}

function matmulCases(): { name: string; run: Run }[] {
  const [h, s, d, c, t] = [16, 300, 128, 512, 64];
  const up = (b: Backend, dtype: DType, shape: number[], r: Random) =>
    uploadTensor(b, dtype, shape, r.normals(shape.reduce((p, q) => p * q, 1)));
  return [
    {
      // MLA absorbed q: [S, H, 128] viewed [H, S, 128] (batch stride 128) × W_UK [H, 128, 512]
      name: `matmul [H,S,128]·[H,128,512] f32 × bf16, a permuted (H=${h} S=${s})`,
      run: async (b) => {
        const r = new Random(11);
        const a = up(b, 'f32', [s, h, d], r);
        const w = up(b, 'bf16', [h, d, c], r);
        const out = emptyTensor(b, 'f32', [h, s, c]);
        b.kernels.matmul(out, permute(a, [1, 0, 2]), w);
        return downloadTensor(b, out);
      },
    },
    {
      // scores: q [H, S, 512] × latent [T, H, 512] viewed [H, T, 512], transposed, alpha
      name: `matmul [H,S,512]·[H,T,512]ᵀ f32, b permuted, alpha 0.125 (T=${t})`,
      run: async (b) => {
        const r = new Random(12);
        const q = up(b, 'f32', [h, s, c], r);
        const kv = up(b, 'f32', [t, h, c], r);
        const out = emptyTensor(b, 'f32', [h, s, t]);
        b.kernels.matmul(out, q, permute(kv, [1, 0, 2]), { transposeB: true, alpha: 0.125 });
        return downloadTensor(b, out);
      },
    },
    {
      name: 'matmul bf16 × bf16 into a permuted out [S,H,128] (W_UV style)',
      run: async (b) => {
        const r = new Random(13);
        const a = up(b, 'bf16', [h, s, c], r);
        const w = up(b, 'bf16', [h, c, d], r);
        const out = emptyTensor(b, 'f32', [s, h, d]);
        b.kernels.matmul(permute(out, [1, 0, 2]), a, w);
        return downloadTensor(b, out);
      },
    },
  ];
}

/**
 * The absorbed MLA's decode matmuls at DeepSeek's sizes (H = 128, nope 128, v 128, latent 512), M = S
 * rows: q_nope · W_UK (dsa_matmul_dec_nn) and o_latent · W_UVᵀ (dsa_matmul_dec_nt), with W = kv_b_proj
 * [H, 256, 512] in f32 (dequantized fp8) or bf16, through the same strided views as packages/mla.
 */
function decodeMatmulCase(s: number, op: 'nn' | 'nt', dtype: 'f32' | 'bf16'): { name: string; run: Run } {
  const [h, dn, dv, r, c] = [128, 128, 128, 64, 512];
  return {
    name: `matmul decode ${op === 'nn' ? 'q_nope · W_UK' : 'o · W_UVᵀ'} ${dtype} weights, S=${s} H=${h}`,
    run: async (b) => {
      const random = new Random(31 + s);
      const w = uploadTensor(b, dtype, [h, dn + dv, c], random.normals(h * (dn + dv) * c, 0.05));
      if (op === 'nn') {
        const q = uploadTensor(b, 'f32', [s, h, dn + r], random.normals(s * h * (dn + r)));
        const out = emptyTensor(b, 'f32', [s, h, c + r]);
        b.kernels.matmul(
          permute(narrow(out, 2, 0, c), [1, 0, 2]),
          permute(narrow(q, 2, 0, dn), [1, 0, 2]),
          narrow(w, 1, 0, dn),
        );
        return (await downloadTensor(b, out)).filter((_, i) => i % (c + r) < c);
      }
      const o = uploadTensor(b, 'f32', [s, h, c], random.normals(s * h * c));
      const out = emptyTensor(b, 'f32', [s, h, dv]);
      b.kernels.matmul(permute(out, [1, 0, 2]), permute(o, [1, 0, 2]), narrow(w, 1, dn, dv), {
        transposeB: true,
      });
      return downloadTensor(b, out);
    },
  };
}

/**
 * Prefill GEMM checks against `oracle` (the reference backend): linear at M = 17, 300, 4096 with f32,
 * bf16 and fp8 block-scaled weights, through cuBLASLt (when it loads) and through dsa_gemm_mma, and
 * matmul at the MLA absorbed-path shapes (strided batches). The oracle runs once per case.
 */
export async function gemmChecks(backend: Backend, oracle: Backend, filter?: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const cuda = backend as unknown as Partial<GemmSwitch> & { settings?: { gemmFast?: boolean } };
  const tolerance = gemmTolerance(cuda.settings?.gemmFast === true);
  const paths: boolean[] = typeof cuda.cublasLt === 'function' && cuda.cublasLt() ? [true, false] : [false];
  const cases: { name: string; run: Run; tolerance: number; paths: boolean[] }[] = [];
  for (const m of [17, 300, 4096])
    for (const dtype of ['f32', 'bf16', 'f8_e4m3'] as const)
      cases.push({ ...linearCase(m, dtype), tolerance, paths });
  for (const c of matmulCases()) cases.push({ ...c, tolerance: MATMUL_TOLERANCE, paths: paths.slice(0, 1) });
  for (const s of [1, 3, 16])
    for (const op of ['nn', 'nt'] as const)
      for (const dtype of ['f32', 'bf16'] as const)
        cases.push({ ...decodeMatmulCase(s, op, dtype), tolerance: MATMUL_TOLERANCE, paths: [false] });
  for (const c of cases) {
    if (filter && !`gemm: ${c.name}`.includes(filter)) continue;
    let want: ArrayLike<number> | null = null;
    for (const lt of c.paths) {
      const mma = c.name.startsWith('linear bf16') || c.name.startsWith('linear f8');
      const label = `gemm: ${c.name} (${lt ? 'cuBLASLt' : mma ? 'dsa_gemm_mma' : 'fallback kernel'})`;
      results.push(
        await runCheck(label, c.tolerance, async () => {
          want ??= await c.run(oracle);
          if (typeof cuda.cublasLt === 'function') cuda.preferCublasLt = lt;
          try {
            return { error: relativeError(await c.run(backend), want) };
          } finally {
            if (typeof cuda.cublasLt === 'function') cuda.preferCublasLt = true;
          }
        }),
      );
    }
  }
  // Batch invariance of the decode kernels: row 0 of an S = 5 step equals the same row computed alone.
  for (const op of ['nn', 'nt'] as const) {
    const name = `gemm: matmul decode ${op}: a row alone and in a batch of 5 give identical bits`;
    if (filter && !name.includes(filter)) continue;
    results.push(
      await runCheck(name, 0, async () => {
        const [h, k, n] = [128, op === 'nn' ? 128 : 512, op === 'nn' ? 512 : 128];
        const random = new Random(41);
        const w = uploadTensor(
          backend,
          'f32',
          [h, op === 'nn' ? k : n, op === 'nn' ? n : k],
          random.normals(h * k * n),
        );
        const rows = random.normals(5 * h * k);
        const run = async (count: number) => {
          const a = uploadTensor(backend, 'f32', [count, h, k], rows.slice(0, count * h * k));
          const out = emptyTensor(backend, 'f32', [count, h, n]);
          backend.kernels.matmul(permute(out, [1, 0, 2]), permute(a, [1, 0, 2]), w, {
            transposeB: op === 'nt',
          });
          return (await downloadTensor(backend, out)).slice(0, h * n);
        };
        const alone = await run(1);
        const batched = await run(5);
        let differ = 0;
        for (let i = 0; i < alone.length; i++) if (!Object.is(alone[i], batched[i])) differ++;
        return differ
          ? { error: differ, detail: `${differ} of ${alone.length} values differ` }
          : { error: 0 };
      }),
    );
  }
  return results;
}
