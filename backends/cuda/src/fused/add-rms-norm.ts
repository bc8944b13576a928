import type { FusedKernels } from '@dsa/backend';
import { dtypeArg, expectShape, pointerArg } from './fused-args.js';
import type { FusedKernelHost } from './fused-host.js';

const KERNEL = 'dsa_fused_add_rms_norm';
const FLOATS = ['f32', 'bf16', 'f16'] as const;

/**
 * FusedKernels.addRmsNorm: residual += x; out = rmsNorm(residual) · weight (kernels/fused/add-rms-norm.cu).
 * `out`, `residual`, `x` [N, D] (f32, bf16 or f16, contiguous); `weight` [D].
 */
export function addRmsNorm(
  host: FusedKernelHost,
  ...[out, residual, x, weight, eps]: Parameters<FusedKernels['addRmsNorm']>
): void {
  const d = residual.shape[residual.shape.length - 1] ?? 0;
  const rows = residual.shape.length === 0 ? 0 : residual.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  expectShape('addRmsNorm', 'x', x, residual.shape);
  expectShape('addRmsNorm', 'out', out, residual.shape);
  expectShape('addRmsNorm', 'weight', weight, [d]);
  if (rows === 0 || d === 0) return;
  host.launcher.launch(
    KERNEL,
    [rows, 1, 1],
    [Math.min(1024, Math.max(32, Math.ceil(d / 4 / 32) * 32)), 1, 1],
    [
      pointerArg(KERNEL, 'out', out),
      dtypeArg(KERNEL, 'out', out, FLOATS),
      { i64: BigInt(d) },
      pointerArg(KERNEL, 'residual', residual),
      dtypeArg(KERNEL, 'residual', residual, FLOATS),
      { i64: BigInt(d) },
      pointerArg(KERNEL, 'x', x),
      dtypeArg(KERNEL, 'x', x, FLOATS),
      { i64: BigInt(d) },
      pointerArg(KERNEL, 'weight', weight),
      dtypeArg(KERNEL, 'weight', weight, FLOATS),
      { i32: d },
      { f32: eps },
    ],
  );
}
