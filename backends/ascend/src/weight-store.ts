import { KernelArgumentError, type LinearWeight } from '@dsa/backend';
import { numel, type TensorView, tensorView } from '@dsa/tensor';
import type { AclRuntime } from './acl-runtime.js';
import type { AscendBuffer } from './ascend-buffer.js';
import { ACL_DTYPES } from './dtype-codes.js';

/**
 * How linear layers compute (`settings.precision`): `'bf16'` casts activations to bf16 and runs
 * the bf16 cube units on weights stored in bf16 (fp8 checkpoints dequantized to bf16 once, cached);
 * `'exact'` keeps f32 activations and upcasts each weight (bf16 cast, or fp8 dequantized with its
 * block scale) to f32 per call in a reused scratch buffer, so nothing beyond the checkpoint stays resident.
 */
export type AscendPrecision = 'exact' | 'bf16';

/** Device weights as the backend reads them. */
export interface WeightStore {
  /** The weight [N, K] as stored: f32, bf16 and f16 as is; f8_e4m3 dequantized to bf16 once, cached. */
  stored(kernel: string, weight: LinearWeight): TensorView;
  /**
   * The weight [N, K] in `dtype`: for `'bf16'` the stored view (cast when it is f32/f16); for `'f32'`
   * the f32 weight itself or an f32 copy (bf16 cast, fp8 dequantized exactly) written into `target`
   * (default: the runtime's `'weight'` scratch slot, reused by the next call).
   */
  as(kernel: string, weight: LinearWeight, dtype: 'f32' | 'bf16', target?: TensorView): TensorView;
}

/**
 * The weight store of a backend. Atlas A2/A3 have no fp8 matmul: an f8_e4m3 weight with its block
 * scale is dequantized on the device (`Cast`, the scale expanded by two `IndexSelect`s, `Mul`):
 * to a cached bf16 copy for the bf16 path, or per call to f32 scratch for the exact path.
 */
export function createWeightStore(rt: AclRuntime, log: (line: string) => void): WeightStore {
  const notes = new Set<string>();
  const once = (line: string) => {
    if (notes.has(line)) return;
    notes.add(line);
    log(line);
  };
  // Block number of each row / column (i32 [length]), kept for the life of the backend.
  const blockIndex = new Map<string, TensorView>();
  const blocksOf = (length: number, block: number): TensorView => {
    const key = `${length}/${block}`;
    let view = blockIndex.get(key);
    if (!view) {
      view = tensorView(rt.allocate(length * 4, 'weights'), 'i32', [length]);
      const values = Int32Array.from({ length }, (_, i) => Math.floor(i / block));
      rt.upload(view, new Uint8Array(values.buffer));
      blockIndex.set(key, view);
    }
    return view;
  };
  /** W = fp8 · block scale, exactly, into the f32 view `out` [N, K]. */
  const dequantize = (kernel: string, weight: LinearWeight, out: TensorView): void => {
    const w = weight.weight;
    const scale = weight.scaleInv;
    if (!scale) throw new KernelArgumentError(kernel, 'f8_e4m3 weight without scaleInv');
    const [bn, bk] = weight.blockSize ?? [128, 128];
    const [n, k] = w.shape as [number, number];
    const byRow = rt.temp('f32', [n, scale.shape[1]!]);
    rt.run('IndexSelect', [scale, 0, blocksOf(n, bn), byRow]);
    const full = rt.scratch('weight-scale', 'f32', [n, k]);
    rt.run('IndexSelect', [byRow, 1, blocksOf(k, bk), full]);
    rt.run('Cast', [w, ACL_DTYPES.f32, out]);
    rt.run('Mul', [out, full, out]);
  };
  const stored = (kernel: string, weight: LinearWeight): TensorView => {
    const w = weight.weight;
    if (w.dtype === 'f32' || w.dtype === 'bf16' || w.dtype === 'f16') return w;
    if (w.dtype !== 'f8_e4m3')
      throw new KernelArgumentError(kernel, `weight is ${w.dtype}, expected f32, bf16, f16 or f8_e4m3`);
    const buffer = w.buffer as AscendBuffer;
    const key = `bf16|${w.shape}|${w.strides}|${w.byteOffset}|${weight.scaleInv?.byteOffset}`;
    const cached = buffer.usage === 'weights' ? buffer.derived.get(key) : undefined;
    if (cached) return tensorView(cached, 'bf16', w.shape);
    once(
      'ascend: f8_e4m3 weights are dequantized to bf16 on the device at first use and cached (Atlas A2/A3 have no fp8 matmul; +2 bytes/weight)',
    );
    const target = buffer.usage === 'weights' ? rt.allocate(numel(w.shape) * 2, 'weights') : undefined;
    const out = target ? tensorView(target, 'bf16', w.shape) : rt.temp('bf16', w.shape);
    const values = rt.scratch('weight', 'f32', w.shape);
    dequantize(kernel, weight, values);
    rt.run('Cast', [values, ACL_DTYPES.bf16, out]);
    if (target) buffer.derived.set(key, target);
    return out;
  };
  return {
    stored,
    as(kernel, weight, dtype, target) {
      const w = weight.weight;
      if (dtype === 'bf16') {
        const s = stored(kernel, weight);
        if (s.dtype === 'bf16') return s;
        const copy = target ?? rt.scratch('weight', 'bf16', w.shape);
        rt.run('Cast', [s, ACL_DTYPES.bf16, copy]);
        return copy;
      }
      if (w.dtype === 'f32' && !target) return w;
      const copy = target ?? rt.scratch('weight', 'f32', w.shape);
      if (w.dtype === 'f8_e4m3') {
        once('ascend: exact precision dequantizes f8_e4m3 weights to f32 scratch per call (nothing cached)');
        dequantize(kernel, weight, copy);
      } else if (w.dtype === 'f32') rt.run('InplaceCopy', [copy, w]);
      else rt.run('Cast', [w, ACL_DTYPES.f32, copy]);
      return copy;
    },
  };
}
