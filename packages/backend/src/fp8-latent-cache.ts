import { type BufferHandle, type TensorView, tensorView } from '@dsa/tensor';

/** NoPE values per fp8 scale block of a latent row (DeepSeek's 656-byte layout: 4 blocks of 128). */
export const FP8_LATENT_BLOCK = 128;

/**
 * The MLA latent cache of one layer in DeepSeek's fp8 row layout (FlashMLA's sparse-decode cache, vLLM's
 * default for V3.2; spec §8.6): each cache slot is one row of `rowBytes = C + 4·⌈C/128⌉ + 2·R` bytes
 * (656 for `kv_lora_rank` C = 512, `qk_rope_head_dim` R = 64):
 *
 * - bytes `[0, C)`: the NoPE part `kv_a_layernorm(c_kv)` in OCP e4m3fn, saturated at ±448;
 * - then `⌈C/128⌉` f32 scales, one per block of 128 NoPE values, powers of two (UE8M0-valued:
 *   `s = 2^⌈log2(max(amax, 1e-4) / 448)⌉`, spec §10 item 7), so `e4m3 · s` is exact in f32;
 * - then R bf16 values, the RoPE part `rope(k_pe)`, rounded to nearest even.
 *
 * A cached row reads back as `[e4m3 · scale of its block | bf16]`, the `[C | R]` of an f32 cache. The
 * four views share one buffer (their rows interleave): writers and composites use `nope`, `scales` and
 * `rope`; kernels that gather whole rows read `packed`. Build one with {@link fp8LatentCache}.
 */
export interface Fp8LatentCache {
  /** Tells this cache from an f32/bf16 `[slots, C+R]` view in a {@link LatentCache}: always `'fp8'`. */
  readonly format: 'fp8';
  /** C, the NoPE values per row (`kv_lora_rank`). */
  readonly kvLoraRank: number;
  /** R, the RoPE values per row (`qk_rope_head_dim`). */
  readonly qkRopeHeadDim: number;
  /** Bytes per row: C + 4·⌈C/128⌉ + 2·R. */
  readonly rowBytes: number;
  /** u8 [slots, rowBytes]: whole rows, for kernels that read a row at once. */
  readonly packed: TensorView;
  /** f8_e4m3 [slots, C] at byte 0 (row stride rowBytes): the quantized NoPE part. */
  readonly nope: TensorView;
  /** f32 [slots, ⌈C/128⌉] at byte C (row stride rowBytes / 4): the power-of-two block scales. */
  readonly scales: TensorView;
  /** bf16 [slots, R] at byte C + 4·⌈C/128⌉ (row stride rowBytes / 2): the RoPE part. */
  readonly rope: TensorView;
}

/**
 * Bytes of one fp8 latent row: C e4m3 values, ⌈C/128⌉ f32 scales and R bf16 values (656 for 512 + 64).
 * Throws naming the config field when the row could not hold aligned f32 scales and bf16 values:
 * `kv_lora_rank` must be a positive multiple of 4 and `qk_rope_head_dim` even.
 */
export function fp8LatentRowBytes(kvLoraRank: number, qkRopeHeadDim: number): number {
  if (!Number.isInteger(kvLoraRank) || kvLoraRank < 4 || kvLoraRank % 4 !== 0) {
    throw new RangeError(
      `the fp8 latent cache needs kv_lora_rank to be a positive multiple of 4 (its f32 scales follow the ` +
        `e4m3 bytes, 4-byte aligned), got ${kvLoraRank}; use the f32 or bf16 latent cache`,
    );
  }
  if (!Number.isInteger(qkRopeHeadDim) || qkRopeHeadDim < 0 || qkRopeHeadDim % 2 !== 0) {
    throw new RangeError(
      `the fp8 latent cache needs qk_rope_head_dim to be even (rows of bf16 values must stay 4-byte ` +
        `aligned), got ${qkRopeHeadDim}; use the f32 or bf16 latent cache`,
    );
  }
  return kvLoraRank + 4 * Math.ceil(kvLoraRank / FP8_LATENT_BLOCK) + 2 * qkRopeHeadDim;
}

/**
 * The {@link Fp8LatentCache} of `slots` rows starting at `byteOffset` in `buffer` (which must hold
 * `slots · rowBytes` bytes from there; `byteOffset` a multiple of 4). Validates C and R as
 * {@link fp8LatentRowBytes} does.
 */
export function fp8LatentCache(
  buffer: BufferHandle,
  slots: number,
  kvLoraRank: number,
  qkRopeHeadDim: number,
  byteOffset = 0,
): Fp8LatentCache {
  const rowBytes = fp8LatentRowBytes(kvLoraRank, qkRopeHeadDim);
  if (byteOffset % 4 !== 0) {
    throw new RangeError(`fp8 latent cache rows must start 4-byte aligned, got byte offset ${byteOffset}`);
  }
  const blocks = Math.ceil(kvLoraRank / FP8_LATENT_BLOCK);
  const packed = tensorView(buffer, 'u8', [slots, rowBytes], byteOffset);
  const strided = (dtype: TensorView['dtype'], width: number, offset: number, elementBytes: number) => ({
    buffer,
    byteOffset: byteOffset + offset,
    dtype,
    shape: [slots, width],
    strides: [rowBytes / elementBytes, 1],
  });
  return {
    format: 'fp8',
    kvLoraRank,
    qkRopeHeadDim,
    rowBytes,
    packed,
    nope: strided('f8_e4m3', kvLoraRank, 0, 1),
    scales: strided('f32', blocks, kvLoraRank, 4),
    rope: strided('bf16', qkRopeHeadDim, kvLoraRank + 4 * blocks, 2),
  };
}
