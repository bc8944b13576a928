import { type FusedKernels, KernelArgumentError } from '@dsa/backend';
import { narrow } from '@dsa/tensor';
import { checkBatch } from './batch-check.js';
import {
  dims,
  dtypeArg,
  expectDType,
  expectInteger,
  expectShape,
  NULL_POINTER,
  pointerArg,
} from './fused-args.js';
import type { FusedKernelHost } from './fused-host.js';
import { launchTopkRows, TOP_K_MAX_ROW } from './top-k-rows.js';

const KERNEL = 'dsa_fused_indexer_scores';
/**
 * v2 (where it applies; v1 for f32 keys and other shapes): bf16 tensor-core scores (q as two bf16
 * terms), 4 × 64 keys per CTA (kIxKeys · kIxTiles).
 */
const KERNEL_V2 = 'dsa_fused_indexer_scores2';
const KEYS_PER_CTA_V2 = 256;
/** Keys per CTA of the scores kernel (kKeys). */
const KEYS_PER_CTA = 64;
/** Workspace bytes for the f32 score rows of one chunk of queries. */
const SCORE_BUDGET_BYTES = 256 * 1024 * 1024;

/**
 * FusedKernels.indexerTopk: lightning-indexer scores (kernels/fused/indexer-scores.cu) into a workspace
 * row per query, then the radix top-k (top-k.cu) over each row's causal length.
 * `indices` i32 [S, k]; `q` [S, Hi, Di] f32; `weights` [S, Hi] f32; keys f32 or f8_e4m3 [slots, Di]
 * (+ `scales` f32 [slots]).
 */
export function indexerTopk(
  host: FusedKernelHost,
  ...[indices, q, weights, keys, batch, k]: Parameters<FusedKernels['indexerTopk']>
): void {
  const name = 'indexerTopk';
  const [s, heads, width] = dims(name, 'q', q, '[S, Hi, Di]') as [number, number, number];
  expectDType(name, 'q', q, ['f32']);
  expectDType(name, 'weights', weights, ['f32']);
  expectDType(name, 'indices', indices, ['i32']);
  expectShape(name, 'weights', weights, [s, heads]);
  expectInteger(name, 'k', k, 1, 1 << 20);
  expectShape(name, 'indices', indices, [s, k]);
  expectShape(name, 'keys.keys', keys.keys, [-1, width]);
  const slots = keys.keys.shape[0]!;
  if (keys.keys.dtype === 'f8_e4m3' && !keys.scales) {
    throw new KernelArgumentError(name, 'f8_e4m3 keys need keys.scales (f32 [slots])');
  }
  if (keys.scales) {
    expectDType(name, 'keys.scales', keys.scales, ['f32']);
    if (keys.scales.shape.length !== 1 || keys.scales.shape[0]! < slots) {
      throw new KernelArgumentError(
        name,
        `keys.scales [${keys.scales.shape.join(', ')}] do not cover ${slots} slots`,
      );
    }
  }
  checkBatch(name, batch, s, slots, true);
  if (s === 0) return;
  let longest = 0;
  for (const p of batch.host.positions) longest = Math.max(longest, p + 1);
  if (longest > TOP_K_MAX_ROW) {
    throw new KernelArgumentError(
      name,
      `a query at position ${longest - 1} exceeds the ${TOP_K_MAX_ROW} positions supported`,
    );
  }
  // Queries in chunks whose f32 score rows fit SCORE_BUDGET_BYTES of workspace.
  const rowsPerChunk = Math.max(1, Math.floor(SCORE_BUDGET_BYTES / (4 * Math.max(4, longest))));
  for (let s0 = 0; s0 < s; s0 += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, s - s0);
    let chunkLongest = 0;
    for (let i = s0; i < s0 + count; i++) chunkLongest = Math.max(chunkLongest, batch.host.positions[i]! + 1);
    const positions = pointerArg(KERNEL, 'batch.positions', narrow(batch.positions, 0, s0, count));
    const mark = host.workspace.mark();
    try {
      const stride = Math.max(4, Math.ceil(chunkLongest / 4) * 4); // 16-byte aligned rows: float4 loads in the top-k
      const scores = pointerArg(KERNEL, 'scores', host.workspace.tensor('f32', [count, stride]));
      if (chunkLongest > 0) {
        const qChunk = pointerArg(KERNEL, 'q', narrow(q, 0, s0, count));
        const keysArg = pointerArg(KERNEL, 'keys.keys', keys.keys);
        // v2 (tensor cores): heads ≤ 64, width 128, f8_e4m3 or bf16 keys, 8-byte aligned q
        const v2 =
          heads <= 64 &&
          width === 128 &&
          keys.keys.dtype !== 'f32' &&
          'ptr' in qChunk &&
          qChunk.ptr % 8n === 0n &&
          'ptr' in keysArg &&
          keysArg.ptr % 16n === 0n;
        host.launcher.launch(
          v2 ? KERNEL_V2 : KERNEL,
          [Math.ceil(chunkLongest / (v2 ? KEYS_PER_CTA_V2 : KEYS_PER_CTA)), count, 1],
          [256, 1, 1],
          [
            scores,
            { i64: BigInt(stride) },
            qChunk,
            pointerArg(KERNEL, 'weights', narrow(weights, 0, s0, count)),
            keysArg,
            dtypeArg(KERNEL, 'keys.keys', keys.keys, ['f32', 'bf16', 'f8_e4m3']),
            keys.scales ? pointerArg(KERNEL, 'keys.scales', keys.scales) : NULL_POINTER,
            positions,
            pointerArg(KERNEL, 'batch.sequenceIds', narrow(batch.sequenceIds, 0, s0, count)),
            pointerArg(KERNEL, 'batch.blockTable', batch.blockTable),
            { i32: batch.host.maxBlocks },
            { i32: batch.blockSize },
            { i32: heads },
            { i32: width },
          ],
        );
      }
      launchTopkRows(
        host,
        scores,
        stride,
        positions,
        count,
        chunkLongest,
        k,
        pointerArg(name, 'indices', narrow(indices, 0, s0, count)),
      );
    } finally {
      host.workspace.rewind(mark);
    }
  }
}
