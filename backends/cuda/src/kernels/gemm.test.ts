import {
  bf16ToFloat,
  floatToBf16,
  floatToFp8E4m3,
  fp8E4m3ToFloat,
  narrow,
  permute,
  tensorView,
} from '@dsa/tensor';

const roundBf16 = (v: number) => bf16ToFloat(floatToBf16(v));

import { describe, expect, it } from 'vitest';
import { CUDA_R, type CublasLt, type LtGemm } from '../cublas-lt.js';
import { CudaBuffer } from '../cuda-buffer.js';
import { CUDA_DEFAULT_SETTINGS } from '../cuda-settings.js';
import type { LaunchArg } from '../launch.js';
import { GEMM_MIN_ROWS, ltLinear, ltMatmul } from './gemm.js';
import type { KernelContext } from './kernel-context.js';

// A host "device": one heap addressed from BASE, the conversion kernels of gemm-mma.cu and a
// column-major cuBLASLt GEMM emulated on it. It checks the operand mapping of gemm.ts (layouts,
// leading dimensions, batch strides, chunk offsets) without a GPU; the kernels' arithmetic is checked
// on the device by check/gemm-checks.ts.
const BASE = 1n << 32n;

/**
 * The largest |got(b, i, j) − alpha · Σ_k term(b, i, j, k)| over a [batches, rows, cols] result, the
 * reference summed in k order.
 */
function worstError(
  [batches, rows, cols]: readonly [number, number, number],
  depth: number,
  term: (b: number, i: number, j: number, k: number) => number,
  got: (b: number, i: number, j: number) => number,
  alpha = 1,
): number {
  let worst = 0;
  for (let b = 0; b < batches; b++)
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) {
        let want = 0;
        for (let k = 0; k < depth; k++) want += term(b, i, j, k);
        worst = Math.max(worst, Math.abs(got(b, i, j) - alpha * want));
      }
  return worst;
}

class HostDevice {
  readonly heap = new DataView(new ArrayBuffer(64 << 20));
  private top = 0;
  readonly scratchAreas = new Map<string, { address: bigint; bytes: number }>();

  alloc(bytes: number): bigint {
    const address = BASE + BigInt(this.top);
    this.top = Math.ceil((this.top + bytes) / 256) * 256;
    return address;
  }
  buffer(bytes: number): CudaBuffer {
    return new CudaBuffer('cuda:0', this.alloc(bytes), bytes, 'activations', () => {});
  }
  at(address: bigint): number {
    return Number(address - BASE);
  }
  read(address: bigint, type: number, i: number): number {
    const o = this.at(address);
    if (type === CUDA_R.f32) return this.heap.getFloat32(o + 4 * i, true);
    return bf16ToFloat(this.heap.getUint16(o + 2 * i, true));
  }
  readTyped(address: bigint, code: number, i: number): number {
    const o = this.at(address);
    if (code === 0) return this.heap.getFloat32(o + 4 * i, true);
    if (code === 1) return this.read(address, CUDA_R.bf16, i);
    if (code === 3) return fp8E4m3ToFloat(this.heap.getUint8(o + i));
    throw new Error(`dtype code ${code}`);
  }
  writeF32(address: bigint, i: number, v: number): void {
    this.heap.setFloat32(this.at(address) + 4 * i, v, true);
  }
  writeBf16(address: bigint, i: number, v: number): void {
    this.heap.setUint16(this.at(address) + 2 * i, floatToBf16(v), true);
  }
}

interface Desc {
  ptr: bigint;
  dtype: number;
  rank: number;
  shape: number[];
  strides: number[];
}

function descs(args: readonly LaunchArg[]): { tensors: Desc[]; rest: LaunchArg[] } {
  const values = args.map((a) => ('i64' in a ? a.i64 : 'i32' in a ? BigInt(a.i32) : 0n));
  const tensors: Desc[] = [];
  let i = 0;
  while (i + 15 <= args.length && args.slice(i, i + 15).every((a) => 'i64' in a) && values[i + 2]! <= 6n) {
    const v = values.slice(i, i + 15).map(Number);
    tensors.push({
      ptr: values[i]!,
      dtype: v[1]!,
      rank: v[2]!,
      shape: v.slice(3, 9),
      strides: v.slice(9, 15),
    });
    i += 15;
  }
  return { tensors, rest: args.slice(i) };
}

