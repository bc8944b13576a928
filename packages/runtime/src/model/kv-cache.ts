import { createHash } from 'node:crypto';
import {
  type Backend,
  type DeviceBuffer,
  DsaError,
  fp8LatentCache,
  type IndexerKeyCache,
  type LatentCache,
} from '@dsa/backend';
import { type DType, dtypeBytes, tensorView } from '@dsa/tensor';
import type { ModelConfig } from '../config/model-config.js';
import { type LatentCacheFormat, latentRowBytes } from './latent-cache-format.js';

/** The cache has no free block for a sequence that needs one. */
export class CacheFullError extends DsaError {
  constructor(message: string) {
    super('cache_full', message);
    this.name = 'CacheFullError';
  }
}

/**
 * One sequence's view of the paged cache: its blocks in logical order and the tokens it holds. It is
 * read-only: the {@link PagedKvCache} that created it is its only writer ({@link PagedKvCache.append},
 * {@link PagedKvCache.attachPrefix}, {@link PagedKvCache.commitBlocks}, {@link PagedKvCache.release}).
 */
export interface CacheSequence {
  /** Unique id of the sequence within its cache. */
  readonly id: number;
  /** Physical block ids, logical block i → blocks[i]. */
  readonly blocks: readonly number[];
  /** Tokens written so far (the next token goes to position `length`). */
  readonly length: number;
  /** The token ids at positions 0 .. length-1 (what the cached rows were computed from). */
  readonly tokens: readonly number[];
  /** Content hash of each full block this sequence has committed, by logical block. */
  readonly blockHashes: readonly string[];
}

/** The cache's writable record behind a {@link CacheSequence}. */
interface SequenceState {
  readonly id: number;
  readonly blocks: number[];
  length: number;
  readonly tokens: number[];
  readonly blockHashes: string[];
}

/** Counters of the prefix cache. */
export interface PrefixCacheStats {
  /** Prompt tokens looked up. */
  readonly queriedTokens: number;
  /** Prompt tokens found cached (their prefill was skipped). */
  readonly hitTokens: number;
  /** Cached blocks evicted to make room. */
  readonly evictions: number;
}

interface BlockState {
  refs: number;
  hash: string | null;
}

/** Options of {@link PagedKvCache}. */
export interface PagedKvCacheOptions {
  /** Total tokens the pool holds (rounded up to whole blocks). */
  readonly tokens: number;
  /** Tokens per block (default 64, as DeepGEMM/vLLM page the indexer cache). */
  readonly blockSize?: number;
  /** Indexer key precision: `fp32` keys, or e4m3 keys with one f32 scale per token (132 B/token at Di = 128). */
  readonly indexerPrecision: 'fp32' | 'fp8';
  /** How the latent cache stores each row: `f32` (default), `bf16` or DeepSeek's `fp8` layout. */
  readonly latentCache?: LatentCacheFormat;
}

/**
 * The MLA latent cache (`[C | R]` per token) and the lightning-indexer key cache of every layer,
 * in fixed-size blocks from one pool allocated up front. Sequences hold block lists; all layers share
 * the same block ids.
 */
export class PagedKvCache {
  /** Tokens per cache block. */
  readonly blockSize: number;
  /** Blocks in the pool. */
  readonly numBlocks: number;
  /**
   * Per layer: the latent rows of every slot (the pool's blocks and the scratch block), a [slots, C+R]
   * f32 or bf16 view, or an `Fp8LatentCache` (see {@link PagedKvCache.latentFormat}).
   */
  readonly latent: LatentCache[] = [];
  /** How {@link PagedKvCache.latent} stores each row. */
  readonly latentFormat: LatentCacheFormat;
  /** Bytes of one token's latent row in one layer (656 for fp8 at C = 512, R = 64). */
  readonly latentRowBytes: number;
  /** Per layer: the indexer keys (empty for dense models). */
  readonly indexerKeys: IndexerKeyCache[] = [];
  private readonly buffers: DeviceBuffer[] = [];
  private readonly free: number[];
  private readonly state: BlockState[];
  /** hash → block, for blocks whose content is complete and shareable. */
  private readonly byHash = new Map<string, number>();
  /** Unreferenced cached blocks, least recently used first (Map keeps insertion order). */
  private readonly evictable = new Map<number, true>();
  /** The sequences this cache created (and so may write). */
  private readonly sequences = new WeakSet<CacheSequence>();
  private nextId = 0;
  private counters = { queriedTokens: 0, hitTokens: 0, evictions: 0 };

