import type { LinearWeight } from '@dsa/backend';
import { dtypeBytes, narrow, type TensorView } from '@dsa/tensor';
import {
  CUBLASLT_ALIGNMENT,
  CUBLASLT_WORKSPACE_BYTES,
  CUDA_R,
  type CublasLt,
  type LtMatrix,
} from '../cublas-lt.js';
import { CUDA_DEFAULT_SETTINGS } from '../cuda-settings.js';
import { devicePointer } from '../device-pointer.js';
import { tensorArgs } from '../tensor-args.js';
import { gridFor, type KernelContext } from './kernel-context.js';

/** linear uses the prefill GEMM (cuBLASLt or dsa_gemm_mma) above this many rows; the decode kernel at or below. */
export const GEMM_MIN_ROWS = 17;
/** Whether `linear`/`matmul` with M ≥ {@link GEMM_MIN_ROWS} run the prefill GEMM (setting `gemm`). */
export function gemmEnabled(context: KernelContext): boolean {
  return (context.settings ?? CUDA_DEFAULT_SETTINGS).gemm;
}

const aligned = (v: bigint | number) => BigInt(v) % BigInt(CUBLASLT_ALIGNMENT) === 0n;

/**
 * out [M, N] = x [M, K] · W[N, K]ᵀ with cuBLASLt (CUBLAS_COMPUTE_32F, no TF32), as accurate as the
 * f32 reference: f32 W: one f32 GEMM. bf16 W: x split into three bf16 terms (x = hi + mid + lo, 24
 * significant bits), three bf16 tensor-core GEMMs accumulated into the f32 out (beta 1). f8_e4m3 W:
 * dequantized with its block scale to f32 over chunks of N rows, f32 GEMM. Setting `gemmFast`: one
 * bf16 GEMM (x and the dequantized fp8 W rounded to bf16). M and N are chunked so staging of each
 * operand stays under the setting `gemmStagingBytes`. Returns false (the caller falls back) when the operands do not suit.
 */
