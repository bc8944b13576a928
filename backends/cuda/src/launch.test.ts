import { KernelArgumentError } from '@dsa/backend';
import { tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { CudaBuffer } from './cuda-buffer.js';
import { devicePointer } from './device-pointer.js';
import { checkDims, f64Arg, packLaunchArgs } from './launch.js';
import { TENSOR_ARG_COUNT, tensorArgs } from './tensor-args.js';

describe('packLaunchArgs', () => {
  it('places each argument at its natural alignment, little-endian', () => {
    const view = new DataView(new ArrayBuffer(64));
    const size = packLaunchArgs(
      'k',
      [{ i32: -3 }, { ptr: 0x7f0000001000n }, { f32: 1.5 }, { i64: -2n }, { u32: 0xffffffff }, { i32: 7 }],
      view,
    );
    // i32 @0, ptr @8 (aligned up from 4), f32 @16, i64 @24 (aligned up from 20), u32 @32, i32 @36
    expect(size).toBe(40);
    expect(view.getInt32(0, true)).toBe(-3);
    expect(view.getBigUint64(8, true)).toBe(0x7f0000001000n);
    expect(view.getFloat32(16, true)).toBe(1.5);
    expect(view.getBigInt64(24, true)).toBe(-2n);
    expect(view.getUint32(32, true)).toBe(0xffffffff);
    expect(view.getInt32(36, true)).toBe(7);
  });

  it('matches the C layout of struct { int a; double b; float c; }', () => {
    const view = new DataView(new ArrayBuffer(32));
    expect(packLaunchArgs('k', [{ i32: 1 }, f64Arg(0.1), { f32: 2 }], view)).toBe(20);
    expect(view.getFloat64(8, true)).toBe(0.1);
    expect(view.getFloat32(16, true)).toBe(2);
  });

  it('rejects out-of-range values naming the kernel and the argument', () => {
    const view = new DataView(new ArrayBuffer(64));
    expect(() => packLaunchArgs('dsa_x', [{ i32: 1 }, { i32: 2 ** 31 }], view)).toThrow(/dsa_x: argument 1/);
    expect(() => packLaunchArgs('dsa_x', [{ u32: -1 }], view)).toThrow(/not a uint32/);
    expect(() => packLaunchArgs('dsa_x', [{ i32: 1.5 }], view)).toThrow(/not an int32/);
    expect(() => packLaunchArgs('dsa_x', [{ ptr: -1n }], view)).toThrow(/64-bit address/);
    expect(() =>
      packLaunchArgs('dsa_x', Array(9).fill({ i64: 0n }), new DataView(new ArrayBuffer(64))),
    ).toThrow(/exceed the 64-byte parameter buffer/);
  });

  it('checks grid and block dimensions', () => {
    expect(() => checkDims('k', [1, 1, 1], [1024, 1, 1])).not.toThrow();
    expect(() => checkDims('k', [0, 1, 1], [32, 1, 1])).toThrow(/grid dimension x = 0/);
    expect(() => checkDims('k', [1, 1, 1], [64, 32, 1])).toThrow(/more than 1024 threads/);
  });
});

describe('tensor descriptors and device pointers', () => {
  const buffer = new CudaBuffer('cuda:0', 0x10000n, 4096, 'activations', () => {});

  it('devicePointer is the base address plus the byte offset', () => {
    const view = tensorView(buffer, 'bf16', [4, 8], 64);
    expect(devicePointer(view)).toBe(0x10000n + 64n);
  });

  it('a tensor is 15 int64 arguments: pointer, dtype, rank, shape[6], strides[6]', () => {
    const args = tensorArgs('k', 'x', tensorView(buffer, 'f32', [3, 5], 8));
    expect(args).toHaveLength(TENSOR_ARG_COUNT);
    expect(args.slice(0, 5)).toEqual([{ i64: 0x10008n }, { i64: 0n }, { i64: 2n }, { i64: 3n }, { i64: 5n }]);
    expect(args.slice(9, 11)).toEqual([{ i64: 5n }, { i64: 1n }]);
    const view = new DataView(new ArrayBuffer(256));
    expect(packLaunchArgs('k', args, view)).toBe(120);
  });

  it('rejects views of other backends and disposed buffers', () => {
    const foreign = tensorView({ byteLength: 64, device: 'cpu' }, 'f32', [4]);
    expect(() => devicePointer(foreign)).toThrow(KernelArgumentError);
    expect(() => tensorArgs('dsa_fill', 'out', foreign)).toThrow(/dsa_fill: out lives on device "cpu"/);
    const gone = new CudaBuffer('cuda:0', 0x20000n, 64, 'activations', () => {});
    gone.dispose();
    expect(() => devicePointer(tensorView(gone, 'f32', [4]))).toThrow(/disposed/);
  });
});
