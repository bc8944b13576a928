import { numel, type TensorView } from '@dsa/tensor';
import { dtypeArg, expectShape, pointerArg } from './fused-args.js';
import type { FusedKernelHost } from './fused-host.js';

const KERNEL = 'dsa_fused_swiglu';
const FLOATS = ['f32', 'bf16', 'f16'] as const;

/** FusedKernels.swiglu: out = silu(gate) · up (kernels/fused/swiglu.cu). All [N, I], contiguous; `out` may alias `gate`. */
export function swiglu(host: FusedKernelHost, out: TensorView, gate: TensorView, up: TensorView): void {
  expectShape('swiglu', 'up', up, gate.shape);
  expectShape('swiglu', 'out', out, gate.shape);
  const n = numel(gate.shape);
  if (n === 0) return;
  host.launcher.launch(
    KERNEL,
    [Math.min(Math.ceil(n / 256), 65536), 1, 1],
    [256, 1, 1],
    [
      pointerArg(KERNEL, 'out', out),
      dtypeArg(KERNEL, 'out', out, FLOATS),
      pointerArg(KERNEL, 'gate', gate),
      dtypeArg(KERNEL, 'gate', gate, FLOATS),
      pointerArg(KERNEL, 'up', up),
      dtypeArg(KERNEL, 'up', up, FLOATS),
      { i64: BigInt(n) },
    ],
  );
}
