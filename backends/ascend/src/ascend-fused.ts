import {
  type AttentionBatch,
  FP8_LATENT_BLOCK,
  type FusedKernels,
  isFp8LatentCache,
  KernelArgumentError,
  type Kernels,
  type LatentCache,
  latentCacheShape,
} from '@dsa/backend';
import { isContiguous, narrow, type TensorView } from '@dsa/tensor';
import type { AclRuntime } from './acl-runtime.js';
import { ACL_DTYPES } from './dtype-codes.js';

/** The operators' batch description of an AttentionBatch: runs of consecutive positions of one sequence (TND). */
function operatorBatch(batch: AttentionBatch, s: number) {
  const { positions, sequenceIds, blockTable, maxBlocks } = batch.host;
  const runEnds: number[] = [];
  const keyLengths: number[] = [];
  const tableRows: number[] = [];
  for (let i = 0; i < s; i++) {
    const last =
      i === s - 1 || sequenceIds[i + 1] !== sequenceIds[i] || positions[i + 1] !== positions[i]! + 1;
    if (!last) continue;
    runEnds.push(i + 1);
    keyLengths.push(positions[i]! + 1);
    const row = sequenceIds[i]!;
    for (let b = 0; b < maxBlocks; b++) tableRows.push(blockTable[row * maxBlocks + b]!);
  }
  return { runEnds, keyLengths, tableRows, maxBlocks };
}

/** Largest `sparseCount` aclnnLightningIndexer accepts in its original custom-op form. */
export const LIGHTNING_INDEXER_MAX_K = 2048;

/**
 * The fused kernels backed by Huawei's DSA operators (opt-in, `settings.fusedOperators`):
 * `indexerTopk` through `aclnnLightningIndexer` and `mlaAttention` through
 * `aclnnSparseFlashAttention` (TND queries, PA_BSND caches with a block table, sparse_mode 3). The
 * operators take BF16/FP16 tensors, so q and the caches are cast to bf16 copies (fp8 keys are
 * dequantized with their per-token scale first, an fp8 latent cache by `kernels` into the same bf16
 * copy, exactly: e4m3 × a power of two fits bf16) and attention comes back in bf16: results differ
 * from the f32 composites (top-k near ties, attention by bf16 rounding), so this path is opt-in.
 */
