import type { EngineStats } from '@dsa/runtime';

/** The process memory figures {@link prometheusMetrics} reports (those of Node's `process.memoryUsage()`). */
export type ProcessMemory = Pick<NodeJS.MemoryUsage, 'rss' | 'heapTotal' | 'heapUsed' | 'external'>;

/**
 * Prometheus text exposition of the engine's stats, with vLLM's metric names where they apply, and of the
 * process's memory under the names of prom-client's default metrics (`memory` defaults to this process's).
 */
export function prometheusMetrics(
  stats: EngineStats,
  model: string,
  requests: { total: number; errors: number },
  memory: ProcessMemory = process.memoryUsage(),
): string {
  const label = `model_name="${model.replace(/["\\\n]/g, '_')}"`;
  const lines: string[] = [];
  const metric = (
    name: string,
    type: 'gauge' | 'counter' | 'summary',
    help: string,
    values: [string, number][],
  ) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [suffix, value] of values)
      lines.push(`${name}${suffix}{${label}} ${Number.isFinite(value) ? value : 0}`);
  };
  metric('vllm:num_requests_running', 'gauge', 'Requests decoding or prefilling.', [['', stats.running]]);
  metric('vllm:num_requests_waiting', 'gauge', 'Requests waiting for cache room.', [['', stats.queueLength]]);
  metric('vllm:kv_cache_usage_perc', 'gauge', 'Fraction of KV-cache blocks in use (0-1).', [
    ['', stats.cacheBlocksTotal ? stats.cacheBlocksUsed / stats.cacheBlocksTotal : 0],
  ]);
  metric('vllm:prefix_cache_queries', 'counter', 'Prompt tokens looked up in the prefix cache.', [
    ['_total', stats.prefixCacheQueriedTokens],
  ]);
  metric('vllm:prefix_cache_hits', 'counter', 'Prompt tokens found in the prefix cache.', [
    ['_total', stats.prefixCacheHitTokens],
  ]);
  metric('vllm:generation_tokens', 'counter', 'Generated tokens.', [['_total', stats.generatedTokens]]);
  // Latency summaries in seconds: the median, the 99th percentile and the count (values as they are).
  const summary = (name: string, help: string, ms: EngineStats['timeToFirstTokenMs']) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} summary`);
    lines.push(`${name}{${label},quantile="0.5"} ${ms.p50 / 1000}`);
    lines.push(`${name}{${label},quantile="0.99"} ${ms.p99 / 1000}`);
    lines.push(`${name}_count{${label}} ${ms.count}`);
  };
  summary('vllm:time_to_first_token_seconds', 'Time to first token.', stats.timeToFirstTokenMs);
  summary('vllm:inter_token_latency_seconds', 'Time between tokens of a stream.', stats.interTokenLatencyMs);
  metric('dsa_cache_blocks_used', 'gauge', 'KV-cache blocks held by sequences.', [
    ['', stats.cacheBlocksUsed],
  ]);
  metric('dsa_cache_blocks_total', 'gauge', 'KV-cache blocks in the pool.', [['', stats.cacheBlocksTotal]]);
  metric('dsa_tokens_per_second', 'gauge', 'Generated tokens per second over the last 10 s.', [
    ['', stats.tokensPerSecond],
  ]);
  metric('dsa_indexer_time_share', 'gauge', 'Share of forward time spent in the lightning indexer.', [
    ['', stats.indexerTimeShare],
  ]);
  metric('dsa_requests_finished', 'counter', 'Finished requests by reason (stop).', [
    ['_total', stats.finished.stop + stats.finished.length + stats.finished.cancelled],
  ]);
  metric('dsa_requests_cancelled', 'counter', 'Requests cancelled (client gone or aborted).', [
    ['_total', stats.finished.cancelled],
  ]);
  metric('dsa_failed_steps', 'counter', 'Forward steps the backend failed (their requests were retried).', [
    ['_total', stats.failedSteps],
  ]);
  metric('dsa_requests_failed', 'counter', 'Requests ended by a backend error.', [
    ['_total', stats.failedRequests],
  ]);
  metric('dsa_http_requests', 'counter', 'HTTP requests answered.', [['_total', requests.total]]);
  metric('dsa_http_errors', 'counter', 'HTTP requests answered with an error status.', [
    ['_total', requests.errors],
  ]);
  // The process's own figures carry no model label. V8's heap in use includes garbage not yet collected: its
  // low points (after each full collection) are the live heap; RSS less the heap's total is the native part.
  const gauge = (name: string, help: string, value: number) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
  gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', memory.rss);
  gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved for objects, in bytes.', memory.heapTotal);
  gauge(
    'nodejs_heap_size_used_bytes',
    'V8 heap in use, in bytes (live objects and garbage not yet collected).',
    memory.heapUsed,
  );
  gauge(
    'nodejs_external_memory_bytes',
    'Memory of C++ objects bound to V8 objects, in bytes.',
    memory.external,
  );
  return `${lines.join('\n')}\n`;
}
