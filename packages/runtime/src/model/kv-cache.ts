import { type Backend, type DeviceBuffer, DsaError, type IndexerKeyCache } from '@dsa/backend';
import { type DType, dtypeBytes, type TensorView, tensorView } from '@dsa/tensor';
import type { ModelConfig } from '../config/model-config.js';

/** The cache has no free block for a sequence that needs one. */
export class CacheFullError extends DsaError {
  constructor(message: string) {
    super('cache_full', message);
    this.name = 'CacheFullError';
  }
}

/** One sequence's view of the paged cache: its blocks in logical order and how many tokens it holds. */
export class CacheSequence {
  /** Physical block ids, logical block i → blocks[i]. */
  readonly blocks: number[] = [];
  /** Tokens written so far (the next token goes to position `length`). */
  length = 0;
  constructor(readonly id: number) {}
}

/** Options of {@link PagedKvCache}. */
export interface PagedKvCacheOptions {
  /** Total tokens the pool holds (rounded up to whole blocks). */
  readonly tokens: number;
  /** Tokens per block (default 64, as DeepGEMM/vLLM page the indexer cache). */
  readonly blockSize?: number;
  /** Indexer key precision: `fp32` keys, or e4m3 keys with one f32 scale per token (132 B/token at Di = 128). */
  readonly indexerPrecision: 'fp32' | 'fp8';
  /** dtype of the latent cache (default f32). */
  readonly latentDtype?: DType;
}

/**
 * The MLA latent cache (`[C | R]` per token) and the lightning-indexer key cache of every layer,
 * in fixed-size blocks from one pool allocated up front. Sequences hold block lists; all layers share
 * the same block ids.
 */
export class PagedKvCache {
  readonly blockSize: number;
  readonly numBlocks: number;
  /** Per layer: [slots, C+R]. */
  readonly latent: TensorView[] = [];
  /** Per layer: the indexer keys (empty for dense models). */
  readonly indexerKeys: IndexerKeyCache[] = [];
  private readonly buffers: DeviceBuffer[] = [];
  private readonly free: number[];
  private nextId = 0;

  constructor(
    backend: Backend,
    readonly config: ModelConfig,
    options: PagedKvCacheOptions,
  ) {
    this.blockSize = options.blockSize ?? 64;
    this.numBlocks = Math.max(1, Math.ceil(options.tokens / this.blockSize));
    const slots = this.numBlocks * this.blockSize;
    const latentDtype = options.latentDtype ?? 'f32';
    const width = config.kvLoraRank + config.qkRopeHeadDim;
    const allocate = (dtype: DType, shape: number[]) => {
      const buffer = backend.allocate(shape.reduce((a, b) => a * b, 1) * dtypeBytes(dtype), 'kv-cache');
      this.buffers.push(buffer);
      return tensorView(buffer, dtype, shape);
    };
    for (let layer = 0; layer < config.nLayers; layer++) {
      this.latent.push(allocate(latentDtype, [slots, width]));
      if (config.indexer) {
        const di = config.indexer.indexHeadDim;
        this.indexerKeys.push(
          options.indexerPrecision === 'fp8'
            ? { keys: allocate('f8_e4m3', [slots, di]), scales: allocate('f32', [slots]) }
            : { keys: allocate('f32', [slots, di]) },
        );
      }
    }
    this.free = Array.from({ length: this.numBlocks }, (_, i) => this.numBlocks - 1 - i);
  }

  /** Tokens the pool can hold. */
  get capacityTokens(): number {
    return this.numBlocks * this.blockSize;
  }

  /** Blocks not held by any sequence. */
  get freeBlocks(): number {
    return this.free.length;
  }

  /** A new, empty sequence. */
  createSequence(): CacheSequence {
    return new CacheSequence(this.nextId++);
  }

  /** Makes room for `sequence` to hold `length` tokens; throws {@link CacheFullError} when the pool is exhausted. */
  reserve(sequence: CacheSequence, length: number): void {
    const needed = Math.ceil(length / this.blockSize) - sequence.blocks.length;
    if (needed > this.free.length) {
      throw new CacheFullError(
        `KV cache full: sequence ${sequence.id} needs ${needed} more blocks of ${this.blockSize} tokens for ${length} tokens, ` +
          `${this.free.length} of ${this.numBlocks} are free (capacity ${this.capacityTokens} tokens)`,
      );
    }
    for (let i = 0; i < needed; i++) sequence.blocks.push(this.free.pop()!);
  }

  /** Returns the sequence's blocks to the pool. */
  release(sequence: CacheSequence): void {
    while (sequence.blocks.length) this.free.push(sequence.blocks.pop()!);
    sequence.length = 0;
  }

  /** Pool slot of logical position `position` of `sequence`. */
  slot(sequence: CacheSequence, position: number): number {
    return (
      sequence.blocks[Math.floor(position / this.blockSize)]! * this.blockSize + (position % this.blockSize)
    );
  }

  /** Frees the pool. */
  dispose(): void {
    for (const b of this.buffers) b.dispose();
    this.buffers.length = 0;
  }
}