function context(dev: HostDevice, gemmStagingBytes = CUDA_DEFAULT_SETTINGS.gemmStagingBytes): KernelContext {
  const num = (a: LaunchArg) => ('i64' in a ? a.i64 : 'i32' in a ? BigInt(a.i32) : 0n);
  return {
    settings: { ...CUDA_DEFAULT_SETTINGS, gemmStagingBytes },
    multiprocessors: 1,
    stage: () => 0n,
    stream: () => 0n,
    scratch: (name, bytes) => {
      const area = dev.scratchAreas.get(name);
      if (area && area.bytes >= bytes) return area.address;
      const fresh = { address: dev.alloc(bytes), bytes };
      dev.scratchAreas.set(name, fresh);
      return fresh.address;
    },
    launch: (kernel, _grid, _block, args) => {
      if (kernel === 'dsa_split_bf16') {
        const { tensors, rest } = descs(args.slice(0, 15));
        const x = tensors[0]!;
        const [hi, mid, lo] = args.slice(15).map(num);
        const [m, k] = x.shape;
        for (let r = 0; r < m!; r++)
          for (let c = 0; c < k!; c++) {
            const v = Math.fround(dev.readTyped(x.ptr, x.dtype, r * x.strides[0]! + c));
            const h = roundBf16(v);
            dev.writeBf16(hi!, r * k! + c, v);
            const rest1 = Math.fround(v - h);
            const md = roundBf16(rest1);
            if (mid) dev.writeBf16(mid, r * k! + c, rest1);
            if (lo) dev.writeBf16(lo, r * k! + c, Math.fround(rest1 - md));
          }
        void rest;
        return;
      }
      if (kernel === 'dsa_dequant_fp8_rows') {
        const { tensors } = descs(args.slice(0, 30));
        const [w, s] = tensors as [Desc, Desc];
        const [blockN, blockK, n0, rows, dst, toF32] = args.slice(30).map((a) => Number(num(a)));
        const k = w.shape[1]!;
        for (let r = 0; r < rows!; r++)
          for (let c = 0; c < k; c++) {
            const n = n0! + r;
            const scale = dev.readTyped(
              s.ptr,
              0,
              Math.floor(n / blockN!) * s.strides[0]! + Math.floor(c / blockK!) * s.strides[1]!,
            );
            const v = Math.fround(dev.readTyped(w.ptr, 3, n * w.strides[0]! + c) * scale);
            if (toF32) dev.writeF32(BigInt(dst!), r * k + c, v);
            else dev.writeBf16(BigInt(dst!), r * k + c, v);
          }
        return;
      }
      if (kernel === 'dsa_to_dense_f32') {
        const { tensors } = descs(args.slice(0, 15));
        const src = tensors[0]!;
        const dst = num(args[15]!);
        const shape = src.shape.slice(0, src.rank);
        const total = shape.reduce((a, b) => a * b, 1);
        for (let e = 0; e < total; e++) {
          let rem = e;
          let off = 0;
          for (let d = src.rank - 1; d >= 0; d--) {
            off += (rem % shape[d]!) * src.strides[d]!;
            rem = Math.floor(rem / shape[d]!);
          }
          dev.writeF32(dst, e, dev.readTyped(src.ptr, src.dtype, off));
        }
        return;
      }
      throw new Error(`unexpected kernel ${kernel}`);
    },
  };
}

function hostLt(dev: HostDevice, calls: LtGemm[]): CublasLt {
  return {
    matmul(g: LtGemm) {
      calls.push(g);
      const [rowsOpA, inner] = g.transA ? [g.a.cols, g.a.rows] : [g.a.rows, g.a.cols];
      const colsOpB = g.transB ? g.b.rows : g.b.cols;
      expect(g.d.rows).toBe(rowsOpA);
      expect(g.d.cols).toBe(colsOpB);
      for (const m of [g.a, g.b, g.d]) expect(m.ld).toBeGreaterThanOrEqual(m.rows);
      const batches = g.d.batch ?? 1;
      for (let b = 0; b < batches; b++)
        for (let i = 0; i < rowsOpA; i++)
          for (let j = 0; j < colsOpB; j++) {
            let acc = 0;
            for (let k = 0; k < inner; k++) {
              const ai = g.transA ? k + i * g.a.ld : i + k * g.a.ld;
              const bi = g.transB ? j + k * g.b.ld : k + j * g.b.ld;
              acc +=
                dev.read(g.aPtr, g.a.type, b * (g.a.batchStride ?? 0) + ai) *
                dev.read(g.bPtr, g.b.type, b * (g.b.batchStride ?? 0) + bi);
            }
            const di = b * (g.d.batchStride ?? 0) + i + j * g.d.ld;
            const prior = g.beta === 0 ? 0 : dev.read(g.dPtr, CUDA_R.f32, di);
            dev.writeF32(g.dPtr, di, g.alpha * acc + g.beta * prior);
          }
    },
  } as unknown as CublasLt;
}

function fill(dev: HostDevice, dtype: 'f32' | 'bf16' | 'f8_e4m3', count: number, seed: number) {
  const values: number[] = [];
  let s = seed;
  for (let i = 0; i < count; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    values.push((s / 2147483648 - 0.5) * (dtype === 'f8_e4m3' ? 40 : 2));
  }
  const bytes = { f32: 4, bf16: 2, f8_e4m3: 1 }[dtype];
  const buffer = dev.buffer(count * bytes);
  const exact = values.map((v) => {
    if (dtype === 'f32') return Math.fround(v);
    if (dtype === 'bf16') return roundBf16(v);
    return fp8E4m3ToFloat(floatToFp8E4m3(v));
  });
  exact.forEach((v, i) => {
    if (dtype === 'f32') dev.writeF32(buffer.address, i, v);
    else if (dtype === 'bf16') dev.writeBf16(buffer.address, i, v);
    else dev.heap.setUint8(dev.at(buffer.address) + i, floatToFp8E4m3(v));
  });
  return { buffer, values: exact };
}

