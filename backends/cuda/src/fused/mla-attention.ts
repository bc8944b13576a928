import {
  type FusedKernels,
  isFp8LatentCache,
  KernelArgumentError,
  type LatentCache,
  latentCacheShape,
} from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { CUDA_DEFAULT_SETTINGS, type CudaSettings } from '../cuda-settings.js';
import type { LaunchArg } from '../launch.js';
import { batchArgs, checkBatch } from './batch-check.js';
import { dims, dtypeArg, expectDType, expectShape, NULL_POINTER, pointerArg } from './fused-args.js';
import type { FusedKernelHost } from './fused-host.js';

const KERNEL = 'dsa_fused_mla_attention';
/** The same f32 kernel body over DeepSeek's fp8 latent rows (656 bytes at 512 + 64). */
const FP8_KERNEL = 'dsa_fused_mla_attention_fp8';
/** Merges the chunk states of a split launch (same arithmetic and order as the unsplit kernel). */
const COMBINE_KERNEL = 'dsa_fused_mla_combine';
/** Threads of the combine kernel (kCombineThreads). */
const COMBINE_THREADS = 128;
/** Keys per chunk at least, chunks per query at most, key tile (kMinChunk, kMaxSplits, kTile). */
const MIN_CHUNK = 64;
const MAX_SPLITS = 64;
const TILE = 32;
/** Below this many (query, head group) CTAs the f32 kernel splits keys over CTAs (two waves of 132 SMs). */
const SPLIT_BELOW_CTAS = 264;
const MMA_KERNEL = 'dsa_fused_mla_attention_mma';
/** v2 tensor-core kernel: 64 heads per CTA, width 576 and 512 output columns only (kMla2* constants). */
const MMA2_KERNEL = 'dsa_fused_mla_attention_mma2';
const MMA2_HEADS = 64;
const MMA2_WIDTH = 576;
const MMA2_COLUMNS = 512;
/** kMla2SmemBytes: Q [64, 584] + 2 key tiles [32, 584] bf16 + S partials [8, 16, 32] f32. */
const MMA2_SHARED_BYTES = 64 * 584 * 2 + 2 * 32 * 584 * 2 + 8 * 16 * 32 * 4;
/** Heads per CTA (kGroup). */
const GROUP = 16;
/** Value columns the kernel holds per thread × threads (kMaxCols · kThreads). */
const MAX_COLUMNS = 512;
/** Dynamic shared memory available for q of the group (48 KiB less the kernel's statics). */
const MAX_SHARED = 48 * 1024 - 3 * 1024;

/** Chunks of a query with `count` candidate keys (mla_chunk in the kernel). */
export function mlaChunks(count: number): number {
  const even = Math.ceil(count / MAX_SPLITS);
  const chunk = Math.max(MIN_CHUNK, Math.ceil(even / TILE) * TILE);
  return Math.ceil(count / chunk);
}

/**
 * Whether the f32 kernel splits each query's keys over CTAs (flash-decoding) and merges them with the
 * combine kernel: when (query, head group) CTAs alone would not fill the GPU, and a query has more than
 * one chunk. The setting `mlaSplit` (`on`/`off`) forces it. The result bits are the same either way.
 */
function splitChunks(
  setting: CudaSettings['mlaSplit'],
  rows: number,
  groups: number,
  chunks: number,
): number {
  if (setting === 'off' || chunks <= 1) return 1;
  return setting === 'on' || rows * groups < SPLIT_BELOW_CTAS ? chunks : 1;
}

/**
 * Whether the bf16 tensor-core kernel (mla-attention-mma.cu) runs: for a bf16 cache with bf16 `q`
 * (the caller chose bf16 precision), or any `q` when the setting `mlaTensorCores` is `on` (q is rounded
 * to bf16); never when it is `off`. Needs W % 16 == 0, W ≤ 640, C % 8 == 0 and 16-byte aligned cache rows.
 */
function useMma(
  setting: CudaSettings['mlaTensorCores'],
  q: TensorView,
  cache: TensorView,
  width: number,
  columns: number,
  cacheAddress: bigint,
): boolean {
  if (setting === 'off') return false;
  if (
    cache.dtype !== 'bf16' ||
    width % 16 !== 0 ||
    width > 640 ||
    columns % 8 !== 0 ||
    cacheAddress % 16n !== 0n
  )
    return false;
  return q.dtype === 'bf16' || setting === 'on';
}