export function ltLinear(
  context: KernelContext,
  lt: CublasLt,
  out: TensorView,
  x: TensorView,
  weight: LinearWeight,
): boolean {
  const w = weight.weight;
  const [m, k] = x.shape as [number, number];
  const n = w.shape[0]!;
  if (out.dtype !== 'f32' || (n > 1 && out.strides[1] !== 1)) return false;
  if (w.dtype !== 'f32' && w.dtype !== 'bf16' && w.dtype !== 'f8_e4m3') return false;
  const outLd = m > 1 ? out.strides[0]! : n;
  const xLd = m > 1 ? x.strides[0]! : k;
  const wLd = n > 1 ? w.strides[0]! : k;
  if (outLd < n || xLd < k || wLd < k || !aligned(k * 2)) return false;
  const outPtr = devicePointer(out, 'out');
  if (!aligned(outPtr) || !aligned(outLd * 4)) return false;
  const settings = context.settings ?? CUDA_DEFAULT_SETTINGS;
  const fast = settings.gemmFast;
  const wPtr = devicePointer(w, 'weight');
  const wSize = dtypeBytes(w.dtype);
  if (w.dtype !== 'f8_e4m3' && (!aligned(wPtr) || !aligned(wLd * wSize))) return false;
  const stream = context.stream!();
  const workspace = context.scratch('cublaslt-workspace', CUBLASLT_WORKSPACE_BYTES);
  const [blockN, blockK] = weight.blockSize ?? [128, 128];
  const gemm = (
    type: number,
    a: bigint,
    aLd: number,
    rowsN: number,
    b: bigint,
    bLd: number,
    rowsM: number,
    d: bigint,
    beta: number,
  ) =>
    lt.matmul(
      {
        a: { type, rows: k, cols: rowsN, ld: aLd },
        b: { type, rows: k, cols: rowsM, ld: bLd },
        d: { type: CUDA_R.f32, rows: rowsN, cols: rowsM, ld: outLd },
        transA: true,
        transB: false,
        aPtr: a,
        bPtr: b,
        dPtr: d,
        alpha: 1,
        beta,
      },
      workspace,
      stream,
    );
  // Operands in f32 (f32 W; fp8 W unless fast) or in bf16 terms (bf16 W; fp8 W when fast).
  const f32 = w.dtype === 'f32' || (w.dtype === 'f8_e4m3' && !fast);
  const terms = f32 ? 0 : fast ? 1 : 3;
  const xBytes = f32 ? 4 : 2 * terms;
  const staging = settings.gemmStagingBytes;
  const chunkM = Math.max(1, Math.min(m, Math.floor(staging / (k * xBytes))));
  let wChunk = n;
  let wStage = 0n;
  if (w.dtype === 'f8_e4m3') {
    const bytes = f32 ? 4 : 2;
    wChunk = Math.min(n, Math.max(blockN, Math.floor(staging / (k * bytes) / blockN) * blockN));
    wStage = context.scratch('gemm-w-stage', wChunk * k * bytes);
  }
  const xTerms = Array.from({ length: terms }, (_, t) => context.scratch(`gemm-x-term${t}`, chunkM * k * 2));
  const xDirect = x.dtype === 'f32' && aligned(devicePointer(x, 'x')) && aligned(xLd * 4);
  const xF32 = f32 && !xDirect ? context.scratch('gemm-x-f32', chunkM * k * 4) : 0n;
  for (let m0 = 0; m0 < m; m0 += chunkM) {
    const rows = Math.min(chunkM, m - m0);
    const xs = narrow(x, 0, m0, rows);
    let xPtr = 0n;
    let ld = k;
    if (f32) {
      if (xDirect) {
        xPtr = devicePointer(xs, 'x');
        ld = xLd;
      } else {
        xPtr = xF32;
        context.launch(
          'dsa_to_dense_f32',
          gridFor(context, rows * k),
          [256, 1, 1],
          [...tensorArgs('linear', 'x', xs), { i64: xPtr }],
        );
      }
    } else {
      context.launch(
        'dsa_split_bf16',
        gridFor(context, rows * k),
        [256, 1, 1],
        [
          ...tensorArgs('linear', 'x', xs),
          { i64: xTerms[0]! },
          { i64: xTerms[1] ?? 0n },
          { i64: xTerms[2] ?? 0n },
        ],
      );
    }
    const dRow = outPtr + BigInt(m0 * outLd * 4);
    for (let n0 = 0; n0 < n; n0 += wChunk) {
      const cols = Math.min(wChunk, n - n0);
      const d = dRow + BigInt(n0 * 4);
      let a = wPtr;
      let aLd = wLd;
      if (w.dtype === 'f8_e4m3') {
        context.launch(
          'dsa_dequant_fp8_rows',
          gridFor(context, cols * k),
          [256, 1, 1],
          [
            ...tensorArgs('linear', 'weight', w),
            ...tensorArgs('linear', 'scaleInv', weight.scaleInv!),
            { i32: blockN },
            { i32: blockK },
            { i64: BigInt(n0) },
            { i64: BigInt(cols) },
            { i64: wStage },
            { i32: f32 ? 1 : 0 },
          ],
        );
        a = wStage;
        aLd = k;
      }
      if (f32) {
        gemm(CUDA_R.f32, a, aLd, cols, xPtr, ld, rows, d, 0);
        continue;
      }
      // smallest term first, each GEMM accumulating into out (beta 1 after the first)
      for (let t = terms - 1; t >= 0; t--)
        gemm(CUDA_R.bf16, a, aLd, cols, xTerms[t]!, k, rows, d, t === terms - 1 ? 0 : 1);
    }
  }
  return true;
}

/**
 * out [M, N] = x · Wᵀ with our tensor-core kernel dsa_gemm_mma (bf16 mma.sync, x split in 3 bf16 terms, fp8
 * block scale applied per K block in f32). Returns false for weights it does not take (f32, f16, fp8
 * with a scale block not a multiple of 32 in K).
 */
export function mmaLinear(
  context: KernelContext,
  out: TensorView,
  x: TensorView,
  weight: LinearWeight,
): boolean {
  const w = weight.weight;
  const [blockN, blockK] = weight.blockSize ?? [128, 128];
  if (w.dtype !== 'bf16' && !(w.dtype === 'f8_e4m3' && blockK % 32 === 0)) return false;
  const m = x.shape[0]!;
  const n = w.shape[0]!;
  context.launch(
    'dsa_gemm_mma',
    [Math.ceil(n / 64), Math.ceil(m / 64), 1],
    [128, 1, 1],
    [
      ...tensorArgs('linear', 'out', out),
      ...tensorArgs('linear', 'x', x),
      ...tensorArgs('linear', 'weight', w),
      ...tensorArgs('linear', 'scaleInv', w.dtype === 'f8_e4m3' ? weight.scaleInv : null),
      { i32: blockN },
      { i32: blockK },
    ],
  );
  return true;
}