describe('prefill GEMM operand mapping (host-emulated cuBLASLt)', () => {
  for (const [dtype, staging] of [
    ['f32', 0],
    ['bf16', 0],
    ['f8_e4m3', 0],
    ['f32', 6400],
    ['bf16', 6400],
    ['f8_e4m3', 6400],
  ] as const) {
    it(`linear with ${dtype} weights, strided x rows, M = ${GEMM_MIN_ROWS + 3}${staging ? ', chunked over M and N' : ''}`, () => {
      const dev = new HostDevice();
      const [m, n, k, xLd] = [GEMM_MIN_ROWS + 3, 200, 160, 176];
      const x = fill(dev, 'f32', m * xLd, 3);
      const w = fill(dev, dtype, n * k, 5);
      const scales = [0.5, 0.25, 0.125, 2];
      const s = fill(dev, 'f32', 4, 1);
      for (const [i, v] of scales.entries()) dev.writeF32(s.buffer.address, i, v);
      const out = dev.buffer(m * n * 4);
      const calls: LtGemm[] = [];
      const xView = narrow(tensorView(x.buffer, 'f32', [m, xLd]), 1, 0, k);
      const wView = tensorView(w.buffer, dtype, [n, k]);
      const weight =
        dtype === 'f8_e4m3'
          ? { weight: wView, scaleInv: tensorView(s.buffer, 'f32', [2, 2]), blockSize: [128, 128] as const }
          : { weight: wView };
      const ok = ltLinear(
        context(dev, staging || undefined),
        hostLt(dev, calls),
        tensorView(out, 'f32', [m, n]),
        xView,
        weight,
      );
      expect(ok).toBe(true);
      const chunksM = staging ? Math.ceil(m / Math.floor(staging / (k * (dtype === 'bf16' ? 6 : 4)))) : 1;
      const chunksN = staging && dtype === 'f8_e4m3' ? 2 : 1;
      expect(calls.length).toBe((dtype === 'bf16' ? 3 : 1) * chunksM * chunksN);
      const worst = worstError(
        [1, m, n],
        k,
        (_, r, c, j) => {
          const scale = dtype === 'f8_e4m3' ? scales[Math.floor(c / 128) * 2 + Math.floor(j / 128)]! : 1;
          return x.values[r * xLd + j]! * w.values[c * k + j]! * scale;
        },
        (_, r, c) => dev.read(out.address, CUDA_R.f32, r * n + c),
      );
      expect(worst).toBeLessThan(1e-3);
    });
  }

  it('matmul at the MLA shapes: permuted f32 a × bf16 b, and transposed b with alpha', () => {
    const dev = new HostDevice();
    const [h, s, d, c] = [3, 20, 16, 24];
    const a = fill(dev, 'f32', s * h * d, 7); // [S, H, D] viewed [H, S, D]
    const b = fill(dev, 'bf16', h * d * c, 9); // [H, D, C]
    const out = dev.buffer(s * h * c * 4); // [S, H, C] viewed [H, S, C]
    const calls: LtGemm[] = [];
    const ok = ltMatmul(
      context(dev),
      hostLt(dev, calls),
      permute(tensorView(out, 'f32', [s, h, c]), [1, 0, 2]),
      permute(tensorView(a.buffer, 'f32', [s, h, d]), [1, 0, 2]),
      tensorView(b.buffer, 'bf16', [h, d, c]),
      false,
      0.5,
    );
    expect(ok).toBe(true);
    const worst = worstError(
      [h, s, c],
      d,
      (hh, i, j, k) => a.values[(i * h + hh) * d + k]! * b.values[(hh * d + k) * c + j]!,
      (hh, i, j) => dev.read(out.address, CUDA_R.f32, (i * h + hh) * c + j),
      0.5,
    );
    expect(worst).toBeLessThan(1e-4);

    // scores [H, S, T] = q [H, S, C] · kv [T, H, C] viewed [H, T, C], transposed
    const t = 8;
    const kv = fill(dev, 'f32', t * h * c, 11);
    const q = fill(dev, 'f32', h * s * c, 13);
    const scores = dev.buffer(h * s * t * 4);
    expect(
      ltMatmul(
        context(dev),
        hostLt(dev, calls),
        tensorView(scores, 'f32', [h, s, t]),
        tensorView(q.buffer, 'f32', [h, s, c]),
        permute(tensorView(kv.buffer, 'f32', [t, h, c]), [1, 0, 2]),
        true,
        1,
      ),
    ).toBe(true);
    expect(
      worstError(
        [h, s, t],
        c,
        (hh, i, j, k) => q.values[(hh * s + i) * c + k]! * kv.values[(j * h + hh) * c + k]!,
        (hh, i, j) => dev.read(scores.address, CUDA_R.f32, (hh * s + i) * t + j),
      ),
    ).toBeLessThan(1e-4);
  });
});
