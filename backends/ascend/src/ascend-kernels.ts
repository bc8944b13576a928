import {
  type BinaryOp,
  checkSampleArguments,
  KernelArgumentError,
  type Kernels,
  type SamplingOutputs,
  type SamplingRow,
  sampleOnHost,
  type UnaryOp,
} from '@dsa/backend';
import {
  type DType,
  dtypeBytes,
  isContiguous,
  narrow,
  numel,
  type Shape,
  type TensorView,
  tensorView,
} from '@dsa/tensor';
import type { AclnnOperator } from './acl-api.js';
import type { AclRuntime } from './acl-runtime.js';
import { ACL_DTYPES } from './dtype-codes.js';

import type { AscendPrecision, WeightStore } from './weight-store.js';

const UNARY: Record<UnaryOp, AclnnOperator> = {
  silu: 'Silu',
  relu: 'Relu',
  exp: 'Exp',
  sigmoid: 'Sigmoid',
  neg: 'Neg',
  sqrt: 'Sqrt',
  reciprocal: 'Reciprocal',
};
const BINARY: Record<BinaryOp, AclnnOperator> = {
  add: 'Add',
  sub: 'Sub',
  mul: 'Mul',
  div: 'Div',
  max: 'Maximum',
  min: 'Minimum',
};

/** A view with explicit shape, strides (elements) and byte offset over `base`'s buffer. */
function strided(
  base: TensorView,
  shape: Shape,
  strides: readonly number[],
  byteOffset = base.byteOffset,
): TensorView {
  return { buffer: base.buffer, dtype: base.dtype, shape: [...shape], strides: [...strides], byteOffset };
}

function expectShape(kernel: string, name: string, view: TensorView, shape: Shape): void {
  if (view.shape.length !== shape.length || view.shape.some((d, i) => d !== shape[i]))
    throw new KernelArgumentError(
      kernel,
      `${name} has shape [${view.shape.join(', ')}], expected [${shape.join(', ')}]`,
    );
}

function expectDType(kernel: string, name: string, view: TensorView, dtypes: readonly DType[]): void {
  if (!dtypes.includes(view.dtype))
    throw new KernelArgumentError(kernel, `${name} is ${view.dtype}, expected ${dtypes.join(' or ')}`);
}

/**
 * The block layout of an fp8 (de)quantization of `source` [rows, d] in blocks of `bs` columns: checks
 * that `other` (named) is [rows, d] and `scale` [rows, ceil(d / bs)]; returns [rows, d, bs, blocks].
 */
function fp8Blocks(
  kernel: string,
  source: TensorView,
  [name, other]: [string, TensorView],
  scale: TensorView,
  bs: number,
): [number, number, number, number] {
  const [rows, d] = source.shape as [number, number];
  const blocks = Math.ceil(d / bs);
  expectShape(kernel, name, other, [rows, d]);
  expectShape(kernel, 'scale', scale, [rows, blocks]);
  return [rows, d, bs, blocks];
}

/**
 * The 21 primitive kernels expressed through aclnn operators on `rt`. Index lists with -1 entries
 * are resolved on the host (a synchronous read of the small i32 index tensor), because CANN's
 * IndexSelect / IndexCopy / IndexAdd reject negative indices; the data itself stays on the device.
 * `linear` reads weights through `store` and computes in `precision`.
 */