/** A rank-3 operand of matmul as a cuBLASLt column-major matrix of `rows` × `cols` (row-major [cols, rows] view). */
function ltOperand(view: TensorView, batch: number, elementBytes: number, type: number): LtMatrix | null {
  const [, r, c] = view.shape as [number, number, number];
  if (c > 1 && view.strides[2] !== 1) return null;
  const ld = r > 1 ? view.strides[1]! : c;
  const batchStride = batch > 1 ? view.strides[0]! : 0;
  if (ld < c || batchStride < 0 || !aligned(ld * elementBytes) || !aligned(batchStride * elementBytes))
    return null;
  return { type, rows: c, cols: r, ld, batch, batchStride };
}

const LT_TYPE: Record<string, number> = { f32: CUDA_R.f32, bf16: CUDA_R.bf16, f16: CUDA_R.f16 };

/**
 * Batched matmul out[b] = alpha · a[b] · op(b[b]) as one strided-batched cuBLASLt GEMM (f32 out,
 * CUBLAS_COMPUTE_32F). Mixed a/b dtypes: the non-f32 operand is converted to dense f32 first (exact).
 * Returns false when the views do not suit (non-unit last stride, overlapping rows, misalignment).
 */
export function ltMatmul(
  context: KernelContext,
  lt: CublasLt,
  out: TensorView,
  a: TensorView,
  b: TensorView,
  transposeB: boolean,
  alpha: number,
): boolean {
  if (out.dtype !== 'f32') return false;
  const batch = out.shape[0]!;
  // A mixed pair converts its non-f32 operand to a dense f32 copy (exact), then runs in f32.
  const operand = (view: TensorView, name: string, mixed: boolean): { m: LtMatrix | null; ptr: bigint } => {
    if (!mixed || view.dtype === 'f32')
      return {
        m: ltOperand(view, batch, dtypeBytes(view.dtype), LT_TYPE[mixed ? 'f32' : view.dtype]!),
        ptr: devicePointer(view, name),
      };
    const [d0, d1, d2] = view.shape as [number, number, number];
    const ptr = context.scratch(`matmul-${name}-f32`, d0 * d1 * d2 * 4);
    context.launch(
      'dsa_to_dense_f32',
      gridFor(context, d0 * d1 * d2),
      [256, 1, 1],
      [...tensorArgs('matmul', name, view), { i64: ptr }],
    );
    const m: LtMatrix = {
      type: CUDA_R.f32,
      rows: d2,
      cols: d1,
      ld: d2,
      batch,
      batchStride: batch > 1 ? d1 * d2 : 0,
    };
    return { m: aligned(d2 * 4) && aligned(d1 * d2 * 4) ? m : null, ptr };
  };
  const d = ltOperand(out, batch, 4, CUDA_R.f32);
  if (!d || (batch > 1 && d.batchStride === 0)) return false;
  // cheap shape checks before any conversion is enqueued
  if (!ltOperand({ ...a, dtype: 'f32' } as TensorView, batch, 2, CUDA_R.f32)) return false;
  if (!ltOperand({ ...b, dtype: 'f32' } as TensorView, batch, 2, CUDA_R.f32)) return false;
  const mixed = a.dtype !== b.dtype;
  const { m: bm, ptr: aPtr } = operand(a, 'a', mixed); // aᵀ: K × M
  const { m: am, ptr: bPtr } = operand(b, 'b', mixed); // bᵀ: N × K, or (transposeB) K × N
  if (!am || !bm) return false;
  const outPtr = devicePointer(out, 'out');
  if (!aligned(aPtr) || !aligned(bPtr) || !aligned(outPtr)) return false;
  lt.matmul(
    {
      a: am,
      b: bm,
      d,
      transA: transposeB,
      transB: false,
      aPtr: bPtr,
      bPtr: aPtr,
      dPtr: outPtr,
      alpha,
      beta: 0,
    },
    context.scratch('cublaslt-workspace', CUBLASLT_WORKSPACE_BYTES),
    context.stream!(),
  );
  return true;
}
