import { type DType, dtypeBytes } from './dtype.js';
import { contiguousStrides, formatShape, numel, type Shape } from './shape.js';

/**
 * The part of a device buffer a {@link TensorView} needs to know about. Backends hand out their
 * own buffer objects (see `DeviceBuffer` in `@dsa/backend`); views only carry them around.
 */
export interface BufferHandle {
  /** Size of the allocation in bytes. */
  readonly byteLength: number;
  /** The device the memory lives on, e.g. `"reference"`, `"cpu"`, `"cuda:0"`. */
  readonly device: string;
}

/**
 * A typed, shaped, strided window onto a device buffer. Strides are in elements, outermost first;
 * a stride of 0 broadcasts a dimension. Kernels require the last dimension to be dense
 * (stride 1) unless they say otherwise.
 */
export interface TensorView {
  /** The device memory the view reads. */
  readonly buffer: BufferHandle;
  /** Offset of element `[0, 0, ...]` from the start of the buffer, in bytes. */
  readonly byteOffset: number;
  /** Element type. */
  readonly dtype: DType;
  /** Size of each dimension. */
  readonly shape: Shape;
  /** Element strides, one per dimension. */
  readonly strides: readonly number[];
}

/** A contiguous view of `shape` at `byteOffset` in `buffer`. */
export function tensorView(buffer: BufferHandle, dtype: DType, shape: Shape, byteOffset = 0): TensorView {
  const view: TensorView = {
    buffer,
    byteOffset,
    dtype,
    shape: [...shape],
    strides: contiguousStrides(shape),
  };
  checkBounds(view);
  return view;
}

/** Bytes spanned by the view's elements when it is contiguous. */
export function viewByteLength(view: TensorView): number {
  return numel(view.shape) * dtypeBytes(view.dtype);
}

/** True when the view's elements are laid out densely in row-major order. */
export function isContiguous(view: TensorView): boolean {
  const expected = contiguousStrides(view.shape);
  return view.shape.every((d, i) => d === 1 || view.strides[i] === expected[i]);
}

/** Reinterprets a contiguous view with a new shape of the same element count. */
export function reshape(view: TensorView, shape: Shape): TensorView {
  const resolved = resolveShape(shape, numel(view.shape));
  if (!isContiguous(view)) {
    throw new Error(
      `reshape needs a contiguous view; got shape ${formatShape(view.shape)} strides ${formatShape(view.strides)}`,
    );
  }
  return { ...view, shape: resolved, strides: contiguousStrides(resolved) };
}

/**
 * Narrows dimension `dim` to `[start, start + length)`, keeping the other dimensions.
 * No data moves: the result shares the buffer.
 */
export function narrow(view: TensorView, dim: number, start: number, length: number): TensorView {
  const d = normalizeDim(dim, view.shape.length);
  const size = view.shape[d]!;
  if (start < 0 || length < 0 || start + length > size) {
    throw new Error(`narrow: [${start}, ${start + length}) is outside dimension ${d} of size ${size}`);
  }
  const shape = [...view.shape];
  shape[d] = length;
  return {
    ...view,
    shape,
    byteOffset: view.byteOffset + start * view.strides[d]! * dtypeBytes(view.dtype),
  };
}

/** Selects index `index` of dimension `dim`, dropping that dimension. */
export function select(view: TensorView, dim: number, index: number): TensorView {
  const d = normalizeDim(dim, view.shape.length);
  const n = narrow(view, d, index, 1);
  return { ...n, shape: n.shape.filter((_, i) => i !== d), strides: n.strides.filter((_, i) => i !== d) };
}

/** Reorders dimensions: `permute(v, [1, 0])` transposes a matrix view. */
export function permute(view: TensorView, order: readonly number[]): TensorView {
  if (order.length !== view.shape.length || new Set(order).size !== order.length) {
    throw new Error(`permute: order ${formatShape(order)} does not match rank ${view.shape.length}`);
  }
  return { ...view, shape: order.map((i) => view.shape[i]!), strides: order.map((i) => view.strides[i]!) };
}

/** Splits dimension `dim` into `sizes` (their product must equal its size); strides follow. */
export function splitDim(view: TensorView, dim: number, sizes: readonly number[]): TensorView {
  const d = normalizeDim(dim, view.shape.length);
  const resolved = resolveShape(sizes, view.shape[d]!);
  const inner = contiguousStrides(resolved).map((s) => s * view.strides[d]!);
  return {
    ...view,
    shape: [...view.shape.slice(0, d), ...resolved, ...view.shape.slice(d + 1)],
    strides: [...view.strides.slice(0, d), ...inner, ...view.strides.slice(d + 1)],
  };
}

/** Inserts a dimension of size 1 at `dim`. */
export function unsqueeze(view: TensorView, dim: number): TensorView {
  const d = dim < 0 ? view.shape.length + 1 + dim : dim;
  return {
    ...view,
    shape: [...view.shape.slice(0, d), 1, ...view.shape.slice(d)],
    strides: [...view.strides.slice(0, d), 0, ...view.strides.slice(d)],
  };
}

/** Broadcasts size-1 dimensions to `shape` with stride 0 (numpy rules, aligned on the right). */
export function broadcastTo(view: TensorView, shape: Shape): TensorView {
  const offset = shape.length - view.shape.length;
  if (offset < 0)
    throw new Error(`broadcast: cannot broadcast ${formatShape(view.shape)} to ${formatShape(shape)}`);
  const strides = shape.map((size, i) => {
    if (i < offset) return 0;
    const own = view.shape[i - offset]!;
    if (own === size) return view.strides[i - offset]!;
    if (own === 1) return 0;
    throw new Error(`broadcast: cannot broadcast ${formatShape(view.shape)} to ${formatShape(shape)}`);
  });
  return { ...view, shape: [...shape], strides };
}

/** The shape two operands broadcast to (numpy rules); throws naming both shapes if they do not. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new Error(`shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Throws if any element of `view` falls outside its buffer. */
export function checkBounds(view: TensorView): void {
  if (view.shape.some((d) => d === 0)) return;
  let last = 0;
  let first = 0;
  view.shape.forEach((d, i) => {
    const s = view.strides[i]!;
    if (s >= 0) last += (d - 1) * s;
    else first += (d - 1) * s;
  });
  const bytes = dtypeBytes(view.dtype);
  const start = view.byteOffset + first * bytes;
  const end = view.byteOffset + (last + 1) * bytes;
  if (start < 0 || end > view.buffer.byteLength) {
    throw new Error(
      `tensor view ${view.dtype}${formatShape(view.shape)} at byte ${view.byteOffset} spans [${start}, ${end}) ` +
        `but its buffer has ${view.buffer.byteLength} bytes`,
    );
  }
}

function normalizeDim(dim: number, rank: number): number {
  const d = dim < 0 ? rank + dim : dim;
  if (d < 0 || d >= rank) throw new Error(`dimension ${dim} is out of range for rank ${rank}`);
  return d;
}

function resolveShape(shape: Shape, total: number): number[] {
  const unknown = shape.indexOf(-1);
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const resolved = [...shape];
  if (unknown >= 0) resolved[unknown] = total / known;
  if (numel(resolved) !== total || !resolved.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`cannot view ${total} elements as ${formatShape(shape)}`);
  }
  return resolved;
}
