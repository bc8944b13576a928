import { KernelArgumentError, type Kernels } from '@dsa/backend';
import { formatShape, type TensorView } from '@dsa/tensor';
import { devicePointer } from '../device-pointer.js';
import type { LaunchArg } from '../launch.js';
import { tensorArgs } from '../tensor-args.js';
import { GEMM_MIN_ROWS, gemmEnabled, ltMatmul } from './gemm.js';
import {
  ELEMENTWISE_THREADS,
  expectDType,
  expectRank,
  gridFor,
  type KernelContext,
} from './kernel-context.js';

/** Rows up to which the decode kernels (dsa_matmul_dec_*) run; their row tiles (TM). */
const ROWS_MAX = 16;
const ROW_TILES = [1, 2, 4, 8, 16] as const;
/** Columns per CTA of dsa_matmul_dec_nn (4 per thread) and dsa_matmul_dec_nt (one per warp). */
const NN_COLUMNS = 128;
const NT_COLUMNS = 8;
/** gridDim.y limit (the batch index). */
const MAX_GRID_Y = 65535;

/**
 * The decode kernel's launch when it applies: M ≤ 16, f32 `a` and `out`, f32 or bf16 `b`, unit inner
 * strides (b's last dimension: K of bᵀ [B, N, K], N of b [B, K, N]), and every row and batch start
 * 16-byte aligned (f32) or 8-byte aligned (bf16 weights) so weights load 4 at a time; null otherwise.
 * The conditions never depend on M, so every M ≤ 16 takes the same path and a row's result is the
 * same alone or batched.
 */
function decodeLaunch(
  out: TensorView,
  a: TensorView,
  b: TensorView,
  transpose: boolean,
  alpha: number,
): { kernel: string; grid: [number, number, number]; args: LaunchArg[] } | null {
  const [batch, m, k] = a.shape as [number, number, number];
  const n = out.shape[2]!;
  if (m > ROWS_MAX || batch > MAX_GRID_Y) return null;
  if (a.dtype !== 'f32' || out.dtype !== 'f32' || (b.dtype !== 'f32' && b.dtype !== 'bf16')) return null;
  if (a.strides[2] !== 1 || out.strides[2] !== 1 || b.strides[2] !== 1) return null;
  if ((transpose ? k : n) % 4 !== 0) return null;
  const aligned = (view: TensorView, strides: number[], bytes: number) =>
    devicePointer(view) % BigInt(4 * bytes) === 0n && strides.every((stride) => stride % 4 === 0);
  if (!aligned(b, [b.strides[0]!, b.strides[1]!], b.dtype === 'f32' ? 4 : 2)) return null;
  if (!aligned(a, [a.strides[0]!, a.strides[1]!], 4)) return null;
  const tile = ROW_TILES.find((t) => t >= m)!;
  return {
    kernel: `dsa_matmul_dec_${transpose ? 'nt' : 'nn'}_${b.dtype}_m${tile}`,
    grid: [Math.ceil(n / (transpose ? NT_COLUMNS : NN_COLUMNS)), batch, 1],
    args: [
      { ptr: devicePointer(out) },
      { i64: BigInt(out.strides[0]!) },
      { i64: BigInt(out.strides[1]!) },
      { ptr: devicePointer(a) },
      { i64: BigInt(a.strides[0]!) },
      { i64: BigInt(a.strides[1]!) },
      { ptr: devicePointer(b) },
      { i64: BigInt(b.strides[0]!) },
      { i64: BigInt(b.strides[1]!) },
      { i32: m },
      { i32: n },
      { i32: k },
      { f32: alpha },
    ],
  };
}

/**
 * Batched matmul over rank-3 strided views: a strided-batched cuBLASLt GEMM for M > 16 when the views
 * suit it (./gemm.ts); for M ≤ 16 the decode kernels when the views suit them ({@link decodeLaunch});
 * else one thread per output element (k in order; also the same for every M).
 */
export function matmulKernels(context: KernelContext): Pick<Kernels, 'matmul'> {
  return {
    matmul(out, a, b, options = {}) {
      const k = 'matmul';
      expectRank(k, 'a', a, 3);
      expectRank(k, 'b', b, 3);
      expectRank(k, 'out', out, 3);
      expectDType(k, 'a', a, 'f32', 'bf16', 'f16');
      expectDType(k, 'b', b, 'f32', 'bf16', 'f16');
      const [batch, m, kDim] = a.shape as [number, number, number];
      const transpose = options.transposeB === true;
      const bK = transpose ? b.shape[2] : b.shape[1];
      const n = transpose ? b.shape[1]! : b.shape[2]!;
      if (
        b.shape[0] !== batch ||
        bK !== kDim ||
        out.shape[0] !== batch ||
        out.shape[1] !== m ||
        out.shape[2] !== n
      ) {
        throw new KernelArgumentError(
          k,
          `shapes do not chain: a ${formatShape(a.shape)}, b ${formatShape(b.shape)}${transpose ? ' (transposed)' : ''}, out ${formatShape(out.shape)}`,
        );
      }
      const total = batch * m * n;
      if (total === 0) return;
      if (m >= GEMM_MIN_ROWS && gemmEnabled(context)) {
        const lt = context.cublasLt?.();
        if (lt && ltMatmul(context, lt, out, a, b, transpose, options.alpha ?? 1)) return;
      }
      const decode = decodeLaunch(out, a, b, transpose, options.alpha ?? 1);
      if (decode) {
        context.launch(decode.kernel, decode.grid, [ELEMENTWISE_THREADS, 1, 1], decode.args);
        return;
      }
      const args = [...tensorArgs(k, 'out', out), ...tensorArgs(k, 'a', a), ...tensorArgs(k, 'b', b)];
      context.launch(
        'dsa_matmul',
        gridFor(context, total),
        [ELEMENTWISE_THREADS, 1, 1],
        [...args, { i32: transpose ? 1 : 0 }, { f32: options.alpha ?? 1 }],
      );
    },
  };
}