export function createAscendFused(
  rt: AclRuntime,
  kernels: Kernels,
  log: (line: string) => void,
): Partial<FusedKernels> {
  let noted = false;
  let notedAttention = false;
  const upload = (values: Int32Array): TensorView => {
    const view = rt.temp('i32', [values.length]);
    rt.upload(view, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return view;
  };
  /** The latent rows as a bf16 [slots, C+R] copy (fp8 rows dequantized by the primitive kernels). */
  const bf16Cache = (latentCache: LatentCache, slots: number, full: number): TensorView => {
    const cache = rt.temp('bf16', [slots, full]);
    if (!isFp8LatentCache(latentCache)) {
      rt.run('Cast', [latentCache, ACL_DTYPES.bf16, cache]);
      return cache;
    }
    const { kvLoraRank: c, qkRopeHeadDim: r } = latentCache;
    const rows = rt.temp('f32', [slots, full]);
    kernels.dequantizeFp8(narrow(rows, 1, 0, c), latentCache.nope, latentCache.scales, {
      blockSize: FP8_LATENT_BLOCK,
    });
    kernels.cast(narrow(rows, 1, c, r), latentCache.rope);
    rt.run('Cast', [rows, ACL_DTYPES.bf16, cache]);
    return cache;
  };
  return {
    indexerTopk(indices, q, weights, keys, batch, k) {
      const kernel = 'indexerTopk';
      const [s, heads, width] = q.shape as [number, number, number];
      if (k < 1 || k > LIGHTNING_INDEXER_MAX_K)
        throw new KernelArgumentError(
          kernel,
          `k = ${k}: aclnnLightningIndexer takes sparseCount 1..${LIGHTNING_INDEXER_MAX_K}`,
        );
      const slots = keys.keys.shape[0]!;
      const bs = batch.blockSize;
      if (slots % bs !== 0)
        throw new KernelArgumentError(kernel, `${slots} cache slots are not whole blocks of ${bs}`);
      if (!noted) {
        noted = true;
        log(
          'ascend: indexerTopk runs aclnnLightningIndexer on bf16 copies of q and keys; indices are reordered ascending on the host',
        );
      }
      // Runs of consecutive positions of one sequence become the operator's batch entries (TND).
      const { runEnds, keyLengths, tableRows, maxBlocks } = operatorBatch(batch, s);
      const query = rt.temp('bf16', [s, heads, width]);
      rt.run('Cast', [q, ACL_DTYPES.bf16, query]);
      const keyCopy = rt.temp('bf16', [slots, width]);
      if (keys.scales) {
        const dequantized = rt.temp('f32', [slots, width]);
        rt.run('Cast', [keys.keys, ACL_DTYPES.f32, dequantized]);
        const scale: TensorView = {
          ...keys.scales,
          shape: [slots, 1],
          strides: [keys.scales.strides[0]!, 0],
        };
        rt.run('Mul', [dequantized, scale, dequantized]);
        rt.run('Cast', [dequantized, ACL_DTYPES.bf16, keyCopy]);
      } else {
        rt.run('Cast', [keys.keys, ACL_DTYPES.bf16, keyCopy]);
      }
      const pagedKey: TensorView = {
        ...keyCopy,
        shape: [slots / bs, bs, 1, width],
        strides: [bs * width, width, width, 1],
      };
      const out = rt.temp('i32', [s, 1, k]);
      rt.run('LightningIndexer', [
        query,
        pagedKey,
        weights,
        upload(Int32Array.from(runEnds)),
        upload(Int32Array.from(keyLengths)),
        {
          ...upload(Int32Array.from(tableRows)),
          shape: [runEnds.length, maxBlocks],
          strides: [maxBlocks, 1],
        },
        'TND',
        'PA_BSND',
        k,
        3,
        out,
      ]);
      // The operator lists the best positions first; the contract wants them ascending, -1 last.
      const host = new Int32Array(s * k);
      rt.readNow(out, new Uint8Array(host.buffer));
      for (let row = 0; row < s; row++) {
        const picked = Array.from(host.subarray(row * k, (row + 1) * k)).filter((v) => v >= 0);
        picked.sort((a, b) => a - b);
        host.fill(-1, row * k, (row + 1) * k);
        host.set(picked, row * k);
      }
      if (isContiguous(indices)) rt.upload(indices, new Uint8Array(host.buffer));
      else rt.run('InplaceCopy', [indices, { ...upload(host), shape: [s, k], strides: [k, 1] }]);
    },

    mlaAttention(out, q, latentCache, batch, indices, scale) {
      const [s, heads, full] = q.shape as [number, number, number];
      const c = out.shape[2]!;
      const r = full - c;
      const slots = latentCacheShape(latentCache)[0];
      const bs = batch.blockSize;
      if (slots % bs !== 0)
        throw new KernelArgumentError('mlaAttention', `${slots} cache slots are not whole blocks of ${bs}`);
      if (!notedAttention) {
        notedAttention = true;
        log(
          'ascend: mlaAttention runs aclnnSparseFlashAttention on bf16 copies; index lists are compacted on the host',
        );
      }
      const { runEnds, keyLengths, tableRows, maxBlocks } = operatorBatch(batch, s);
      // Index lists: valid positions first, -1 after (the operator stops at the first -1).
      const positions = batch.host.positions;
      const width = indices ? indices.shape[1]! : Math.max(...positions) + 1;
      let raw: Int32Array | null = null;
      if (indices) {
        const dense = isContiguous(indices) ? indices : rt.temp('i32', indices.shape);
        if (dense !== indices) rt.run('InplaceCopy', [dense, indices]);
        raw = new Int32Array(s * width);
        rt.readNow(dense, new Uint8Array(raw.buffer));
      }
      const lists = new Int32Array(s * width).fill(-1);
      for (let row = 0; row < s; row++) {
        const picked = raw
          ? Array.from(raw.subarray(row * width, (row + 1) * width)).filter((v) => v >= 0)
          : Array.from({ length: positions[row]! + 1 }, (_, t) => t);
        lists.set(picked, row * width);
      }
      const queryLatent = rt.temp('bf16', [s, heads, c]);
      rt.run('Cast', [narrow(q, 2, 0, c), ACL_DTYPES.bf16, queryLatent]);
      const queryRope = rt.temp('bf16', [s, heads, r]);
      rt.run('Cast', [narrow(q, 2, c, r), ACL_DTYPES.bf16, queryRope]);
      const cache = bf16Cache(latentCache, slots, full);
      const paged = (offset: number, size: number): TensorView => ({
        ...cache,
        byteOffset: cache.byteOffset + offset * 2,
        shape: [slots / bs, bs, 1, size],
        strides: [bs * full, full, full, 1],
      });
      const key = paged(0, c);
      const result = rt.temp('bf16', [s, heads, c]);
      rt.run('SparseFlashAttention', [
        queryLatent,
        key,
        key,
        { ...upload(lists), shape: [s, 1, width], strides: [width, width, 1] },
        {
          ...upload(Int32Array.from(tableRows)),
          shape: [runEnds.length, maxBlocks],
          strides: [maxBlocks, 1],
        },
        upload(Int32Array.from(runEnds)),
        upload(Int32Array.from(keyLengths)),
        queryRope,
        paged(c, r),
        scale,
        1,
        'TND',
        'PA_BSND',
        3,
        result,
      ]);
      rt.run('Cast', [result, ACL_DTYPES[out.dtype], out]);
    },
  };
}
