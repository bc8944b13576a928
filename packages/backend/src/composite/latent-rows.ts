import { narrow, type TensorView } from '@dsa/tensor';
import { KernelArgumentError } from '../errors/kernel-argument-error.js';
import { FP8_LATENT_BLOCK } from '../fp8-latent-cache.js';
import { isFp8LatentCache, type LatentCache, latentCacheShape } from '../latent-cache.js';
import type { CompositeHost, Scratch } from './composite-host.js';

/** Throws unless `rows` is [N, C+R] for `cache` and `slots` i32 [N]. */
function expectRows(kernel: string, cache: LatentCache, rows: TensorView, slots: TensorView): void {
  const width = latentCacheShape(cache)[1];
  if (rows.shape.length !== 2 || rows.shape[1] !== width) {
    throw new KernelArgumentError(
      kernel,
      `rows have shape [${rows.shape.join(', ')}], expected [N, ${width}]`,
    );
  }
  if (slots.dtype !== 'i32' || slots.shape.length !== 1 || slots.shape[0] !== rows.shape[0]) {
    throw new KernelArgumentError(
      kernel,
      `slots are ${slots.dtype} [${slots.shape.join(', ')}], expected i32 [${rows.shape[0]}]`,
    );
  }
}

/**
 * Writes latent rows `rows` f32 [N, C+R] (`[kv_a_layernorm(c_kv) | rope(k_pe)]`) into `cache` at the
 * slots `slots` i32 [N] (-1 skips a row). An f32 or bf16 cache stores the values (`scatterRows`
 * converts). An fp8 cache is quantized on write, in primitives every backend has: `quantizeFp8` of the
 * NoPE part (blocks of 128, UE8M0 scales, saturating e4m3) into scratch, then `scatterRows` of the e4m3
 * values, their scales and the RoPE part (stored as bf16, round to nearest even) into its strided views.
 */
export function scatterLatentRows(
  backend: Pick<CompositeHost, 'kernels'>,
  workspace: Scratch,
  cache: LatentCache,
  rows: TensorView,
  slots: TensorView,
): void {
  const k = backend.kernels;
  if (!isFp8LatentCache(cache)) {
    k.scatterRows(cache, rows, slots);
    return;
  }
  expectRows('scatterLatentRows', cache, rows, slots);
  const { kvLoraRank: c, qkRopeHeadDim: r } = cache;
  const n = rows.shape[0]!;
  const mark = workspace.mark();
  // nope [N, C] e4m3 and scale [N, ⌈C/128⌉] f32 = act_quant(c_kv) with UE8M0 scales
  const nope = workspace.tensor('f8_e4m3', [n, c]);
  const scale = workspace.tensor('f32', [n, cache.scales.shape[1]!]);
  k.quantizeFp8(nope, scale, narrow(rows, 1, 0, c), { blockSize: FP8_LATENT_BLOCK, scaleFormat: 'ue8m0' });
  k.scatterRows(cache.nope, nope, slots);
  k.scatterRows(cache.scales, scale, slots);
  // rope [N, R] f32 → bf16
  k.scatterRows(cache.rope, narrow(rows, 1, c, r), slots);
  workspace.rewind(mark);
}

/**
 * The cached rows of `cache` at the slots `slots` i32 [N] (-1 gives a zero row) as f32 [N, C+R] in the
 * workspace: gathered and converted from an f32 or bf16 cache, or dequantized from an fp8 cache (only the
 * rows read: e4m3 × the block's scale for the NoPE part, bf16 → f32 for the RoPE part).
 */
export function gatherLatentRows(
  backend: Pick<CompositeHost, 'kernels'>,
  workspace: Scratch,
  cache: LatentCache,
  slots: TensorView,
): TensorView {
  const k = backend.kernels;
  const n = slots.shape[0]!;
  const rows = workspace.tensor('f32', [n, latentCacheShape(cache)[1]]);
  if (!isFp8LatentCache(cache)) {
    k.gatherRows(rows, cache, slots);
    return rows;
  }
  const { kvLoraRank: c, qkRopeHeadDim: r } = cache;
  const mark = workspace.mark();
  // nope [N, C] e4m3 and scale [N, ⌈C/128⌉] f32 of the rows read, then rows[:, :C] = nope · scale
  const nope = workspace.tensor('f8_e4m3', [n, c]);
  const scale = workspace.tensor('f32', [n, cache.scales.shape[1]!]);
  k.gatherRows(nope, cache.nope, slots);
  k.gatherRows(scale, cache.scales, slots);
  k.dequantizeFp8(narrow(rows, 1, 0, c), nope, scale, { blockSize: FP8_LATENT_BLOCK });
  // rows[:, C:] = rope [N, R] bf16 → f32
  k.gatherRows(narrow(rows, 1, c, r), cache.rope, slots);
  workspace.rewind(mark);
  return rows;
}