export function createAscendKernels(
  rt: AclRuntime,
  log: (line: string) => void,
  store: WeightStore,
  precision: AscendPrecision,
): Kernels {
  const logged = new Set<string>();
  const once = (line: string) => {
    if (logged.has(line)) return;
    logged.add(line);
    log(line);
  };
  const run = (op: AclnnOperator, ...args: Parameters<AclRuntime['run']>[1]) => rt.run(op, args);
  const temp = (dtype: DType, shape: Shape) => rt.temp(dtype, shape);

  /** A contiguous copy of `view` in `dtype` (the view itself when it already is one). */
  const contiguous = (view: TensorView, dtype: DType = view.dtype): TensorView => {
    if (view.dtype === dtype && isContiguous(view)) return view;
    const out = temp(dtype, view.shape);
    run('InplaceCopy', out, view);
    return out;
  };
  const readHost = (view: TensorView): Float32Array | Int32Array => {
    const src = contiguous(view, view.dtype === 'i32' ? 'i32' : 'f32');
    const out = src.dtype === 'i32' ? new Int32Array(numel(src.shape)) : new Float32Array(numel(src.shape));
    rt.readNow(src, new Uint8Array(out.buffer));
    return out;
  };
  const writeHost = (view: TensorView, values: Float32Array | Int32Array): void => {
    if (isContiguous(view) && view.dtype === (values instanceof Int32Array ? 'i32' : 'f32')) {
      rt.upload(view, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      return;
    }
    const staged = temp(values instanceof Int32Array ? 'i32' : 'f32', view.shape);
    rt.upload(staged, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    run('InplaceCopy', view, staged);
  };
  const indexTensor = (values: readonly number[]): TensorView => {
    const view = temp('i32', [values.length]);
    rt.upload(view, new Uint8Array(Int32Array.from(values).buffer));
    return view;
  };
  /** Host copy of an i32 index tensor, with the positions of its valid (≥ 0) entries. */
  const resolveIndices = (kernel: string, indices: TensorView) => {
    expectDType(kernel, 'indices', indices, ['i32']);
    once(
      `ascend: ${kernel} reads its i32 indices on the host to drop -1 entries (aclnn index ops reject them)`,
    );
    const host = readHost(indices) as Int32Array;
    const positions: number[] = [];
    const values: number[] = [];
    host.forEach((v, i) => {
      if (v >= 0) {
        positions.push(i);
        values.push(v);
      }
    });
    return { host, positions, values };
  };
  /** 1-D view of every element a 2-D view can reach, and the flat offset of (r, c) in it. */
  const flat2d = (view: TensorView) => {
    const [rows, cols] = view.shape as [number, number];
    const [s0, s1] = view.strides as [number, number];
    const length = rows > 0 && cols > 0 ? (rows - 1) * s0 + (cols - 1) * s1 + 1 : 0;
    return { flat: strided(view, [length], [1]), at: (r: number, c: number) => r * s0 + c * s1 };
  };
  const hadamardMatrices = new Map<number, TensorView>();

  return {
    fill(out, value) {
      run('InplaceFillScalar', out, { scalar: value });
    },

    cast(out, x) {
      expectShape('cast', 'out', out, x.shape);
      run('Cast', x, ACL_DTYPES[out.dtype], out);
    },

    gatherRows(out, table, indices) {
      const [n, d] = out.shape as [number, number];
      expectShape('gatherRows', 'indices', indices, [n]);
      const { positions, values } = resolveIndices('gatherRows', indices);
      if (positions.length < n) run('InplaceFillScalar', out, { scalar: 0 });
      if (positions.length === 0) return;
      const rows = temp(table.dtype, [positions.length, d]);
      run('IndexSelect', table, 0, indexTensor(values), rows);
      if (positions.length === n) {
        run('InplaceCopy', out, rows);
        return;
      }
      run('InplaceIndexCopy', out, 0, indexTensor(positions), contiguous(rows, out.dtype));
    },

    scatterRows(table, rows, indices) {
      const [n, d] = rows.shape as [number, number];
      expectShape('scatterRows', 'indices', indices, [n]);
      const { positions, values } = resolveIndices('scatterRows', indices);
      if (positions.length === 0) return;
      let source = rows;
      if (positions.length < n) {
        source = temp(rows.dtype, [positions.length, d]);
        run('IndexSelect', rows, 0, indexTensor(positions), source);
      }
      run('InplaceIndexCopy', table, 0, indexTensor(values), contiguous(source, table.dtype));
    },

    indexAdd(out, rows, indices, weights) {
      const [n, d] = rows.shape as [number, number];
      expectShape('indexAdd', 'indices', indices, [n]);
      const { positions, values } = resolveIndices('indexAdd', indices);
      if (positions.length === 0) return;
      let source = contiguous(rows, out.dtype);
      if (weights) {
        const weighted = temp(out.dtype, [n, d]);
        run('Mul', source, strided(weights, [n, 1], [weights.strides[0]!, 0]), weighted);
        source = weighted;
      }
      if (positions.length < n) {
        const picked = temp(out.dtype, [positions.length, d]);
        run('IndexSelect', source, 0, indexTensor(positions), picked);
        source = picked;
      }
      run('IndexAdd', out, 0, indexTensor(values), source, { scalar: 1 }, out);
    },

    linear(out, x, weight) {
      const [m, k] = x.shape as [number, number];
      const [n] = weight.weight.shape as [number, number];
      expectShape('linear', 'weight', weight.weight, [n, k]);
      expectShape('linear', 'out', out, [m, n]);
      if (precision === 'bf16') {
        // bf16 cube units: x cast to bf16, the stored bf16 weight, a bf16 product cast back.
        const w = store.as('linear', weight, 'bf16');
        const wT = strided(w, [k, n], [w.strides[1]!, w.strides[0]!]);
        const product = temp('bf16', [m, n]);
        run('Matmul', contiguous(x, 'bf16'), wT, product, 0);
        run('Cast', product, ACL_DTYPES[out.dtype], out);
        return;
      }
      // exact: f32 activations; a bf16 weight is upcast to an f32 scratch copy for this call only.
      const w = store.as('linear', weight, 'f32');
      const wT = strided(w, [k, n], [w.strides[1]!, w.strides[0]!]);
      run('Matmul', contiguous(x, 'f32'), wT, out, 0);
    },

    matmul(out, a, b, options = {}) {
      const [batch, , k] = a.shape as [number, number, number];
      const n = out.shape[2]!;
      const b32 = b.dtype === 'f32' ? b : contiguous(b, 'f32');
      const bView = options.transposeB
        ? strided(b32, [b32.shape[0]!, k, n], [b32.strides[0]!, b32.strides[2]!, b32.strides[1]!])
        : b32;
      expectShape('matmul', options.transposeB ? 'b (transposed)' : 'b', bView, [batch, k, n]);
      const a32 = a.dtype === 'f32' ? a : contiguous(a, 'f32');
      const target = out.dtype === 'f32' ? out : temp('f32', out.shape);
      run('BatchMatMul', a32, bView, target, 0);
      if ((options.alpha ?? 1) !== 1) run('Muls', target, { scalar: options.alpha! }, target);
      if (target !== out) run('Cast', target, ACL_DTYPES[out.dtype], out);
    },

    rmsNorm(out, x, weight, eps) {
      const d = x.shape[x.shape.length - 1]!;
      expectShape('rmsNorm', 'weight', weight, [d]);
      const rstd = temp('f32', [...x.shape.slice(0, -1), 1]);
      const y = out.buffer === x.buffer || out.dtype !== 'f32' ? temp('f32', x.shape) : out;
      run('RmsNorm', x.dtype === 'f32' ? x : contiguous(x, 'f32'), contiguous(weight, 'f32'), eps, y, rstd);
      if (y !== out) run('InplaceCopy', out, y);
    },

    layerNorm(out, x, weight, bias, eps) {
      const d = x.shape[x.shape.length - 1]!;
      const y = out.buffer === x.buffer || out.dtype !== 'f32' ? temp('f32', x.shape) : out;
      run(
        'LayerNorm',
        x,
        { intArray: [d] },
        contiguous(weight, 'f32'),
        contiguous(bias, 'f32'),
        eps,
        y,
        null,
        null,
      );
      if (y !== out) run('InplaceCopy', out, y);
    },

    rope(x, positions, invFreq, options) {
      const [n, h, r] = x.shape as [number, number, number];
      const half = r / 2;
      expectShape('rope', 'positions', positions, [n]);
      expectShape('rope', 'invFreq', invFreq, [half]);
      const position = temp('f32', [n, 1]);
      run('Cast', strided(positions, [n, 1], [positions.strides[0]!, 0]), ACL_DTYPES.f32, position);
      const angle = temp('f32', [n, half]);
      run('Mul', position, invFreq, angle);
      const cos = temp('f32', [n, 1, half]);
      const sin = temp('f32', [n, 1, half]);
      run('Cos', strided(angle, [n, 1, half], [half, half, 1]), cos);
      run('Sin', strided(angle, [n, 1, half], [half, half, 1]), sin);
      const scale = options.scale ?? 1;
      if (scale !== 1) {
        run('Muls', cos, { scalar: scale }, cos);
        run('Muls', sin, { scalar: scale }, sin);
      }
      const [s0, s1, s2] = x.strides as [number, number, number];
      const size = dtypeBytes(x.dtype);
      const x1 =
        options.layout === 'half' ? narrow(x, 2, 0, half) : strided(x, [n, h, half], [s0, s1, 2 * s2]);
      const x2 =
        options.layout === 'half'
          ? narrow(x, 2, half, half)
          : strided(x, [n, h, half], [s0, s1, 2 * s2], x.byteOffset + s2 * size);
      const t = [0, 1, 2, 3].map(() => temp('f32', [n, h, half])) as [
        TensorView,
        TensorView,
        TensorView,
        TensorView,
      ];
      run('Mul', x1, cos, t[0]);
      run('Mul', x2, sin, t[1]);
      run('Mul', x2, cos, t[2]);
      run('Mul', x1, sin, t[3]);
      run('Sub', t[0], t[1], { scalar: 1 }, x1);
      run('Add', t[2], t[3], { scalar: 1 }, x2);
    },

    softmax(x, options = {}) {
      const scale = options.scale ?? 1;
      let input = x;
      if (scale !== 1) {
        input = temp('f32', x.shape);
        run('Muls', x, { scalar: scale }, input);
      }
      run('Softmax', input, -1, x);
      // All -inf rows come out NaN from softmax; the contract wants zeros.
      run('NanToNum', x, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, x);
    },

    topk(indices, values, x, k) {
      const [rows, n] = x.shape as [number, number];
      expectShape('topk', 'indices', indices, [rows, k]);
      if (values) expectShape('topk', 'values', values, [rows, k]);
      const kk = Math.min(k, n);
      once(
        'ascend: topk reorders aclnnTopk results on the host (ascending indices, -inf/NaN dropped, -1 padding)',
      );
      const v = temp('f32', [rows, kk]);
      const i64 = temp('i64', [rows, kk]);
      run('Topk', contiguous(x, 'f32'), kk, -1, true, true, v, i64);
      const i32 = temp('i32', [rows, kk]);
      run('Cast', i64, ACL_DTYPES.i32, i32);
      const hostValues = readHost(v) as Float32Array;
      const hostIndices = readHost(i32) as Int32Array;
      const outIndices = new Int32Array(rows * k).fill(-1);
      const outValues = new Float32Array(rows * k).fill(Number.NEGATIVE_INFINITY);
      for (let row = 0; row < rows; row++) {
        const picked: [number, number][] = [];
        for (let j = 0; j < kk; j++) {
          const value = hostValues[row * kk + j]!;
          if (value !== Number.NEGATIVE_INFINITY && !Number.isNaN(value))
            picked.push([hostIndices[row * kk + j]!, value]);
        }
        picked.sort((a, b) => a[0] - b[0]);
        picked.forEach(([index, value], j) => {
          outIndices[row * k + j] = index;
          outValues[row * k + j] = value;
        });
      }
      writeHost(indices, outIndices);
      if (values) writeHost(values, outValues);
    },

    reduceSum(out, x) {
      run('ReduceSum', x, { intArray: [-1] }, false, ACL_DTYPES[out.dtype], out);
    },

    gatherColumns(out, x, indices, fill = 0) {
      const [rows, j] = out.shape as [number, number];
      expectShape('gatherColumns', 'indices', indices, [rows, j]);
      const { host } = resolveIndices('gatherColumns', indices);
      run('InplaceFillScalar', out, { scalar: fill });
      const src = flat2d(x);
      const dst = flat2d(out);
      const from: number[] = [];
      const to: number[] = [];
      host.forEach((c, i) => {
        if (c < 0) return;
        from.push(src.at(Math.floor(i / j), c));
        to.push(dst.at(Math.floor(i / j), i % j));
      });
      if (from.length === 0) return;
      const picked = temp(x.dtype, [from.length]);
      run('IndexSelect', src.flat, 0, indexTensor(from), picked);
      run('InplaceIndexCopy', dst.flat, 0, indexTensor(to), contiguous(picked, out.dtype));
    },

    scatterColumns(out, indices, values) {
      const [rows, j] = indices.shape as [number, number];
      const { host } = resolveIndices('scatterColumns', indices);
      const dst = flat2d(out);
      const src = typeof values === 'number' ? undefined : flat2d(values);
      const from: number[] = [];
      const to: number[] = [];
      host.forEach((c, i) => {
        if (c < 0) return;
        to.push(dst.at(Math.floor(i / j), c));
        if (src) from.push(src.at(Math.floor(i / j), i % j));
      });
      if (to.length === 0 || rows === 0) return;
      const source = temp(out.dtype, [to.length]);
      if (typeof values === 'number') run('InplaceFillScalar', source, { scalar: values });
      else {
        const picked = temp(values.dtype, [from.length]);
        run('IndexSelect', src!.flat, 0, indexTensor(from), picked);
        run('InplaceCopy', source, picked);
      }
      run('InplaceIndexCopy', dst.flat, 0, indexTensor(to), source);
    },

    unary(out, x, op) {
      run(UNARY[op], x, out);
    },

    binary(out, a, b, op) {
      if (op === 'add' || op === 'sub') run(BINARY[op], a, b, { scalar: 1 }, out);
      else run(BINARY[op], a, b, out);
    },

    hadamard(out, x) {
      const d = x.shape[x.shape.length - 1]!;
      if (d & (d - 1)) throw new KernelArgumentError('hadamard', `last dim ${d} is not a power of two`);
      let h = hadamardMatrices.get(d);
      if (!h) {
        const values = new Float32Array(d * d);
        const norm = 1 / Math.sqrt(d);
        for (let i = 0; i < d; i++)
          for (let j = 0; j < d; j++) {
            let bits = i & j;
            let parity = 0;
            while (bits) {
              parity ^= bits & 1;
              bits >>= 1;
            }
            values[i * d + j] = parity ? -norm : norm;
          }
        h = tensorView(rt.allocate(d * d * 4, 'weights'), 'f32', [d, d]);
        rt.upload(h, new Uint8Array(values.buffer));
        hadamardMatrices.set(d, h);
      }
      const rows = numel(x.shape) / d;
      const dense = contiguous(x, 'f32');
      const x2 = tensorView(dense.buffer, 'f32', [rows, d], dense.byteOffset);
      const y = temp('f32', [rows, d]);
      run('Matmul', x2, h, y, 0);
      run('InplaceCopy', out, tensorView(y.buffer, 'f32', out.shape));
    },

    quantizeFp8(q, scale, x, options) {
      const [rows, d, bs, blocks] = fp8Blocks('quantizeFp8', x, ['q', q], scale, options.blockSize);
      const abs = temp('f32', [rows, d]);
      run('Abs', x, abs);
      for (let b = 0; b < blocks; b++) {
        const width = Math.min(bs, d - b * bs);
        const amax = temp('f32', [rows]);
        run('Amax', narrow(abs, 1, b * bs, width), { intArray: [-1] }, false, amax);
        run('Clamp', amax, { scalar: 1e-4 }, { scalar: Number.POSITIVE_INFINITY }, amax);
        const s = narrow(scale, 1, b, 1);
        const column = strided(s, [rows], [s.strides[0]!]);
        run('Divs', amax, { scalar: 448 }, column);
        if (options.scaleFormat === 'ue8m0') {
          const exponent = temp('f32', [rows]);
          run('Log2', column, exponent);
          run('Ceil', exponent, exponent);
          run('PowScalarTensor', { scalar: 2 }, exponent, column);
        }
        const scaled = temp('f32', [rows, width]);
        run('Div', narrow(x, 1, b * bs, width), s, scaled);
        run('Clamp', scaled, { scalar: -448 }, { scalar: 448 }, scaled);
        run('Cast', scaled, ACL_DTYPES.f8_e4m3, narrow(q, 1, b * bs, width));
      }
    },

    dequantizeFp8(out, q, scale, options) {
      const [rows, d, bs, blocks] = fp8Blocks('dequantizeFp8', q, ['out', out], scale, options.blockSize);
      const values = temp('f32', [rows, d]);
      run('Cast', q, ACL_DTYPES.f32, values);
      for (let b = 0; b < blocks; b++) {
        const width = Math.min(bs, d - b * bs);
        run('Mul', narrow(values, 1, b * bs, width), narrow(scale, 1, b, 1), narrow(out, 1, b * bs, width));
      }
    },

    sample(out: TensorView, logits: TensorView, rows: readonly SamplingRow[], outputs: SamplingOutputs = {}) {
      once(
        'ascend: sample downloads the logits and draws on the host (no aclnn operator implements the contract sampler)',
      );
      const { vocab, top } = checkSampleArguments(out, logits, rows, outputs);
      const values = readHost(logits) as Float32Array;
      const histories = rows.map((row) =>
        row.history ? (readHost(narrow(row.history.tokens, 0, 0, row.history.length)) as Int32Array) : null,
      );
      const result = sampleOnHost(values, vocab, rows, histories, top);
      writeHost(out, result.ids);
      if (outputs.logprobs) writeHost(outputs.logprobs, result.logprobs);
      if (outputs.topIds) writeHost(outputs.topIds, result.topIds);
      if (outputs.topLogprobs) writeHost(outputs.topLogprobs, result.topLogprobs);
    },
  };
}
