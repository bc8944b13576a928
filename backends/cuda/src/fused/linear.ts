import type { LinearWeight } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { isContiguous } from '@dsa/tensor';
import { devicePointer } from '../device-pointer.js';
import { dtypeArg, NULL_POINTER, pointerArg } from './fused-args.js';
import type { FusedKernelHost } from './fused-host.js';

/** The most activation rows the GEMV kernels take (their largest TM). */
export const FAST_LINEAR_MAX_ROWS = 16;
const SUFFIX = { f32: 'f32', bf16: 'bf16', f8_e4m3: 'f8' } as const;

/**
 * Decode GEMV for `Kernels.linear` (kernels/fused/gemv.cu): out[m, n] = Σ_k x[m, k] · W[n, k]; bf16
 * and fp8 weights with K % 16 == 0 take the gemv-core.cuh kernels (bf16: the v2 loop, fp8: the v3 loop),
 * the rest v1 (one warp per output column). The competing versions (v4, tensor cores) live in dev/. It applies when: M ≤ 16 rows, K a multiple of 4, contiguous f32/bf16
 * `x` and `out`, a contiguous f32, bf16 or f8_e4m3 (+ f32 block scales) weight. Returns false, having
 * launched nothing, when it does not apply, so the caller falls back to its general GEMM.
 * `out` [M, N], `x` [M, K], `weight.weight` [N, K]. `host` needs only a launcher (a `KernelContext`
 * serves: `{ launcher: context }`).
 */
export function fastLinear(
  host: FusedKernelHost,
  out: TensorView,
  x: TensorView,
  weight: LinearWeight,
): boolean {
  const w = weight.weight;
  if (x.shape.length !== 2 || out.shape.length !== 2 || w.shape.length !== 2) return false;
  const [m, k] = x.shape as [number, number];
  const [n, kw] = w.shape as [number, number];
  if (kw !== k || out.shape[0] !== m || out.shape[1] !== n) return false;
  if (m < 1 || m > FAST_LINEAR_MAX_ROWS || n < 1 || k < 4 || k % 4 !== 0) return false;
  if (!(w.dtype in SUFFIX) || !['f32', 'bf16'].includes(x.dtype) || !['f32', 'bf16'].includes(out.dtype))
    return false;
  if (!isContiguous(x) || !isContiguous(out) || !isContiguous(w)) return false;
  const [bn, bk] = weight.blockSize ?? [128, 128];
  const fp8 = w.dtype === 'f8_e4m3';
  if (fp8) {
    const s = weight.scaleInv;
    if (s === undefined || s.dtype !== 'f32' || !isContiguous(s) || bk % 4 !== 0) return false;
    if (s.shape.length !== 2 || s.shape[0] !== Math.ceil(n / bn) || s.shape[1] !== Math.ceil(k / bk))
      return false;
  }
  if (devicePointer(w, 'weight') % 16n !== 0n) return false; // vector loads need 16-byte aligned rows
  const tm = m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : m <= 8 ? 8 : 16;
  const suffix = SUFFIX[w.dtype as keyof typeof SUFFIX];
  const v2 =
    w.dtype !== 'f32' && k % 16 === 0 && (!fp8 || bk % 16 === 0) && devicePointer(x, 'x') % 16n === 0n;
  // v2: 4 columns per warp, K split `slices` ways (a function of [N, K] only: deterministic);
  // fp8 weights take the v3 loop of gemv-core.cuh (gemv_warp_f8v3), same grid and arguments
  const slices = v2 ? gemvSlices(n, k) : 1;
  const kernel = v2 ? `dsa_fused_gemv${fp8 ? 3 : 2}_${suffix}_m${tm}` : `dsa_fused_gemv_${suffix}_m${tm}`;
  const grid = v2 ? Math.ceil(Math.ceil(n / GEMV2_COLUMNS) / (GEMV2_WARPS / slices)) : Math.ceil(n / 8);
  host.launcher.launch(
    kernel,
    [grid, 1, 1],
    [256, 1, 1],
    [
      pointerArg(kernel, 'out', out),
      dtypeArg(kernel, 'out', out, ['f32', 'bf16']),
      pointerArg(kernel, 'x', x),
      dtypeArg(kernel, 'x', x, ['f32', 'bf16']),
      pointerArg(kernel, 'weight', w),
      fp8 ? pointerArg(kernel, 'scaleInv', weight.scaleInv!) : NULL_POINTER,
      { i32: bn },
      { i32: bk },
      { i32: Math.ceil(k / bk) },
      { i32: m },
      { i32: n },
      { i32: k },
      ...(v2 ? [{ i32: slices }] : []),
    ],
  );
  return true;
}

/** Output columns per warp and warps per CTA of the v2 GEMV (kGemvCols, kGemvWarps of gemv-core.cuh). */
const GEMV2_COLUMNS = 4;
const GEMV2_WARPS = 8;
const GEMV2_STEP = 512;

/**
 * K slices of the v2 GEMV for an [N, K] weight (gemv_slices of gemv-core.cuh, kept identical): a
 * function of the weight shape only, so a row's reduction order never depends on the batch.
 */
export function gemvSlices(n: number, k: number): number {
  const steps = Math.ceil(k / GEMV2_STEP);
  const groups = Math.ceil(n / GEMV2_COLUMNS);
  let s = 1;
  while (s < GEMV2_WARPS && groups * s < 8192 && 2 * s <= steps) s *= 2;
  return s;
}