  constructor(
    backend: Backend,
    /** The model config the cache is sized for. */
    readonly config: ModelConfig,
    options: PagedKvCacheOptions,
  ) {
    this.blockSize = options.blockSize ?? 64;
    this.numBlocks = Math.max(1, Math.ceil(options.tokens / this.blockSize));
    const slots = (this.numBlocks + 1) * this.blockSize; // + the scratch block
    this.latentFormat = options.latentCache ?? 'f32';
    const { kvLoraRank: c, qkRopeHeadDim: r } = config;
    this.latentRowBytes = latentRowBytes(this.latentFormat, c, r);
    const allocate = (dtype: DType, shape: number[]) => {
      const buffer = backend.allocate(shape.reduce((a, b) => a * b, 1) * dtypeBytes(dtype), 'kv-cache');
      this.buffers.push(buffer);
      return tensorView(buffer, dtype, shape);
    };
    for (let layer = 0; layer < config.nLayers; layer++) {
      if (this.latentFormat === 'fp8') {
        // [slots, C + 4·⌈C/128⌉ + 2·R] bytes: e4m3 NoPE | f32 block scales | bf16 RoPE
        this.latent.push(fp8LatentCache(allocate('u8', [slots, this.latentRowBytes]).buffer, slots, c, r));
      } else {
        this.latent.push(allocate(this.latentFormat, [slots, c + r]));
      }
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
    this.state = Array.from({ length: this.numBlocks }, () => ({ refs: 0, hash: null }));
  }

  /** Tokens the pool can hold. */
  get capacityTokens(): number {
    return this.numBlocks * this.blockSize;
  }

  /** Bytes of the pool's buffers: the latent and indexer caches of every layer, scratch block included. */
  get byteLength(): number {
    return this.buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  }

  /** Blocks not held by any sequence (empty, or cached and evictable). */
  get freeBlocks(): number {
    return this.free.length + this.evictable.size;
  }

  /** Blocks held by sequences. */
  get usedBlocks(): number {
    return this.numBlocks - this.freeBlocks;
  }

  /**
   * One block past the pool (id `numBlocks`) that no sequence ever holds: the padding rows of a
   * captured decode step read and write it. It is not counted in the pool's capacity.
   */
  get scratchBlock(): number {
    return this.numBlocks;
  }

  /** Prefix-cache counters. */
  get prefixStats(): PrefixCacheStats {
    return { ...this.counters };
  }

  /**
   * Chained content hashes of the full blocks of `tokens` that prefix sharing may reuse: all full
   * blocks but one token, since a forward step needs at least one query. Compute once per prompt.
   */
  prefixHashes(tokens: ArrayLike<number>): string[] {
    const hashes: string[] = [];
    const full = Math.floor((tokens.length - 1) / this.blockSize);
    for (let b = 0; b < full; b++)
      hashes.push(blockHash(hashes[b - 1] ?? '', tokens, b * this.blockSize, this.blockSize));
    return hashes;
  }

  /**
   * The longest run of cached blocks matching `hashes` (from {@link PagedKvCache.prefixHashes}).
   * Does not attach them; see {@link PagedKvCache.attachPrefix}.
   */
  matchPrefix(hashes: readonly string[]): {
    /** Physical ids of the matching cached blocks, in logical order. */
    blocks: number[];
    /** Content hash of each matching block. */
    hashes: string[];
    /** How many of them are unreferenced (would leave the evictable pool if attached). */
    evictable: number;
  } {
    const blocks: number[] = [];
    let evictable = 0;
    for (const hash of hashes) {
      const block = this.byHash.get(hash);
      if (block === undefined) break;
      blocks.push(block);
      if (this.evictable.has(block)) evictable++;
    }
    return { blocks, hashes: hashes.slice(0, blocks.length), evictable };
  }

  /**
   * Starts `sequence` (empty) on the cached blocks of its prompt's longest cached prefix; returns how
   * many prompt tokens are already in the cache. Counts the lookup in {@link PagedKvCache.prefixStats}.
   */
  attachPrefix(
    cacheSequence: CacheSequence,
    prompt: ArrayLike<number>,
    hashes: readonly string[] = this.prefixHashes(prompt),
  ): number {
    const sequence = this.own(cacheSequence);
    if (sequence.length !== 0) throw new Error(`attachPrefix: sequence ${sequence.id} is not empty`);
    const match = this.matchPrefix(hashes);
    for (const block of match.blocks) {
      this.state[block]!.refs++;
      this.evictable.delete(block);
      sequence.blocks.push(block);
    }
    const cached = match.blocks.length * this.blockSize;
    sequence.blockHashes.push(...match.hashes);
    for (let i = 0; i < cached; i++) sequence.tokens.push(prompt[i]!);
    sequence.length = cached;
    this.counters.queriedTokens += prompt.length;
    this.counters.hitTokens += cached;
    return cached;
  }

  /**
   * Registers the sequence's newly completed blocks under their content hash so later sequences
   * with the same prefix can share them. Call after the step that wrote them.
   */
  commitBlocks(cacheSequence: CacheSequence): void {
    const sequence = this.own(cacheSequence);
    const full = Math.floor(sequence.length / this.blockSize);
    for (let b = sequence.blockHashes.length; b < full; b++) {
      const hash = blockHash(
        sequence.blockHashes[b - 1] ?? '',
        sequence.tokens,
        b * this.blockSize,
        this.blockSize,
      );
      sequence.blockHashes.push(hash);
      const block = sequence.blocks[b]!;
      if (!this.byHash.has(hash) && this.state[block]!.hash === null) {
        this.state[block]!.hash = hash;
        this.byHash.set(hash, block);
      }
    }
  }

  /** A new, empty sequence. */
  createSequence(): CacheSequence {
    const sequence: SequenceState = { id: this.nextId++, blocks: [], length: 0, tokens: [], blockHashes: [] };
    this.sequences.add(sequence);
    return sequence;
  }

  /** The writable record of `sequence`; throws when another cache created it. */
  private own(sequence: CacheSequence): SequenceState {
    if (!this.sequences.has(sequence)) {
      throw new Error(`sequence ${sequence.id} does not belong to this cache`);
    }
    return sequence as SequenceState;
  }

  /**
   * Appends `tokens` to `sequence`: reserves the blocks they need (see {@link PagedKvCache.reserve}),
   * records their ids and advances its length. Returns the position of the first appended token. The
   * step that appends them must write their rows at {@link PagedKvCache.slot} of those positions.
   */
  append(cacheSequence: CacheSequence, tokens: ArrayLike<number>): number {
    const sequence = this.own(cacheSequence);
    const start = sequence.length;
    this.reserve(sequence, start + tokens.length);
    for (let i = 0; i < tokens.length; i++) sequence.tokens.push(tokens[i]!);
    sequence.length = start + tokens.length;
    return start;
  }

  /**
   * Makes room for `sequence` to hold `length` tokens, taking empty blocks first and then evicting
   * the least recently used cached ones; throws {@link CacheFullError} when the pool is exhausted.
   */
  reserve(cacheSequence: CacheSequence, length: number): void {
    const sequence = this.own(cacheSequence);
    const needed = Math.ceil(length / this.blockSize) - sequence.blocks.length;
    if (needed > this.freeBlocks) {
      throw new CacheFullError(
        `KV cache full: sequence ${sequence.id} needs ${needed} more blocks of ${this.blockSize} tokens for ${length} tokens, ` +
          `${this.freeBlocks} of ${this.numBlocks} are free (capacity ${this.capacityTokens} tokens)`,
      );
    }
    for (let i = 0; i < needed; i++) sequence.blocks.push(this.takeBlock());
  }

  /** Drops the sequence's hold on its blocks: cached ones stay reusable (LRU), the others are freed. */
  release(cacheSequence: CacheSequence): void {
    const sequence = this.own(cacheSequence);
    for (const block of sequence.blocks) {
      const state = this.state[block]!;
      state.refs = Math.max(0, state.refs - 1);
      if (state.refs > 0) continue;
      if (state.hash !== null) this.evictable.set(block, true);
      else this.free.push(block);
    }
    sequence.blocks.length = 0;
    sequence.blockHashes.length = 0;
    sequence.tokens.length = 0;
    sequence.length = 0;
  }

  private takeBlock(): number {
    let block = this.free.pop();
    if (block === undefined) {
      const [oldest] = this.evictable.keys();
      block = oldest!;
      this.evictable.delete(block);
      this.byHash.delete(this.state[block]!.hash!);
      this.state[block]!.hash = null;
      this.counters.evictions++;
    }
    this.state[block]!.refs = 1;
    return block;
  }

  /** Pool slot of logical position `position` of `sequence`. */
  slot(sequence: CacheSequence, position: number): number {
    return (
      sequence.blocks[Math.floor(position / this.blockSize)]! * this.blockSize + (position % this.blockSize)
    );
  }

  /** Frees the pool. */
  dispose(): void {
    this.byHash.clear();
    this.evictable.clear();
    for (const b of this.buffers) b.dispose();
    this.buffers.length = 0;
  }
}

/** Content hash of one block: its tokens chained to the hash of the blocks before it. */
function blockHash(parent: string, tokens: ArrayLike<number>, start: number, count: number): string {
  const ids = new Int32Array(count);
  for (let i = 0; i < count; i++) ids[i] = tokens[start + i]!;
  return createHash('sha256').update(parent).update(new Uint8Array(ids.buffer)).digest('hex');
}
