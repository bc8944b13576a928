import type { PagedKvCache } from '../model/kv-cache.js';
import type { FinishReason } from './generate-request.js';

/** A snapshot of the engine for monitoring (the server's /metrics). */
export interface EngineStats {
  /** Requests waiting to start. */
  readonly queueLength: number;
  /** Requests currently generating. */
  readonly running: number;
  /** Blocks in the KV cache pool. */
  readonly cacheBlocksTotal: number;
  /** Blocks held by sequences. */
  readonly cacheBlocksUsed: number;
  /** Blocks not held by any sequence (empty or evictable). */
  readonly cacheBlocksFree: number;
  /** Prompt tokens looked up in the prefix cache. */
  readonly prefixCacheQueriedTokens: number;
  /** Prompt tokens found in the prefix cache. */
  readonly prefixCacheHitTokens: number;
  /** hit tokens / queried tokens (0 before any request). */
  readonly prefixCacheHitRate: number;
  /** Tokens generated since the engine started. */
  readonly generatedTokens: number;
  /** Finished requests by finish reason. */
  readonly finished: Readonly<Record<FinishReason, number>>;
  /** Forward steps that failed (the backend threw); their requests were retried alone. */
  readonly failedSteps: number;
  /** Requests ended by an error (their own retried step failed too). */
  readonly failedRequests: number;
  /** Time to first token, ms: mean and percentiles over recent requests. */
  readonly timeToFirstTokenMs: {
    /** Mean, ms. */
    readonly mean: number;
    /** Median, ms. */
    readonly p50: number;
    /** 99th percentile, ms. */
    readonly p99: number;
    /** Samples in the window. */
    readonly count: number;
  };
  /** Time between tokens of a stream, ms. */
  readonly interTokenLatencyMs: {
    /** Mean, ms. */
    readonly mean: number;
    /** Median, ms. */
    readonly p50: number;
    /** 99th percentile, ms. */
    readonly p99: number;
    /** Samples in the window. */
    readonly count: number;
  };
  /** Generated tokens per second over the last 10 s. */
  readonly tokensPerSecond: number;
  /** Share of forward time spent in the lightning indexer (its projections count as attention: `DeepseekModel.timings`). */
  readonly indexerTimeShare: number;
}

const WINDOW = 2048;

function summary(values: number[]) {
  if (values.length === 0) return { mean: 0, p50: 0, p99: 0, count: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return {
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    p50: at(0.5),
    p99: at(0.99),
    count: values.length,
  };
}

/** Collects latencies and counters for {@link EngineStats}. */
export class StatsRecorder {
  private readonly ttft: number[] = [];
  private readonly itl: number[] = [];
  private readonly recent: { at: number; count: number }[] = [];
  private generated = 0;
  private failedSteps = 0;
  private failedRequests = 0;
  private readonly done: Record<FinishReason, number> = { stop: 0, length: 0, cancelled: 0 };

  firstToken(ms: number): void {
    this.ttft.push(ms);
    if (this.ttft.length > WINDOW) this.ttft.shift();
  }

  interToken(ms: number): void {
    this.itl.push(ms);
    if (this.itl.length > WINDOW) this.itl.shift();
  }

  tokens(count: number): void {
    this.generated += count;
    const now = performance.now();
    this.recent.push({ at: now, count });
    while (this.recent.length && this.recent[0]!.at < now - 10_000) this.recent.shift();
  }

  finished(reason: FinishReason): void {
    this.done[reason]++;
  }

  /** A forward step threw. */
  stepFailed(): void {
    this.failedSteps++;
  }

  /** A request ended with an error. */
  requestFailed(): void {
    this.failedRequests++;
  }

  snapshot(state: {
    queueLength: number;
    running: number;
    cache: PagedKvCache;
    timings: { forwardMs: number; indexerMs: number };
  }): EngineStats {
    const prefix = state.cache.prefixStats;
    const now = performance.now();
    const window = this.recent.filter((r) => r.at >= now - 10_000);
    const span = window.length > 1 ? (now - window[0]!.at) / 1000 : 0;
    return {
      queueLength: state.queueLength,
      running: state.running,
      cacheBlocksTotal: state.cache.numBlocks,
      cacheBlocksUsed: state.cache.usedBlocks,
      cacheBlocksFree: state.cache.freeBlocks,
      prefixCacheQueriedTokens: prefix.queriedTokens,
      prefixCacheHitTokens: prefix.hitTokens,
      prefixCacheHitRate: prefix.queriedTokens ? prefix.hitTokens / prefix.queriedTokens : 0,
      generatedTokens: this.generated,
      finished: { ...this.done },
      failedSteps: this.failedSteps,
      failedRequests: this.failedRequests,
      timeToFirstTokenMs: summary(this.ttft),
      interTokenLatencyMs: summary(this.itl),
      tokensPerSecond: span > 0 ? window.reduce((n, r) => n + r.count, 0) / span : 0,
      indexerTimeShare: state.timings.forwardMs ? state.timings.indexerMs / state.timings.forwardMs : 0,
    };
  }
}
