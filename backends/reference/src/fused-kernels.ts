import {
  type AttentionBatch,
  FP8_LATENT_BLOCK,
  type FusedKernels,
  isFp8LatentCache,
  KernelArgumentError,
  type LatentCache,
  type LinearWeight,
  latentCacheShape,
} from '@dsa/backend';
import { dtypeBytes, type TensorView } from '@dsa/tensor';
import { dequantizeWeight } from './matmul.js';
import { expectDType, expectRank, expectShape, read, write } from './strided.js';
import { selectTopk } from './top-k.js';

/**
 * The batch as the device sees it: positions, sequence ids and block table read from the *device*
 * tensors (never `batch.host`), as a device kernel would at launch time. That is what makes these
 * kernels replayable from a captured graph whose host copies are stale.
 */
function deviceBatch(
  kernel: string,
  batch: AttentionBatch,
  queries: number,
): { positions: Float64Array; sequenceIds: Float64Array; slotOf: (s: number, t: number) => number } {
  expectShape(kernel, 'batch.positions', batch.positions, [queries]);
  expectShape(kernel, 'batch.sequenceIds', batch.sequenceIds, [queries]);
  expectRank(kernel, 'batch.blockTable', batch.blockTable, 2);
  const positions = read(batch.positions, kernel);
  const sequenceIds = read(batch.sequenceIds, kernel);
  const table = read(batch.blockTable, kernel);
  const [rows, width] = batch.blockTable.shape as [number, number];
  const bs = batch.blockSize;
  return {
    positions,
    sequenceIds,
    slotOf(s, t) {
      const sequence = sequenceIds[s]!;
      const column = Math.floor(t / bs);
      const block =
        sequence >= 0 && sequence < rows && column < width ? table[sequence * width + column]! : -1;
      if (block < 0) {
        throw new KernelArgumentError(kernel, `sequence ${sequence} has no cache block for position ${t}`);
      }
      return block * bs + (t % bs);
    },
  };
}

/** One row of a [slots, W] view as f64 (dequantized by `read`). */
function row(view: TensorView, slot: number, kernel: string): Float64Array {
  const width = view.shape[1]!;
  return read(
    {
      ...view,
      shape: [width],
      strides: [view.strides[1]!],
      byteOffset: view.byteOffset + slot * view.strides[0]! * dtypeBytes(view.dtype),
    },
    kernel,
  );
}

/**
 * One cached latent row `[C | R]` as f64: read from an f32/bf16 cache, or dequantized from an fp8 cache
 * (e4m3 × its block's scale, then the bf16 RoPE values).
 */
function latentRow(cache: LatentCache, slot: number, kernel: string): Float64Array {
  if (!isFp8LatentCache(cache)) return row(cache, slot, kernel);
  const { kvLoraRank: c, qkRopeHeadDim: r } = cache;
  const out = new Float64Array(c + r);
  const nope = row(cache.nope, slot, kernel);
  const scales = row(cache.scales, slot, kernel);
  for (let i = 0; i < c; i++) out[i] = nope[i]! * scales[Math.floor(i / FP8_LATENT_BLOCK)]!;
  out.set(row(cache.rope, slot, kernel), c);
  return out;
}

/** `FusedKernels.indexerTopk` in plain TypeScript (f64 scores, exact top-k). */
function indexerTopk(
  ...[indices, q, weights, keys, batch, k]: Parameters<FusedKernels['indexerTopk']>
): void {
  const kernel = 'indexerTopk';
  const [s, heads, width] = expectRank(kernel, 'q', q, 3) as [number, number, number];
  expectShape(kernel, 'weights', weights, [s, heads]);
  expectShape(kernel, 'indices', indices, [s, k]);
  expectDType(kernel, 'indices', indices, 'i32');
  expectShape(kernel, 'keys.keys', keys.keys, [-1, width]);
  const b = deviceBatch(kernel, batch, s);
  const qv = read(q, kernel);
  const wv = read(weights, kernel);
  const scales = keys.scales ? read(keys.scales, kernel) : null;
  const out = new Float64Array(s * k).fill(-1);
  for (let i = 0; i < s; i++) {
    const length = b.positions[i]! + 1;
    const scores = new Float64Array(length);
    for (let t = 0; t < length; t++) {
      const slot = b.slotOf(i, t);
      const key = row(keys.keys, slot, kernel);
      const scale = scales ? scales[slot]! : 1;
      let score = 0;
      for (let h = 0; h < heads; h++) {
        let dot = 0;
        for (let c = 0; c < width; c++) dot += qv[(i * heads + h) * width + c]! * key[c]! * scale;
        score += wv[i * heads + h]! * Math.max(0, dot);
      }
      scores[t] = score;
    }
    selectTopk(scores, k).forEach((t, j) => {
      out[i * k + j] = t;
    });
  }
  write(indices, out, kernel);
}