/**
 * The kernel one mlaAttention call runs, with the cache arguments it takes: `mma` the bf16 tensor-core
 * kernels (mla-attention-mma.cu: v2 with 64 heads per CTA for width 576 / 512 columns, else 16), `cores`
 * the f32 CUDA-core body of mla-attention.cu through the entry point of the cache's row format.
 */
type MlaKernel =
  | {
      readonly kind: 'mma';
      readonly kernel: string;
      /** Heads per CTA. */
      readonly heads: number;
      /** Dynamic shared memory bytes. */
      readonly shared: number;
      /** The cache pointer. */
      readonly cache: LaunchArg;
    }
  | {
      readonly kind: 'cores';
      readonly kernel: string;
      /** The cache's (pointer, format) arguments: a dtype code for f32/bf16 rows, the NoPE width for fp8 rows. */
      readonly cache: readonly LaunchArg[];
    };

/**
 * Picks the kernel by the cache's row format (the one place that does; a kernel for another format, e.g.
 * tensor cores over fp8 rows, is one more branch here): fp8 rows (`Fp8LatentCache`) go to
 * dsa_fused_mla_attention_fp8; bf16 rows to the tensor-core kernels when {@link useMma} says so; f32 and
 * bf16 rows otherwise to dsa_fused_mla_attention.
 */
function mlaKernelFor(
  settings: Pick<CudaSettings, 'mlaTensorCores'>,
  q: TensorView,
  latentCache: LatentCache,
  width: number,
  columns: number,
): MlaKernel {
  if (isFp8LatentCache(latentCache)) {
    if (columns > latentCache.kvLoraRank) {
      throw new KernelArgumentError(
        'mlaAttention',
        `out width ${columns} exceeds the fp8 cache's NoPE width ${latentCache.kvLoraRank}`,
      );
    }
    return {
      kind: 'cores',
      kernel: FP8_KERNEL,
      cache: [
        pointerArg(FP8_KERNEL, 'latentCache.packed', latentCache.packed),
        { i32: latentCache.kvLoraRank },
      ],
    };
  }
  const pointer = pointerArg(KERNEL, 'latentCache', latentCache) as { ptr: bigint };
  if (useMma(settings.mlaTensorCores, q, latentCache, width, columns, pointer.ptr)) {
    // 64 heads per CTA for the DeepSeek shape (576 wide, 512 out); 16 heads per CTA for other shapes
    const v2 = width === MMA2_WIDTH && columns === MMA2_COLUMNS;
    return {
      kind: 'mma',
      kernel: v2 ? MMA2_KERNEL : MMA_KERNEL,
      heads: v2 ? MMA2_HEADS : GROUP,
      shared: v2 ? MMA2_SHARED_BYTES : GROUP * (width + 8) * 2,
      cache: pointer,
    };
  }
  return {
    kind: 'cores',
    kernel: KERNEL,
    cache: [pointer, dtypeArg(KERNEL, 'latentCache', latentCache, ['f32', 'bf16'])],
  };
}

/**
 * FusedKernels.mlaAttention (kernels/fused/mla-attention.cu, f32 on CUDA cores, or mla-attention-mma.cu,
 * bf16 tensor cores; {@link mlaKernelFor} picks): absorbed MLA attention over the paged latent cache, sparse
 * over `indices` [S, K] i32 (entries < 0 ignored) or dense causal when null.
 * `q` [S, H, C+R] f32 or bf16; `latentCache` [slots, C+R] f32 or bf16, or an `Fp8LatentCache` (e4m3 NoPE ×
 * power-of-two block scales, bf16 RoPE, read as stored); `out` [S, H, C] f32 or bf16, C ≤ 512.
 */
