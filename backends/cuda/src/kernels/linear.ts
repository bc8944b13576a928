import { KernelArgumentError, type Kernels, type LinearWeight } from '@dsa/backend';
import { dtypeBytes, formatShape } from '@dsa/tensor';
import { devicePointer } from '../device-pointer.js';
import { tensorArgs } from '../tensor-args.js';
import { GEMM_MIN_ROWS, gemmEnabled, ltLinear, mmaLinear } from './gemm.js';
import {
  expectDenseLast,
  expectDType,
  expectRank,
  expectShape,
  type KernelContext,
} from './kernel-context.js';

/** Rows of x per block row and output columns (warps) per block of the dsa_linear_* kernels. */
export const LINEAR_TILE_M = 8;
/** Warps per block of the dsa_linear_* kernels (kLinearWarps). */
export const LINEAR_WARPS = 8;
const CHUNK_ELEMENTS: Record<string, number> = { bf16: 8, f16: 8, f32: 4, f8_e4m3: 16 };

/**
 * linear: out [M, N] = x [M, K] · W[N, K]ᵀ with W bf16 / f16 / f32, or f8_e4m3 times its block scale
 * `scaleInv`. M ≤ 16 (decode): one warp per output column, 16-byte weight loads, fp8 dequantized in
 * registers, rows of x in tiles of {@link LINEAR_TILE_M}; every out[m, n] is the same arithmetic for
 * any M ≤ 16 (batch invariant). M > 16 (prefill): cuBLASLt when present, else dsa_gemm_mma (see
 * ./gemm.ts); the setting `gemm: false` keeps the decode kernel for every M.
 */
export function linearKernels(context: KernelContext): Pick<Kernels, 'linear'> {
  return {
    linear(out, x, weight: LinearWeight) {
      const k = 'linear';
      const w = weight.weight;
      expectRank(k, 'x', x, 2);
      expectRank(k, 'weight', w, 2);
      expectDenseLast(k, 'x', x);
      expectDenseLast(k, 'weight', w);
      expectDType(k, 'weight', w, 'bf16', 'f16', 'f32', 'f8_e4m3');
      const [m, kDim] = x.shape as [number, number];
      const [n, wk] = w.shape as [number, number];
      if (wk !== kDim) {
        throw new KernelArgumentError(
          k,
          `x ${formatShape(x.shape)} and weight ${formatShape(w.shape)} differ in K`,
        );
      }
      expectShape(k, 'out', out, [m, n]);
      const fp8 = w.dtype === 'f8_e4m3';
      const [blockN, blockK] = weight.blockSize ?? [128, 128];
      if (fp8) {
        if (!weight.scaleInv)
          throw new KernelArgumentError(k, 'an f8_e4m3 weight needs its scaleInv (weight_scale_inv)');
        expectDType(k, 'scaleInv', weight.scaleInv, 'f32');
        expectShape(k, 'scaleInv', weight.scaleInv, [Math.ceil(n / blockN), Math.ceil(kDim / blockK)]);
      } else if (weight.scaleInv) {
        throw new KernelArgumentError(k, `scaleInv is only for f8_e4m3 weights, this one is ${w.dtype}`);
      }
      if (m === 0 || n === 0) return;
      if (context.fastLinear?.(out, x, weight)) return;
      if (m >= GEMM_MIN_ROWS && gemmEnabled(context)) {
        const lt = context.cublasLt?.();
        if (lt && ltLinear(context, lt, out, x, weight)) return;
        if (mmaLinear(context, out, x, weight)) return;
      }
      const elements = CHUNK_ELEMENTS[w.dtype]!;
      const rowBytes = w.strides[0]! * dtypeBytes(w.dtype);
      const vectorized =
        kDim % elements === 0 &&
        devicePointer(w, 'weight') % 16n === 0n &&
        (n === 1 || rowBytes % 16 === 0) &&
        (!fp8 || blockK % elements === 0);
      const rowTiles = Math.ceil(m / LINEAR_TILE_M);
      if (rowTiles > 65535)
        throw new KernelArgumentError(k, `M = ${m} exceeds ${65535 * LINEAR_TILE_M} rows`);
      context.launch(
        `dsa_linear_${w.dtype}`,
        [Math.ceil(n / LINEAR_WARPS), rowTiles, 1],
        [32 * LINEAR_WARPS, 1, 1],
        [
          ...tensorArgs(k, 'out', out),
          ...tensorArgs(k, 'x', x),
          ...tensorArgs(k, 'weight', w),
          ...tensorArgs(k, 'scaleInv', fp8 ? weight.scaleInv : null),
          { i32: blockN },
          { i32: blockK },
          { i32: vectorized ? 1 : 0 },
        ],
      );
    },
  };
}
