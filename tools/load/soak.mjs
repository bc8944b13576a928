// Bounded soak test of the OpenAI-compatible server on loopback: mixed streaming and non-streaming chat and
// text completions with random prompt and output lengths, stop strings, mid-stream disconnects and
// cancellations, from N concurrent clients for a fixed time. It samples the server's memory from its /metrics
// (process_resident_memory_bytes and V8's nodejs_heap_size_*_bytes) and fails (exit 1) when, after warm-up:
//   - the native memory (RSS less V8's heap total) grows by more than --native-growth (5%): the median of the
//     last tenth of samples against the first tenth;
//   - the live JavaScript heap grows by more than --heap-growth (10%): the median of the last quarter of its
//     readings against the first quarter. A server this tool starts itself reads it exactly: it runs under
//     --expose-gc with tools/load/live-heap-preload.mjs, which forces a full collection every second and prints
//     the heap in use right after it. Against --url it is estimated from /metrics instead: the lowest heap in use
//     of the last half of the samples against the first half (the heap in use falls to the live objects at each
//     full collection, several times a minute under this load), which is noisier (measured: +16% once on a CI run
//     without a leak);
//   - any cache block or request is still held once the clients stop;
//   - any response is a 5xx, or a completed stream lacks [DONE] or carries an error event;
//   - the p99 latency of the completed requests started in the last third exceeds --latency-ratio (1.2) times
//     that of the first third.
// RSS itself is reported, not judged: it moves with the heap V8 keeps committed, which under a steady load rises
// and falls by 20-30 MB on the tiny model at moments of V8's choosing (measured: RSS from -18% to +28% over runs
// whose native memory moved by at most 3% and whose live heap by at most 8%).
// Usage (after `pnpm build`):
//   node tools/load/soak.mjs [--clients 32] [--seconds 180] [--warmup 20] [--seed 1] [--backend cpu]
//        [--url http://127.0.0.1:8000]
// Without --url it starts `dsa serve` on 127.0.0.1 (fixtures/tiny-chat, --backend, default cpu) in a child
// process; with --url it soaks that server (a `dsa serve`: its /metrics carries the memory figures).
// Prints one JSON summary line; the exit code says whether every check passed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Random } from '../../packages/tensor/dist/index.js';

/** A seeded PRNG (the tensor package's mulberry32), so a run's request mix is reproducible. */
function random(seed) {
  const r = new Random(seed);
  return () => r.next();
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'the', 'cache', 'token', 'sparse', 'attention', 'model'];

/**
 * Starts `dsa serve` (the built CLI) on 127.0.0.1 with a free port in a child process; resolves once it listens.
 * The server gets its own process (and event loop), so its memory is its own and the clients never share its
 * thread. `nodeArgs` go to its node before the script (the soak's own test preloads a deliberate leak with them).
 * The server also runs tools/load/live-heap-preload.mjs (under --expose-gc): `liveHeap()` returns its readings of
 * the live JavaScript heap so far, `{ at, bytes }` with `at` on this process's performance.now() clock.
 */
export async function startServeProcess({
  backend = 'cpu',
  maxQueue = 1024,
  cacheTokens = 64 * 80,
  nodeArgs = [],
} = {}) {
  const root = path.resolve(import.meta.dirname, '../..');
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      path.join(import.meta.dirname, 'live-heap-preload.mjs'),
      ...nodeArgs,
      // The young generation at its full size from the start (16 MB semi-spaces, node 20's default maximum). Left
      // to grow, V8 enlarges it once when the allocation rate rises: a step of about 30 MB at a random moment
      // of the run. The old generation still rises and falls by 20-30 MB as V8 sizes it, which is why the
      // checks read the native memory and the live heap, not RSS.
      '--min-semi-space-size=16',
      '--max-semi-space-size=16',
      path.join(root, 'apps/cli/dist/bin.js'),
      'serve',
      '--model',
      path.join(root, 'fixtures/tiny-chat'),
      '--backend',
      backend,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--max-queue',
      String(maxQueue),
      '--cache-tokens',
      String(cacheTokens),
      '--shutdown-timeout',
      '1',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  let listening = false;
  const liveHeap = [];
  let partial = '';
  const base = await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      const at = performance.now();
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      for (const line of lines) {
        const reading = /^dsa-soak live-heap (\d+)$/.exec(line);
        if (reading) liveHeap.push({ at, bytes: Number(reading[1]) });
        else if (!listening) {
          stderr += `${line}\n`;
          const match = /dsa serve: (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(line);
          if (match) {
            listening = true;
            resolve(match[1]);
          }
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`dsa serve exited (${code}) before listening: ${stderr}`)));
  });
  return {
    base,
    pid: child.pid,
    liveHeap: () => liveHeap.slice(),
    close: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** The memory gauges of the server's /metrics, in bytes (the names of prom-client's default metrics). */
