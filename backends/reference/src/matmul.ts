import { KernelArgumentError, type LinearWeight } from '@dsa/backend';
import { formatShape, type TensorView } from '@dsa/tensor';
import { expectDType, expectRank, expectShape, read, write } from './strided.js';

/** The dense f64 value of a checkpoint weight, block scales applied (fp8, or i8 for GGUF Q8_0). */
export function dequantizeWeight(weight: LinearWeight, kernel: string): Float64Array {
  expectRank(kernel, 'weight', weight.weight, 2);
  const [n, k] = weight.weight.shape as [number, number];
  const w = read(weight.weight, kernel);
  const dtype = weight.weight.dtype;
  if (dtype === 'f8_e4m3' || dtype === 'i8') {
    if (!weight.scaleInv) throw new KernelArgumentError(kernel, `${dtype} weight without scaleInv`);
    const [bn, bk] = weight.blockSize ?? [128, 128];
    const rows = Math.ceil(n / bn);
    const cols = Math.ceil(k / bk);
    expectShape(kernel, 'scaleInv', weight.scaleInv, [rows, cols]);
    const s = read(weight.scaleInv, kernel);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < k; c++) w[r * k + c]! *= s[Math.floor(r / bn) * cols + Math.floor(c / bk)]!;
    }
  } else if (weight.scaleInv) {
    throw new KernelArgumentError(kernel, `scaleInv given for a ${weight.weight.dtype} weight`);
  }
  return w;
}

export function linear(out: TensorView, x: TensorView, weight: LinearWeight): void {
  const kernel = 'linear';
  expectRank(kernel, 'x', x, 2);
  expectDType(kernel, 'weight', weight.weight, 'f32', 'bf16', 'f16', 'f8_e4m3', 'i8');
  const [m, k] = x.shape as [number, number];
  const [n, kw] = weight.weight.shape as [number, number];
  if (kw !== k) {
    throw new KernelArgumentError(
      kernel,
      `x ${formatShape(x.shape)} does not match weight ${formatShape(weight.weight.shape)}`,
    );
  }
  expectShape(kernel, 'out', out, [m, n]);
  const w = dequantizeWeight(weight, kernel);
  const a = read(x, kernel);
  const result = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let c = 0; c < k; c++) sum += a[i * k + c]! * w[j * k + c]!;
      result[i * n + j] = sum;
    }
  }
  write(out, result, kernel);
}

export function matmul(
  out: TensorView,
  a: TensorView,
  b: TensorView,
  options: { transposeB?: boolean; alpha?: number } = {},
): void {
  const kernel = 'matmul';
  expectRank(kernel, 'a', a, 3);
  expectRank(kernel, 'b', b, 3);
  expectRank(kernel, 'out', out, 3);
  const [batch, m, k] = a.shape as [number, number, number];
  const transposeB = options.transposeB ?? false;
  const [bb, b1, b2] = b.shape as [number, number, number];
  const n = transposeB ? b1 : b2;
  if (bb !== batch || (transposeB ? b2 : b1) !== k) {
    throw new KernelArgumentError(
      kernel,
      `a ${formatShape(a.shape)} and b ${formatShape(b.shape)}${transposeB ? ' (transposed)' : ''} do not multiply`,
    );
  }
  expectShape(kernel, 'out', out, [batch, m, n]);
  const alpha = options.alpha ?? 1;
  const x = read(a, kernel);
  const y = read(b, kernel);
  const result = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    const xa = p * m * k;
    const yb = p * b1 * b2;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        if (transposeB) for (let c = 0; c < k; c++) sum += x[xa + i * k + c]! * y[yb + j * k + c]!;
        else for (let c = 0; c < k; c++) sum += x[xa + i * k + c]! * y[yb + c * n + j]!;
        result[(p * m + i) * n + j] = alpha * sum;
      }
    }
  }
  write(out, result, kernel);
}
