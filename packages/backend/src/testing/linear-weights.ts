import type { DType } from '@dsa/tensor';
import type { Backend } from '../backend.js';
import { uploadTensor } from '../host-tensor.js';
import type { LinearWeight } from '../linear-weight.js';

/**
 * Uploads an [N, K] weight of `dtype` from `values` as a {@link LinearWeight}. An f8_e4m3 weight also
 * gets its block scales: `scales(count)` gives the `count` = ceil(N / bn) · ceil(K / bk) entries of
 * `scaleInv` [ceil(N / bn), ceil(K / bk)] f32 (called only for fp8, so seeded draws stay in order).
 */
export function uploadLinearWeight(
  backend: Backend,
  dtype: DType,
  [n, k]: readonly [number, number],
  values: ArrayLike<number>,
  scales: (count: number) => ArrayLike<number>,
  blockSize: readonly [number, number] = [128, 128],
): LinearWeight {
  const weight = uploadTensor(backend, dtype, [n, k], values);
  if (dtype !== 'f8_e4m3') return { weight };
  const blocks = [Math.ceil(n / blockSize[0]), Math.ceil(k / blockSize[1])];
  const scaleInv = uploadTensor(backend, 'f32', blocks, scales(blocks[0]! * blocks[1]!));
  return { weight, scaleInv, blockSize };
}