/** `FusedKernels.mlaAttention` in plain TypeScript (f64 softmax). */
function mlaAttention(
  ...[out, q, latentCache, batch, indices, scale]: Parameters<FusedKernels['mlaAttention']>
): void {
  const kernel = 'mlaAttention';
  const [s, heads, width] = expectRank(kernel, 'q', q, 3) as [number, number, number];
  const [slots, cacheWidth] = latentCacheShape(latentCache);
  if (cacheWidth !== width) {
    throw new KernelArgumentError(kernel, `latentCache rows hold ${cacheWidth} values, q has ${width}`);
  }
  expectRank(kernel, 'out', out, 3);
  const columns = out.shape[2]!;
  expectShape(kernel, 'out', out, [s, heads, columns]);
  const b = deviceBatch(kernel, batch, s);
  const qv = read(q, kernel);
  const iv = indices ? read(indices, kernel) : null;
  const kv = indices ? indices.shape[1]! : 0;
  const result = new Float64Array(s * heads * columns);
  for (let i = 0; i < s; i++) {
    const positions: number[] = [];
    if (iv) {
      for (let j = 0; j < kv; j++) if (iv[i * kv + j]! >= 0) positions.push(iv[i * kv + j]!);
    } else {
      for (let t = 0; t <= b.positions[i]!; t++) positions.push(t);
    }
    const rows = positions.map((t) => {
      const slot = b.slotOf(i, t);
      if (slot >= slots)
        throw new KernelArgumentError(kernel, `slot ${slot} is outside the cache of ${slots}`);
      return latentRow(latentCache, slot, kernel);
    });
    for (let h = 0; h < heads; h++) {
      const base = (i * heads + h) * width;
      const logits = rows.map((r) => {
        let dot = 0;
        for (let c = 0; c < width; c++) dot += qv[base + c]! * r[c]!;
        return dot * scale;
      });
      const max = Math.max(...logits);
      const p = logits.map((l) => Math.exp(l - max));
      const sum = p.reduce((a, v) => a + v, 0);
      const o = (i * heads + h) * columns;
      rows.forEach((r, j) => {
        for (let c = 0; c < columns; c++) result[o + c]! += (p[j]! / sum) * r[c]!;
      });
    }
  }
  write(out, result, kernel);
}

/** Dense f64 weights, dequantized once per weight object. */
const dense = new WeakMap<LinearWeight, Float64Array>();
function denseWeight(weight: LinearWeight, kernel: string): Float64Array {
  let w = dense.get(weight);
  if (!w) {
    w = dequantizeWeight(weight, kernel);
    dense.set(weight, w);
  }
  return w;
}

/** y [N] = W [N, K] · x [K], rounded to f32 as a workspace tensor would store it. */
function project(weight: LinearWeight, x: ArrayLike<number>, kernel: string): Float64Array {
  const [n, k] = weight.weight.shape as [number, number];
  const w = denseWeight(weight, kernel);
  const y = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let sum = 0;
    for (let c = 0; c < k; c++) sum += w[r * k + c]! * x[c]!;
    y[r] = Math.fround(sum);
  }
  return y;
}

/** `FusedKernels.moeExperts` in plain TypeScript: routing read from the device tensors at run time. */
function moeExperts(...[out, x, indices, weights, experts]: Parameters<FusedKernels['moeExperts']>): void {
  const kernel = 'moeExperts';
  expectRank(kernel, 'x', x, 2);
  const [n, d] = x.shape as [number, number];
  expectShape(kernel, 'out', out, [n, d]);
  expectRank(kernel, 'indices', indices, 2);
  const a = indices.shape[1]!;
  expectShape(kernel, 'weights', weights, [n, a]);
  const xv = read(x, kernel);
  const iv = read(indices, kernel);
  const wv = read(weights, kernel);
  const result = new Float64Array(n * d);
  for (let t = 0; t < n; t++) {
    const xt = xv.subarray(t * d, (t + 1) * d);
    for (let j = 0; j < a; j++) {
      const e = iv[t * a + j]!;
      if (e < 0) continue;
      const expert = experts[e];
      if (!expert) throw new KernelArgumentError(kernel, `router picked expert ${e} of ${experts.length}`);
      const gate = project(expert.gate, xt, kernel);
      const up = project(expert.up, xt, kernel);
      for (let i = 0; i < gate.length; i++)
        gate[i] = Math.fround((gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!);
      const y = project(expert.down, gate, kernel);
      for (let c = 0; c < d; c++) result[t * d + c]! += wv[t * a + j]! * y[c]!;
    }
  }
  write(out, result, kernel);
}

/**
 * Plain-TypeScript versions of the fused kernels a captured decode graph needs (`indexerTopk`,
 * `mlaAttention`, `moeExperts`): they read the batch and the routing from device tensors when they
 * run, never from host copies, so the reference backend can replay them from a graph. Opt-in
 * (`new ReferenceBackend({ fused: true })`): by default the model runs on the composites.
 */
export const REFERENCE_FUSED_KERNELS: Pick<FusedKernels, 'indexerTopk' | 'mlaAttention' | 'moeExperts'> = {
  indexerTopk,
  mlaAttention,
  moeExperts,
};
