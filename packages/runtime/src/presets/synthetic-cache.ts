import {
  type Backend,
  DsaError,
  type Fp8LatentCache,
  isFp8LatentCache,
  UnsupportedError,
} from '@dsa/backend';
import { narrow, type TensorView } from '@dsa/tensor';
import type { CacheSequence, PagedKvCache } from '../model/kv-cache.js';

/** A 32-bit xorshift generator (values in [-1, 1)). */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 31 - 1;
  };
}

/** `count` random values encoded as `dtype` (f32, bf16, or small finite e4m3 values for f8_e4m3). */
function randomBytes(dtype: string, count: number, seed: number): Uint8Array {
  const next = random(seed);
  switch (dtype) {
    case 'f32': {
      const values = new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = next() * 0.5;
      return new Uint8Array(values.buffer);
    }
    case 'bf16': {
      const f = new Float32Array(1);
      const bits = new Uint32Array(f.buffer);
      const values = new Uint16Array(count);
      for (let i = 0; i < count; i++) {
        f[0] = next() * 0.5;
        values[i] = bits[0]! >>> 16;
      }
      return new Uint8Array(values.buffer);
    }
    case 'f8_e4m3': {
      // Sign plus exponent ≤ 7: never NaN, magnitudes at most 1.875.
      const values = new Uint8Array(count);
      for (let i = 0; i < count; i++) values[i] = Math.floor((next() + 1) * 128) & 0xbf;
      return values;
    }
    default:
      throw new UnsupportedError(
        `fillSyntheticCache: cannot fill a ${dtype} cache tensor with synthetic values`,
      );
  }
}

/**
 * `rows` seeded rows of an fp8 latent cache's layout ([rows, rowBytes] bytes): e4m3 NoPE values of
 * magnitude at most 1.875 (never NaN) with block scales 1/4 (so values as small as the f32 cache's), and
 * bf16 RoPE values.
 */
function randomFp8LatentRows(cache: Fp8LatentCache, rows: number, seed: number): Uint8Array {
  const { kvLoraRank: c, qkRopeHeadDim: r, rowBytes } = cache;
  const blocks = cache.scales.shape[1]!;
  const nope = randomBytes('f8_e4m3', rows * c, seed);
  const rope = randomBytes('bf16', rows * r, seed + 1);
  const scales = new Uint8Array(new Float32Array(blocks).fill(0.25).buffer);
  const out = new Uint8Array(rows * rowBytes);
  for (let i = 0; i < rows; i++) {
    out.set(nope.subarray(i * c, (i + 1) * c), i * rowBytes);
    out.set(scales, i * rowBytes + c);
    out.set(rope.subarray(i * 2 * r, (i + 1) * 2 * r), i * rowBytes + c + 4 * blocks);
  }
  return out;
}

/** Distinct random blocks to cycle through (generating one per block would dominate the setup time). */
const VARIANTS = 7;

/**
 * Fills `sequences` (empty, of `cache`) to `depth` tokens without running the prefill, for decode
 * benchmarks at depth (`dsa bench --cache synthetic`): appends `depth` dummy tokens (ids below
 * `vocabSize`, so the next step's positions are right) and uploads seeded random rows into every
 * layer's latent ([slots, C+R], or fp8 rows) and indexer-key [slots, Di] (+ scales [slots]) caches. The
 * values are the same on every run; attention over them is meaningless, its cost is real.
 */
export function fillSyntheticCache(
  backend: Backend,
  cache: PagedKvCache,
  sequences: readonly CacheSequence[],
  depth: number,
  vocabSize: number,
): void {
  const rows = cache.blockSize;
  const tensors: TensorView[] = [];
  const fp8Latents: Fp8LatentCache[] = [];
  for (const latent of cache.latent) {
    if (isFp8LatentCache(latent)) fp8Latents.push(latent);
    else tensors.push(latent);
  }
  for (const keys of cache.indexerKeys) {
    tensors.push(keys.keys);
    if (keys.scales) tensors.push(keys.scales);
  }
  const patterns = new Map<string, Uint8Array[]>();
  const patternOf = (view: TensorView, variant: number): Uint8Array => {
    const width = view.shape.slice(1).reduce((a, b) => a * b, 1);
    const key = `${view.dtype}:${view.shape.length}:${width}`;
    let list = patterns.get(key);
    if (!list) {
      list = [];
      patterns.set(key, list);
    }
    if (!list[variant]) {
      const bytes = randomBytes(view.dtype, rows * width, 1 + variant * 7919 + width);
      // Indexer scales are positive.
      if (view.shape.length === 1 && view.dtype === 'f32') {
        const values = new Float32Array(bytes.buffer);
        for (let i = 0; i < values.length; i++) values[i] = 0.01 + Math.abs(values[i]!) * 0.01;
      }
      list[variant] = bytes;
    }
    return list[variant]!;
  };
  const fp8Patterns: Uint8Array[] = [];
  const fp8PatternOf = (latent: Fp8LatentCache, variant: number): Uint8Array => {
    fp8Patterns[variant] ??= randomFp8LatentRows(latent, rows, 1 + variant * 7919 + latent.rowBytes);
    return fp8Patterns[variant]!;
  };
  let counter = 0;
  for (const sequence of sequences) {
    if (sequence.length !== 0)
      throw new DsaError(
        'sequence_not_empty',
        `fillSyntheticCache: sequence ${sequence.id} already holds ${sequence.length} tokens; give empty sequences`,
      );
    cache.append(
      sequence,
      Array.from({ length: depth }, (_, i) => (i * 104729 + sequence.id * 7919 + 3) % vocabSize),
    );
    for (const block of sequence.blocks) {
      for (const view of tensors) {
        backend.upload(narrow(view, 0, block * rows, rows), patternOf(view, counter % VARIANTS));
      }
      for (const latent of fp8Latents) {
        backend.upload(
          narrow(latent.packed, 0, block * rows, rows),
          fp8PatternOf(latent, counter % VARIANTS),
        );
      }
      counter++;
    }
  }
}
