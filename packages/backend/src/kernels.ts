import type { TensorView } from '@dsa/tensor';
import type { LinearWeight } from './linear-weight.js';
import type { SamplingOutputs, SamplingRow } from './sampling.js';

/** Element-wise functions of one operand. */
export type UnaryOp = 'silu' | 'relu' | 'exp' | 'sigmoid' | 'neg' | 'sqrt' | 'reciprocal';
/** Element-wise functions of two operands (numpy broadcasting through stride-0 views). */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';
/** How `rope` pairs the rotary dimensions: `(x[2i], x[2i+1])` or `(x[i], x[i + R/2])`. */
export type RopeLayout = 'interleaved' | 'half';

/**
 * The primitive kernels every backend must implement: enough to express the whole model.
 * Every kernel *enqueues* work on the backend's compute stream and returns nothing; results
 * reach the host only through `Backend.download`. Unless a kernel says otherwise, tensors are
 * f32, the last dimension is dense (stride 1), other dimensions may have any stride (0 broadcasts),
 * and `out` may alias an input only where stated.
 *
 * Shape letters: see docs/architecture/shapes.md.
 */
export interface Kernels {
  /** out[...] = value. Any dtype. */
  fill(out: TensorView, value: number): void;

  /** out = x converted to out's dtype (float ↔ float with round-to-nearest-even, int ↔ float, f8_e4m3 saturating). Shapes equal. */
  cast(out: TensorView, x: TensorView): void;

  /**
   * out[n, :] = table[indices[n], :] converted to out's dtype; rows whose index is -1 are zero.
   * `table` [V, D] any float dtype; `indices` i32 [N]; `out` [N, D].
   */
  gatherRows(out: TensorView, table: TensorView, indices: TensorView): void;

  /**
   * table[indices[n], :] = rows[n, :] converted to table's dtype; -1 skips the row.
   * `table` [V, D]; `rows` [N, D]; `indices` i32 [N] (distinct).
   */
  scatterRows(table: TensorView, rows: TensorView, indices: TensorView): void;

  /** out[indices[n], :] += weights[n] · rows[n, :] (weights omitted = 1); -1 skips. `out` [V, D], `rows` [N, D]. */
  indexAdd(out: TensorView, rows: TensorView, indices: TensorView, weights?: TensorView): void;

  /**
   * out[m, n] = Σ_k x[m, k] · W[n, k], accumulated in f32, with W dequantized from `weight`
   * (bf16/f16/f32, or f8_e4m3 × block scale). `out` [M, N], `x` [M, K].
   */
  linear(out: TensorView, x: TensorView, weight: LinearWeight): void;

  /**
   * Batched matrix product: out[b] = alpha · a[b] · op(b[b]), op = transpose when `transposeB`.
   * `a` [B, M, K]; `b` [B, K, N] or [B, N, K]; `out` [B, M, N]. `a` and `b` may be f32, bf16 or f16
   * (f32 accumulation); a batch stride of 0 broadcasts.
   */
  matmul(
    out: TensorView,
    a: TensorView,
    b: TensorView,
    options?: { transposeB?: boolean; alpha?: number },
  ): void;

  /** out = x · rsqrt(mean(x², last dim) + eps) · weight. `x`, `out` [..., D]; `weight` [D] any float dtype. `out` may alias `x`. */
  rmsNorm(out: TensorView, x: TensorView, weight: TensorView, eps: number): void;

  /** out = (x - mean) · rsqrt(var + eps) · weight + bias over the last dim (biased variance). `out` may alias `x`. */
  layerNorm(out: TensorView, x: TensorView, weight: TensorView, bias: TensorView, eps: number): void;

  /**
   * Rotates `x` [N, H, R] in place: angle of pair i at row n is `positions[n] · invFreq[i]`
   * (computed in f32), cos and sin multiplied by `scale` (YaRN attention factor, usually 1).
   * `positions` i32 [N]; `invFreq` f32 [R/2]; `x` may be a last-dim slice (row stride > R).
   */
  rope(
    x: TensorView,
    positions: TensorView,
    invFreq: TensorView,
    options: { layout: RopeLayout; scale?: number },
  ): void;

  /**
   * Softmax over the last dim, in place, of `scale · x`. -inf entries get probability 0; a row that
   * is all -inf becomes all zeros (no NaN).
   */
  softmax(x: TensorView, options?: { scale?: number }): void;

  /**
   * The k largest entries of each row of `x` [R, N]. Ties go to the lower index; -inf and NaN are
   * never selected. Results are listed in ascending index order, and rows with fewer than k
   * selectable entries are padded with index -1 (value -inf). `indices` i32 [R, k]; `values` f32 [R, k] or omitted.
   */
  topk(indices: TensorView, values: TensorView | null, x: TensorView, k: number): void;

  /** out[r] = Σ_n x[r, n]. `x` [R, N]; `out` [R]. */
  reduceSum(out: TensorView, x: TensorView): void;

  /** out[r, j] = x[r, indices[r, j]], or `fill` (default 0) where the index is -1. `x` [R, N]; `indices` i32 [R, J]. */
  gatherColumns(out: TensorView, x: TensorView, indices: TensorView, fill?: number): void;

  /** out[r, indices[r, j]] = values[r, j] (or the number `values`); -1 skips. `out` [R, N]; `indices` i32 [R, J]. */
  scatterColumns(out: TensorView, indices: TensorView, values: TensorView | number): void;

  /** out = op(x). Shapes equal; `out` may alias `x`. */
  unary(out: TensorView, x: TensorView, op: UnaryOp): void;

  /** out = op(a, b), where a and b are views already broadcast to out's shape. `out` may alias an input. */
  binary(out: TensorView, a: TensorView, b: TensorView, op: BinaryOp): void;

  /** out = H_D · x / √D over the last dim (Sylvester order, D a power of two). `out` may alias `x`. */
  hadamard(out: TensorView, x: TensorView): void;

  /**
   * DeepSeek `act_quant`: per row and per block of `blockSize` columns, amax = max(|x|, 1e-4),
   * scale = amax/448 or, for `ue8m0`, 2^ceil(log2(amax/448)); q = e4m3(clamp(x/scale, ±448)).
   * `x` [R, D] f32; `q` f8_e4m3 [R, D]; `scale` f32 [R, ceil(D/blockSize)].
   */
  quantizeFp8(
    q: TensorView,
    scale: TensorView,
    x: TensorView,
    options: { blockSize: number; scaleFormat: 'ue8m0' | 'f32' },
  ): void;

  /** out = q · scale per block of `blockSize` columns (the inverse of `quantizeFp8`). */
  dequantizeFp8(out: TensorView, q: TensorView, scale: TensorView, options: { blockSize: number }): void;

  /**
   * One token id per row of `logits` [B, V] into `out` i32 [B], with `rows[b]` settings (see
   * {@link SamplingRow}); optionally the logprobs of the chosen and the most likely tokens.
   */
  sample(out: TensorView, logits: TensorView, rows: readonly SamplingRow[], outputs?: SamplingOutputs): void;
}

/** Names of the primitive kernels, for capability listings and conformance reports. */
export type KernelName = keyof Kernels;
