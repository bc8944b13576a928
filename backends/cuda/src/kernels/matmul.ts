import { KernelArgumentError, type Kernels } from '@dsa/backend';
import { formatShape } from '@dsa/tensor';
import { tensorArgs } from '../tensor-args.js';
import { GEMM_MIN_ROWS, gemmEnabled, ltMatmul } from './gemm.js';
import {
  ELEMENTWISE_THREADS,
  expectDType,
  expectRank,
  gridFor,
  type KernelContext,
} from './kernel-context.js';

/** Rows up to which the decode kernels (dsa_matmul_rows_nn / _nt, kRowsMax) run. */
const ROWS_MAX = 16;
/** Columns per CTA of dsa_matmul_rows_nn (one per lane) and dsa_matmul_rows_nt (one per warp). */
const NN_COLUMNS = 32;
const NT_COLUMNS = 8;
/** gridDim.y limit (the batch index). */
const MAX_GRID_Y = 65535;

/**
 * Batched matmul over rank-3 strided views: a strided-batched cuBLASLt GEMM for M > 16 when the views
 * suit it (./gemm.ts); for M ≤ 16 the decode kernels, whose K split does not depend on M (batch
 * invariant); else one thread per output element.
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
      if (m >= GEMM_MIN_ROWS && gemmEnabled()) {
        const lt = context.cublasLt?.();
        if (lt && ltMatmul(context, lt, out, a, b, transpose, options.alpha ?? 1)) return;
      }
      const args = [...tensorArgs(k, 'out', out), ...tensorArgs(k, 'a', a), ...tensorArgs(k, 'b', b)];
      if (m <= ROWS_MAX && batch <= MAX_GRID_Y) {
        const columns = transpose ? NT_COLUMNS : NN_COLUMNS;
        context.launch(
          transpose ? 'dsa_matmul_rows_nt' : 'dsa_matmul_rows_nn',
          [Math.ceil(n / columns), batch, 1],
          [ELEMENTWISE_THREADS, 1, 1],
          [...args, { f32: options.alpha ?? 1 }],
        );
        return;
      }
      context.launch(
        'dsa_matmul',
        gridFor(context, total),
        [ELEMENTWISE_THREADS, 1, 1],
        [...args, { i32: transpose ? 1 : 0 }, { f32: options.alpha ?? 1 }],
      );
    },
  };
}
