import { backendBuffer, KernelArgumentError } from '@dsa/backend';
import {
  bf16ToFloat,
  dtypeBytes,
  FP8_E4M3_TABLE,
  f16ToFloat,
  floatToBf16,
  floatToF16,
  floatToFp8E4m3,
  formatShape,
  numel,
  type Shape,
  type TensorView,
} from '@dsa/tensor';
import { ReferenceBuffer } from './reference-buffer.js';

/** The reference buffer behind a view, checked. */
export function bufferOf(view: TensorView, kernel: string): ReferenceBuffer {
  return backendBuffer(kernel, view, ReferenceBuffer, 'reference');
}

/** Element offsets (in units of the dtype) of every element of `view`, in row-major order. */
export function elementOffsets(view: TensorView, kernel: string): Int32Array {
  const size = dtypeBytes(view.dtype);
  if (view.byteOffset % size !== 0) {
    throw new KernelArgumentError(kernel, `byte offset ${view.byteOffset} is not aligned to ${view.dtype}`);
  }
  const n = numel(view.shape);
  const out = new Int32Array(n);
  const rank = view.shape.length;
  const base = view.byteOffset / size;
  if (rank === 0) {
    out[0] = base;
    return out;
  }
  const index = new Array<number>(rank).fill(0);
  let offset = base;
  for (let i = 0; i < n; i++) {
    out[i] = offset;
    for (let d = rank - 1; d >= 0; d--) {
      index[d]!++;
      offset += view.strides[d]!;
      if (index[d]! < view.shape[d]!) break;
      offset -= view.strides[d]! * view.shape[d]!;
      index[d] = 0;
    }
  }
  return out;
}

/** Reads any view into a dense Float64Array in row-major order (integers and floats alike). */
export function read(view: TensorView, kernel: string): Float64Array {
  const buffer = bufferOf(view, kernel);
  const offsets = elementOffsets(view, kernel);
  const out = new Float64Array(offsets.length);
  const get = getter(buffer, view, kernel);
  for (let i = 0; i < offsets.length; i++) out[i] = get(offsets[i]!);
  return out;
}

/** Writes dense row-major `values` into `view`, converting to its dtype. */
export function write(view: TensorView, values: ArrayLike<number>, kernel: string): void {
  const buffer = bufferOf(view, kernel);
  const offsets = elementOffsets(view, kernel);
  if (values.length !== offsets.length) {
    throw new KernelArgumentError(kernel, `writing ${values.length} values into ${formatShape(view.shape)}`);
  }
  const set = setter(buffer, view, kernel);
  for (let i = 0; i < offsets.length; i++) set(offsets[i]!, values[i]!);
}

function getter(buffer: ReferenceBuffer, view: TensorView, kernel: string): (offset: number) => number {
  switch (view.dtype) {
    case 'f32':
      return (o) => buffer.f32[o]!;
    case 'f64':
      return (o) => buffer.f64[o]!;
    case 'bf16':
      return (o) => bf16ToFloat(buffer.u16[o]!);
    case 'f16':
      return (o) => f16ToFloat(buffer.u16[o]!);
    case 'f8_e4m3':
      return (o) => FP8_E4M3_TABLE[buffer.bytes[o]!]!;
    case 'i32':
      return (o) => buffer.i32[o]!;
    case 'i64':
      return (o) => buffer.i32[2 * o]! + buffer.i32[2 * o + 1]! * 4294967296;
    case 'i16':
      return (o) => buffer.i16[o]!;
    case 'i8':
      return (o) => buffer.i8[o]!;
    case 'u8':
    case 'bool':
      return (o) => buffer.bytes[o]!;
    default:
      throw new KernelArgumentError(kernel, `dtype ${view.dtype} is not supported`);
  }
}

function setter(
  buffer: ReferenceBuffer,
  view: TensorView,
  kernel: string,
): (offset: number, value: number) => void {
  // Dtypes stored as they are: a plain store into the typed view converts.
  const plain: Partial<
    Record<string, Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array>
  > = {
    f32: buffer.f32,
    f64: buffer.f64,
    i32: buffer.i32,
    i16: buffer.i16,
    i8: buffer.i8,
    u8: buffer.bytes,
    bool: buffer.bytes,
  };
  const store = plain[view.dtype];
  if (store !== undefined) {
    return (o, v) => {
      store[o] = v;
    };
  }
  switch (view.dtype) {
    case 'bf16':
      return (o, v) => {
        buffer.u16[o] = floatToBf16(v);
      };
    case 'f16':
      return (o, v) => {
        buffer.u16[o] = floatToF16(v);
      };
    case 'f8_e4m3':
      return (o, v) => {
        buffer.bytes[o] = floatToFp8E4m3(v);
      };
    case 'i64':
      return (o, v) => {
        buffer.i32[2 * o] = Number(BigInt.asIntN(32, BigInt(v)));
        buffer.i32[2 * o + 1] = Math.floor(v / 4294967296);
      };
    default:
      throw new KernelArgumentError(kernel, `dtype ${view.dtype} is not supported`);
  }
}

/** Throws unless `view` has exactly `shape` (-1 matches any size). */
export function expectShape(kernel: string, name: string, view: TensorView, shape: Shape): void {
  const ok = view.shape.length === shape.length && shape.every((d, i) => d === -1 || d === view.shape[i]);
  if (!ok) {
    throw new KernelArgumentError(
      kernel,
      `${name} has shape ${formatShape(view.shape)}, expected ${formatShape(shape.map((d) => (d === -1 ? '*' : d)) as never)}`,
    );
  }
}

/** Throws unless `view` has rank `rank`; returns its sizes. */
export function expectRank(kernel: string, name: string, view: TensorView, rank: number): number[] {
  if (view.shape.length !== rank) {
    throw new KernelArgumentError(
      kernel,
      `${name} has rank ${view.shape.length} (${formatShape(view.shape)}), expected ${rank}`,
    );
  }
  return [...view.shape];
}

/** Throws unless `view` has one of the dtypes. */
export function expectDType(kernel: string, name: string, view: TensorView, ...dtypes: string[]): void {
  if (!dtypes.includes(view.dtype)) {
    throw new KernelArgumentError(kernel, `${name} has dtype ${view.dtype}, expected ${dtypes.join(' or ')}`);
  }
}
