import { bf16ToFloat, floatToBf16, narrow, permute, type TensorView, tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { CudaBuffer } from '../cuda-buffer.js';
import type { LaunchArg } from '../launch.js';
import type { KernelContext } from './kernel-context.js';
import { matmulKernels } from './matmul.js';

// The decode matmul's launch mapping (kernel choice, grid, pointers and strides) checked without a GPU:
// launches go to a host heap where dsa_matmul_dec_* is emulated from its documented arguments
// (kernels/primitives/matmul.cu); the kernels' arithmetic is checked on the device
// (check/gemm-checks.ts).
const BASE = 1n << 32n;

class HostHeap {
  readonly bytes = new DataView(new ArrayBuffer(16 << 20));
  private top = 0;
  readonly launches: { kernel: string; grid: readonly number[] }[] = [];

  tensor(dtype: 'f32' | 'bf16', shape: number[], values?: number[]): TensorView {
    const count = shape.reduce((a, b) => a * b, 1);
    const size = count * (dtype === 'f32' ? 4 : 2);
    const address = BASE + BigInt(this.top);
    this.top = Math.ceil((this.top + size) / 256) * 256;
    const view = tensorView(new CudaBuffer('cuda:0', address, size, 'activations', () => {}), dtype, shape);
    for (const [i, v] of (values ?? []).entries()) this.write(address, dtype, i, v);
    return view;
  }
  write(address: bigint, dtype: 'f32' | 'bf16', i: number, v: number): void {
    const o = Number(address - BASE);
    if (dtype === 'f32') this.bytes.setFloat32(o + 4 * i, v, true);
    else this.bytes.setUint16(o + 2 * i, floatToBf16(v), true);
  }
  read(address: bigint, dtype: 'f32' | 'bf16', i: number): number {
    const o = Number(address - BASE);
    return dtype === 'f32'
      ? this.bytes.getFloat32(o + 4 * i, true)
      : bf16ToFloat(this.bytes.getUint16(o + 2 * i, true));
  }
  /** Element values of a (strided) view, row-major over its shape. */
  values(view: TensorView): number[] {
    const [d0, d1, d2] = view.shape as [number, number, number];
    const buffer = view.buffer as CudaBuffer;
    const elementBytes = view.dtype === 'f32' ? 4 : 2;
    const start = view.byteOffset / elementBytes;
    const out: number[] = [];
    for (let i = 0; i < d0; i++)
      for (let j = 0; j < d1; j++)
        for (let l = 0; l < d2; l++) {
          const e = start + i * view.strides[0]! + j * view.strides[1]! + l * view.strides[2]!;
          out.push(this.read(buffer.address, view.dtype as 'f32' | 'bf16', e));
        }
    return out;
  }

  context(): KernelContext {
    return {
      multiprocessors: 132,
      launch: (kernel, grid, _block, args) => {
        this.launches.push({ kernel, grid });
        if (kernel.startsWith('dsa_matmul_dec_')) this.decode(kernel, args);
      },
      scratch: () => 0n,
      stage: () => 0n,
    };
  }

  /** dsa_matmul_dec_<nn|nt>_<f32|bf16>_m<TM>(out, os0, os1, a, as0, as1, b, bs0, bs1, m, n, k, alpha). */
  private decode(kernel: string, args: readonly LaunchArg[]): void {
    const v = args.map((a) =>
      'ptr' in a ? a.ptr : 'i64' in a ? a.i64 : 'i32' in a ? a.i32 : (a as { f32: number }).f32,
    );
    const [out, os0, os1, a, as0, as1, b, bs0, bs1] = v.slice(0, 9).map((x) => BigInt(x)) as bigint[];
    const [m, n, k, alpha] = v.slice(9).map(Number) as [number, number, number, number];
    const transposed = kernel.includes('_nt_');
    const wdtype = kernel.includes('_bf16_') ? 'bf16' : 'f32';
    const batches = this.launches.at(-1)!.grid[1]!;
    for (let batch = 0; batch < batches; batch++)
      for (let r = 0; r < m; r++)
        for (let c = 0; c < n; c++) {
          let sum = 0;
          for (let i = 0; i < k; i++) {
            const x = this.read(a!, 'f32', Number(BigInt(batch) * as0! + BigInt(r) * as1!) + i);
            const w = transposed
              ? this.read(b!, wdtype, Number(BigInt(batch) * bs0! + BigInt(c) * bs1!) + i)
              : this.read(b!, wdtype, Number(BigInt(batch) * bs0! + BigInt(i) * bs1!) + c);
            sum += x * w;
          }
          this.write(out!, 'f32', Number(BigInt(batch) * os0! + BigInt(r) * os1!) + c, alpha * sum);
        }
  }
}

/** out[b, m, n] = alpha · Σ_k a[b, m, k] · op(b)[b, k, n] on plain arrays, row-major. */
function reference(
  a: number[],
  w: number[],
  [batch, m, k]: number[],
  n: number,
  transposed: boolean,
  alpha = 1,
) {
  const out: number[] = [];
  for (let b = 0; b < batch; b++)
    for (let r = 0; r < m; r++)
      for (let c = 0; c < n; c++) {
        let sum = 0;
        for (let i = 0; i < k; i++)
          sum += a[(b * m + r) * k + i]! * (transposed ? w[(b * n + c) * k + i]! : w[(b * k + i) * n + c]!);
        out.push(alpha * sum);
      }
  return out;
}

const values = (count: number, seed: number) =>
  Array.from({ length: count }, (_, i) => (((i * 7919 + seed * 104729) % 1999) / 1999 - 0.5) * 2);

describe('matmul decode kernels (M ≤ 16): launch mapping', () => {
  // The absorbed MLA's shapes, small: H heads, nope Dn, rope R, v Dv, latent C; W = kv_b_proj [H, Dn + Dv, C].
  const [h, dn, r, dv, c] = [3, 8, 4, 8, 16];
  for (const dtype of ['f32', 'bf16'] as const)
    for (const s of [1, 3]) {
      it(`q_nope · W_UK (${dtype} weights, S = ${s}) runs dsa_matmul_dec_nn through permuted views`, () => {
        const heap = new HostHeap();
        const w = heap.tensor(dtype, [h, dn + dv, c], values(h * (dn + dv) * c, 1));
        const q = heap.tensor('f32', [s, h, dn + r], values(s * h * (dn + r), 2));
        const out = heap.tensor('f32', [s, h, c + r]);
        const a = permute(narrow(q, 2, 0, dn), [1, 0, 2]);
        const wuk = narrow(w, 1, 0, dn);
        const o = permute(narrow(out, 2, 0, c), [1, 0, 2]);
        matmulKernels(heap.context()).matmul(o, a, wuk);
        expect(heap.launches.map((l) => l.kernel)).toEqual([
          `dsa_matmul_dec_nn_${dtype}_m${s === 1 ? 1 : 4}`,
        ]);
        expect(heap.launches[0]!.grid).toEqual([1, h, 1]);
        const got = heap.values(o);
        const want = reference(heap.values(a), heap.values(wuk), [h, s, dn], c, false);
        for (const [i, v] of got.entries()) expect(v).toBeCloseTo(want[i]!, 4);
      });

      it(`o · W_UVᵀ (${dtype} weights, S = ${s}) runs dsa_matmul_dec_nt`, () => {
        const heap = new HostHeap();
        const w = heap.tensor(dtype, [h, dn + dv, c], values(h * (dn + dv) * c, 3));
        const latent = heap.tensor('f32', [s, h, c], values(s * h * c, 4));
        const out = heap.tensor('f32', [s, h, dv]);
        const a = permute(latent, [1, 0, 2]);
        const wuv = narrow(w, 1, dn, dv);
        const o = permute(out, [1, 0, 2]);
        matmulKernels(heap.context()).matmul(o, a, wuv, { transposeB: true, alpha: 0.5 });
        expect(heap.launches.map((l) => l.kernel)).toEqual([
          `dsa_matmul_dec_nt_${dtype}_m${s === 1 ? 1 : 4}`,
        ]);
        expect(heap.launches[0]!.grid).toEqual([1, h, 1]);
        const got = heap.values(o);
        const want = reference(heap.values(a), heap.values(wuv), [h, s, c], dv, true, 0.5);
        for (const [i, v] of got.entries()) expect(v).toBeCloseTo(want[i]!, 4);
      });
    }

  it('falls back to dsa_matmul where the decode kernels do not apply', () => {
    const cases: [string, (heap: HostHeap) => [TensorView, TensorView, TensorView, boolean]][] = [
      // 17 rows: past the decode kernels (no cuBLASLt in this context)
      [
        'M = 17',
        (hp) => [
          hp.tensor('f32', [2, 17, 8]),
          hp.tensor('f32', [2, 17, 8]),
          hp.tensor('f32', [2, 8, 8]),
          false,
        ],
      ],
      // K not a multiple of 4 for bᵀ
      [
        'K = 6 (bᵀ)',
        (hp) => [hp.tensor('f32', [2, 1, 5]), hp.tensor('f32', [2, 1, 6]), hp.tensor('f32', [2, 5, 6]), true],
      ],
      // a row start not 16-byte aligned (row stride 6 floats)
      [
        'a rows 24 bytes apart',
        (hp) => [
          hp.tensor('f32', [2, 3, 8]),
          narrow(hp.tensor('f32', [2, 3, 6]), 2, 0, 4),
          hp.tensor('f32', [2, 4, 8]),
          false,
        ],
      ],
    ];
    for (const [label, make] of cases) {
      const heap = new HostHeap();
      const [out, a, b, transposeB] = make(heap);
      matmulKernels(heap.context()).matmul(out, a, b, { transposeB });
      expect(
        heap.launches.map((l) => l.kernel),
        label,
      ).toEqual(['dsa_matmul']);
    }
  });
});
