import {
  type DType,
  dtypeBytes,
  encodeBf16,
  floatToF16,
  floatToFp8E4m3,
  numel,
  type Shape,
  type TensorView,
  tensorView,
} from '@dsa/tensor';
import type { Backend, BufferUsage } from './backend.js';

/**
 * Allocates a tensor on `backend` and uploads `values` (numbers, converted to `dtype`). The returned
 * view owns its own buffer (`view.buffer` is a DeviceBuffer; dispose it when done).
 */
export function uploadTensor(
  backend: Backend,
  dtype: DType,
  shape: Shape,
  values: ArrayLike<number>,
  usage: BufferUsage = 'activations',
): TensorView {
  const n = numel(shape);
  if (values.length !== n)
    throw new RangeError(`uploadTensor: ${values.length} values for shape [${shape.join(', ')}]`);
  const buffer = backend.allocate(n * dtypeBytes(dtype), usage);
  const view = tensorView(buffer, dtype, shape);
  backend.upload(view, encodeHost(dtype, values));
  return view;
}

/** Encodes numbers as the bytes of `dtype` on the host. */
export function encodeHost(dtype: DType, values: ArrayLike<number>): ArrayBufferView {
  switch (dtype) {
    case 'f32':
      return Float32Array.from(values);
    case 'f64':
      return Float64Array.from(values);
    case 'i32':
      return Int32Array.from(values);
    case 'i16':
      return Int16Array.from(values);
    case 'i8':
      return Int8Array.from(values);
    case 'u8':
    case 'bool':
      return Uint8Array.from(values);
    case 'bf16': {
      const out = new Uint16Array(values.length);
      encodeBf16(Float32Array.from(values), out);
      return out;
    }
    case 'f16':
      return Uint16Array.from(Array.from(values, floatToF16));
    case 'f8_e4m3':
      return Uint8Array.from(Array.from(values, floatToFp8E4m3));
    case 'i64':
      return BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  }
}

/** Downloads a contiguous f32 or i32 tensor to a new host array. */
export async function downloadTensor(backend: Backend, view: TensorView): Promise<Float32Array | Int32Array> {
  const n = numel(view.shape);
  if (view.dtype === 'f32') {
    const out = new Float32Array(n);
    await backend.download(view, out);
    return out;
  }
  if (view.dtype === 'i32') {
    const out = new Int32Array(n);
    await backend.download(view, out);
    return out;
  }
  throw new TypeError(`downloadTensor handles f32 and i32, got ${view.dtype}`);
}