const MEMORY_GAUGES = {
  rss: 'process_resident_memory_bytes',
  heapTotal: 'nodejs_heap_size_total_bytes',
  heapUsed: 'nodejs_heap_size_used_bytes',
};

/** One memory sample from the Prometheus text of /metrics; throws naming a gauge it lacks. */
function memorySample(text, at) {
  const sample = { at };
  for (const [key, name] of Object.entries(MEMORY_GAUGES)) {
    const value = metricValue(text, name);
    if (!Number.isFinite(value)) throw new Error(`the server's /metrics has no ${name} gauge`);
    sample[key] = value;
  }
  return sample;
}

function metricValue(text, name) {
  const match = new RegExp(`^${name.replace(/[:]/g, '\\:')}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

function percentile(values, q) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function median(values) {
  return percentile(values, 0.5);
}

/**
 * One client request, chosen at random: chat or text completion, streamed or not, sometimes with a stop
 * string, sometimes disconnected mid-stream or cancelled before the answer. Returns what happened.
 */
async function oneRequest(base, headers, rand, n) {
  const chat = rand() < 0.5;
  const stream = rand() < 0.6;
  const words = Array.from(
    { length: 1 + Math.floor(rand() * 40) },
    () => WORDS[Math.floor(rand() * WORDS.length)],
  );
  const maxTokens = 1 + Math.floor(rand() * 32);
  const body = {
    ...(chat ? { messages: [{ role: 'user', content: words.join(' ') }] } : { prompt: words.join(' ') }),
    max_tokens: maxTokens,
    temperature: rand() < 0.3 ? 0 : 0.9,
    seed: n,
    stream,
    ...(rand() < 0.2 ? { stop: [WORDS[Math.floor(rand() * WORDS.length)].slice(0, 2)] } : {}),
  };
  const roll = rand();
  const disconnect = stream && roll < 0.1; // leave after the first chunk
  const cancelAfterMs = !stream && roll < 0.1 ? Math.floor(rand() * 50) : -1; // abort before the answer
  const controller = new AbortController();
  const timer = cancelAfterMs >= 0 ? setTimeout(() => controller.abort(), cancelAfterMs) : null;
  const started = performance.now();
  const result = { started, kind: 'completed', status: 0, tokens: 0, ms: 0, problem: null };
  try {
    const response = await fetch(`${base}/v1/${chat ? 'chat/completions' : 'completions'}`, {
      method: 'POST',
      headers,
      signal: controller.signal,
      body: JSON.stringify(body),
    });
    result.status = response.status;
    if (response.status !== 200) {
      await response.text();
      result.kind = 'refused';
      return result;
    }
    if (!stream) {
      const json = await response.json();
      result.tokens = json.usage?.completion_tokens ?? 0;
    } else {
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        if (disconnect) {
          controller.abort();
          result.kind = 'disconnected';
          return result;
        }
      }
      if (!text.trimEnd().endsWith('data: [DONE]')) result.problem = 'stream without [DONE]';
      else if (text.includes('"error":')) result.problem = 'stream with an error event';
      result.tokens = Math.max(1, text.split('\n\n').length - 3);
    }
  } catch (error) {
    if (controller.signal.aborted) {
      if (result.kind === 'completed') result.kind = 'cancelled';
    } else {
      result.kind = 'failed';
      result.problem = `request failed: ${error.message}${error.cause ? ` (${error.cause.code ?? error.cause.message})` : ''}`;
    }
  } finally {
    if (timer) clearTimeout(timer);
    result.ms = performance.now() - started;
  }
  return result;
}

/**
 * Runs the soak against `base` (loopback only) and returns the summary, with `ok` and the failed checks.
 * `liveHeap` (optional): startServeProcess's reader of the server's exact live-heap readings; without it (or with
 * fewer than 8 readings after warm-up) the live heap is estimated from /metrics.
 */
export async function runSoak({
  base,
  clients = 32,
  seconds = 180,
  warmup = Math.min(20, seconds / 5),
  seed = 1,
  apiKey = '',
  nativeGrowth = 0.05,
  heapGrowth = 0.1,
  latencyRatio = 1.2,
  sampleMs = 250,
  liveHeap = null,
}) {
  const url = new URL(base);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    throw new Error(`refusing to soak a non-loopback address: ${url.hostname}`);
  if (!(seconds > warmup)) throw new Error(`--seconds (${seconds}) must exceed --warmup (${warmup})`);
  const headers = {
    'content-type': 'application/json',
    ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
  };
  const start = performance.now();
  const warmEnd = start + warmup * 1000;
  const deadline = start + seconds * 1000;
  const results = [];
  const samples = [];
  let n = 0;
  let sampleError = null;
  const sampler = (async () => {
    while (performance.now() < deadline && !sampleError) {
      const now = performance.now();
      if (now >= warmEnd) {
        try {
          const text = await (await fetch(`${base}/metrics`, { headers })).text();
          samples.push(memorySample(text, now));
        } catch (error) {
          sampleError = error.message;
        }
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, Math.min(sampleMs, deadline - performance.now()))),
      );
    }
  })();
  const client = async (id) => {
    const rand = random(seed * 1000 + id);
    while (performance.now() < deadline) results.push(await oneRequest(base, headers, rand, n++));
  };
  await Promise.all([sampler, ...Array.from({ length: clients }, (_, id) => client(id))]);

  // Once the clients stop, nothing may stay running or hold cache blocks.
  let metrics = '';
  for (let i = 0; i < 100; i++) {
    metrics = await (await fetch(`${base}/metrics`, { headers })).text();
    if (
      metricValue(metrics, 'vllm:num_requests_running') === 0 &&
      metricValue(metrics, 'dsa_cache_blocks_used') === 0
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const measured = results.filter((r) => r.started >= warmEnd);
  const third = (deadline - warmEnd) / 3;
  const perToken = (from, to) =>
    measured
      .filter((r) => r.kind === 'completed' && r.started >= from && r.started < to)
      .map((r) => r.ms / Math.max(1, r.tokens));
  const firstThird = perToken(warmEnd, warmEnd + third);
  const lastThird = perToken(warmEnd + 2 * third, deadline);
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  const half = Math.max(1, Math.floor(samples.length / 2));
  const mb = (bytes) => Number((bytes / 2 ** 20).toFixed(1));
  const growth = (from, to) => Number((to / from - 1).toFixed(4));
  const rssStart = median(samples.slice(0, tenth).map((s) => s.rss));
  const rssEnd = median(samples.slice(-tenth).map((s) => s.rss));
  const nativeStart = median(samples.slice(0, tenth).map((s) => s.rss - s.heapTotal));
  const nativeEnd = median(samples.slice(-tenth).map((s) => s.rss - s.heapTotal));
  // The live heap: exact readings after forced full collections where the server gives them, else estimated.
  const live = (liveHeap?.() ?? []).filter((r) => r.at >= warmEnd && r.at <= deadline).map((r) => r.bytes);
  const exactHeap = live.length >= 8;
  const quarter = Math.floor(live.length / 4);
  const heapFirst = exactHeap
    ? median(live.slice(0, quarter))
    : Math.min(...samples.slice(0, half).map((s) => s.heapUsed));
  const heapLast = exactHeap
    ? median(live.slice(-quarter))
    : Math.min(...samples.slice(half).map((s) => s.heapUsed));
  const count = (kind) => results.filter((r) => r.kind === kind).length;
  const summary = {
    clients,
    seconds: Number(((performance.now() - start) / 1000).toFixed(1)),
    warmup_s: warmup,
    requests: results.length,
    completed: count('completed'),
    disconnected: count('disconnected'),
    cancelled: count('cancelled'),
    refused_4xx: results.filter((r) => r.status >= 400 && r.status < 500).length,
    status_5xx: results.filter((r) => r.status >= 500).length,
    problems: results.filter((r) => r.problem).length,
    first_problem: results.find((r) => r.problem)?.problem ?? null,
    memory_samples: samples.length,
    rss_start_mb: mb(rssStart),
    rss_end_mb: mb(rssEnd),
    rss_growth: growth(rssStart, rssEnd),
    native_start_mb: mb(nativeStart),
    native_end_mb: mb(nativeEnd),
    native_growth: growth(nativeStart, nativeEnd),
    heap_live_source: exactHeap ? 'forced-gc' : 'metrics-estimate',
    heap_live_readings: live.length,
    heap_live_first_mb: mb(heapFirst),
    heap_live_last_mb: mb(heapLast),
    heap_growth: growth(heapFirst, heapLast),
    completed_first_third: firstThird.length,
    completed_last_third: lastThird.length,
    p50_ms_first_third: Number(percentile(firstThird, 0.5).toFixed(1)),
    p50_ms_last_third: Number(percentile(lastThird, 0.5).toFixed(1)),
    p99_ms_first_third: Number(percentile(firstThird, 0.99).toFixed(1)),
    p99_ms_last_third: Number(percentile(lastThird, 0.99).toFixed(1)),
    running_after: metricValue(metrics, 'vllm:num_requests_running'),
    waiting_after: metricValue(metrics, 'vllm:num_requests_waiting'),
    cache_blocks_used_after: metricValue(metrics, 'dsa_cache_blocks_used'),
  };
  const failed = [];
  if (summary.status_5xx > 0) failed.push('5xx responses');
  if (summary.problems > 0) failed.push(`broken responses (${summary.first_problem})`);
  if (summary.running_after !== 0 || summary.waiting_after !== 0)
    failed.push('requests left running or waiting');
  if (summary.cache_blocks_used_after !== 0) failed.push('cache blocks leaked');
  if (sampleError) failed.push(`memory samples: ${sampleError}`);
  else if (samples.length < 4) failed.push('too few memory samples after warm-up');
  else {
    if (summary.native_growth > nativeGrowth)
      failed.push(`native memory (RSS less the V8 heap) grew by more than ${nativeGrowth * 100}%`);
    if (summary.heap_growth > heapGrowth)
      failed.push(`the live V8 heap grew by more than ${heapGrowth * 100}%`);
  }
  if (firstThird.length === 0 || lastThird.length === 0)
    failed.push('no completed requests in the first or last third');
  else if (summary.p99_ms_last_third > latencyRatio * summary.p99_ms_first_third)
    failed.push(`p99 latency of the last third above ${latencyRatio}x the first third`);
  return { ...summary, ok: failed.length === 0, failed };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      backend: { type: 'string', default: 'cpu' },
      clients: { type: 'string', default: '32' },
      seconds: { type: 'string', default: '180' },
      warmup: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'native-growth': { type: 'string', default: '0.05' },
      'heap-growth': { type: 'string', default: '0.1' },
      'latency-ratio': { type: 'string', default: '1.2' },
    },
  });
  const numbers = {};
  for (const [name, text] of Object.entries(values)) {
    if (name === 'url' || name === 'backend' || text === undefined) continue;
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) {
      console.error(`soak: --${name} must be a non-negative number, got ${JSON.stringify(text)}`);
      process.exit(2);
    }
    numbers[name] = value;
  }
  const server = values.url ? null : await startServeProcess({ backend: values.backend });
  const summary = await runSoak({
    base: values.url ?? server.base,
    clients: numbers.clients,
    seconds: numbers.seconds,
    ...(numbers.warmup !== undefined ? { warmup: numbers.warmup } : {}),
    seed: numbers.seed,
    apiKey: process.env.DSA_API_KEY ?? '',
    nativeGrowth: numbers['native-growth'],
    heapGrowth: numbers['heap-growth'],
    latencyRatio: numbers['latency-ratio'],
    liveHeap: server?.liveHeap ?? null,
  });
  console.log(JSON.stringify(summary));
  await server?.close();
  process.exitCode = summary.ok ? 0 : 1;
}