export function mlaAttention(
  host: FusedKernelHost,
  ...[out, q, latentCache, batch, indices, scale]: Parameters<FusedKernels['mlaAttention']>
): void {
  const name = 'mlaAttention';
  const [s, heads, width] = dims(name, 'q', q, '[S, H, C+R]') as [number, number, number];
  const [slots, cacheWidth] = latentCacheShape(latentCache);
  if (cacheWidth !== width) {
    throw new KernelArgumentError(name, `latentCache rows hold ${cacheWidth} values, q has ${width}`);
  }
  const columns = dims(name, 'out', out, '[S, H, C]')[2]!;
  expectShape(name, 'out', out, [s, heads, columns]);
  if (columns > width)
    throw new KernelArgumentError(name, `out width ${columns} exceeds the cache width ${width}`);
  if (columns > MAX_COLUMNS)
    throw new KernelArgumentError(name, `out width ${columns} is above the ${MAX_COLUMNS} supported`);
  const shared = GROUP * width * 4;
  if (shared > MAX_SHARED)
    throw new KernelArgumentError(name, `cache width ${width} is above the ${MAX_SHARED / 64} supported`);
  if (indices) {
    expectDType(name, 'indices', indices, ['i32']);
    expectShape(name, 'indices', indices, [s, -1]);
  }
  checkBatch(name, batch, s, slots, indices === null);
  if (s === 0 || heads === 0) return;
  const settings = host.settings ?? CUDA_DEFAULT_SETTINGS;
  const choice = mlaKernelFor(settings, q, latentCache, width, columns);
  if (choice.kind === 'mma') {
    host.launcher.launch(
      choice.kernel,
      [s, Math.ceil(heads / choice.heads), 1],
      [256, 1, 1],
      [
        pointerArg(MMA_KERNEL, 'out', out),
        dtypeArg(MMA_KERNEL, 'out', out, ['f32', 'bf16']),
        pointerArg(MMA_KERNEL, 'q', q),
        dtypeArg(MMA_KERNEL, 'q', q, ['f32', 'bf16']),
        choice.cache,
        indices ? pointerArg(MMA_KERNEL, 'indices', indices) : NULL_POINTER,
        { i32: indices ? indices.shape[1]! : 0 },
        ...batchArgs(MMA_KERNEL, batch),
        { i32: heads },
        { i32: width },
        { i32: columns },
        { f32: scale },
      ],
      choice.shared,
    );
    return;
  }
  const kernel = choice.kernel;
  const groups = Math.ceil(heads / GROUP);
  const indexCount = indices ? indices.shape[1]! : 0;
  // The most candidate keys of any query: the host positions bound the dense rows.
  let maxCount = indexCount;
  if (!indices) for (let i = 0; i < s; i++) maxCount = Math.max(maxCount, batch.host.positions[i]! + 1);
  const zs = splitChunks(settings.mlaSplit, s, groups, mlaChunks(maxCount));
  const mark = host.workspace.mark();
  try {
    const part = zs > 1 ? host.workspace.tensor('f32', [s * heads * zs, columns]) : null;
    const partMl = zs > 1 ? host.workspace.tensor('f32', [s * heads * zs, 2]) : null;
    const outArgs = [pointerArg(kernel, 'out', out), dtypeArg(kernel, 'out', out, ['f32', 'bf16'])];
    host.launcher.launch(
      kernel,
      [s, groups, zs],
      [256, 1, 1],
      [
        ...outArgs,
        pointerArg(kernel, 'q', q),
        dtypeArg(kernel, 'q', q, ['f32', 'bf16']),
        ...choice.cache,
        indices ? pointerArg(kernel, 'indices', indices) : NULL_POINTER,
        { i32: indexCount },
        ...batchArgs(kernel, batch),
        { i32: heads },
        { i32: width },
        { i32: columns },
        { f32: scale },
        part ? pointerArg(kernel, 'part', part) : NULL_POINTER,
        partMl ? pointerArg(kernel, 'partMl', partMl) : NULL_POINTER,
      ],
      shared,
    );
    if (part && partMl) {
      host.launcher.launch(
        COMBINE_KERNEL,
        [s, heads, 1],
        [COMBINE_THREADS, 1, 1],
        [
          ...outArgs,
          pointerArg(COMBINE_KERNEL, 'part', part),
          pointerArg(COMBINE_KERNEL, 'partMl', partMl),
          batchArgs(COMBINE_KERNEL, batch)[0]!,
          { i32: indexCount },
          { i32: heads },
          { i32: columns },
          { i32: zs },
        ],
      );
    }
  } finally {
    host.workspace.rewind(mark);
  }
}
