// Bounded loopback load test of the OpenAI-compatible server: N concurrent streaming chat clients for a
// fixed time, a share of them disconnecting mid-stream. Every completed stream must end with [DONE], no
// response may be a 5xx, and afterwards /metrics must show no running requests and no used cache blocks.
// Usage (after `pnpm build`): node tools/load/server-load.mjs [--clients 64] [--seconds 30] [--disconnect 0.1] [--url http://127.0.0.1:8000]
// Without --url it starts its own server on 127.0.0.1 with fixtures/tiny-chat on the reference backend.
import path from 'node:path';
import { parseArgs } from 'node:util';

/** Runs the load against `base` (loopback only) and returns the summary. */
export async function runLoad({ base, clients, seconds, disconnect, apiKey = '', maxTokens = 24 }) {
  const url = new URL(base);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    throw new Error(`refusing to load a non-loopback address: ${url.hostname}`);
  const headers = {
    'content-type': 'application/json',
    ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
  };
  const deadline = performance.now() + seconds * 1000;
  const stats = {
    requests: 0,
    completed: 0,
    disconnected: 0,
    status5xx: 0,
    status4xx: 0,
    missingDone: 0,
    tokens: 0,
    ttft: [],
  };
  let seq = 0;
  const client = async (id) => {
    while (performance.now() < deadline) {
      const n = seq++;
      const leave = (n * 2654435761) % 1000 < disconnect * 1000;
      const controller = new AbortController();
      const started = performance.now();
      stats.requests++;
      let response;
      try {
        response = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers,
          signal: controller.signal,
          body: JSON.stringify({
            messages: [{ role: 'user', content: `client ${id} request ${n}` }],
            max_tokens: 4 + (n % maxTokens),
            temperature: 0.8,
            seed: n,
            stream: true,
          }),
        });
      } catch {
        continue;
      }
      if (response.status >= 500) stats.status5xx++;
      if (response.status >= 400) {
        stats.status4xx += response.status < 500 ? 1 : 0;
        await response.text();
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let text = '';
      let first = true;
      let chunks = 0;
      try {
        while (true) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
          const content = (text.match(/"content":"[^"]/g) ?? []).length;
          if (first && content > 0) {
            stats.ttft.push(performance.now() - started);
            first = false;
          }
          chunks = content;
          if (leave && !first) {
            controller.abort();
            stats.disconnected++;
            break;
          }
        }
      } catch {
        // aborted on purpose
      }
      if (leave) continue;
      stats.completed++;
      stats.tokens += chunks;
      if (!text.trimEnd().endsWith('data: [DONE]')) stats.missingDone++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  const elapsed = (performance.now() - started) / 1000;
  // Let cancellations land, then read the server's own view.
  let metrics = '';
  for (let i = 0; i < 100; i++) {
    metrics = await (await fetch(`${base}/metrics`, { headers })).text();
    if (
      /vllm:num_requests_running\{[^}]*\} 0\b/.test(metrics) &&
      /dsa_cache_blocks_used\{[^}]*\} 0\b/.test(metrics)
    )
      break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const sorted = [...stats.ttft].sort((a, b) => a - b);
  const pct = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0);
  return {
    clients,
    seconds: Number(elapsed.toFixed(2)),
    requests: stats.requests,
    completed: stats.completed,
    disconnected: stats.disconnected,
    status_4xx: stats.status4xx,
    status_5xx: stats.status5xx,
    completed_without_done: stats.missingDone,
    ttft_p50_ms: Number(pct(0.5).toFixed(1)),
    ttft_p99_ms: Number(pct(0.99).toFixed(1)),
    content_chunks_per_s: Number((stats.tokens / elapsed).toFixed(1)),
    running_after: Number(/vllm:num_requests_running\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? -1),
    cache_blocks_used_after: Number(/dsa_cache_blocks_used\{[^}]*\} (\d+)/.exec(metrics)?.[1] ?? -1),
  };
}

/** Starts a server on loopback with the tiny-chat fixture on the reference backend. */
export async function startTinyServer(options = {}) {
  const root = path.resolve(import.meta.dirname, '../..');
  const { ReferenceBackend } = await import(path.join(root, 'backends/reference/dist/index.js'));
  const { DeepseekModel, Engine, Tokenizer } = await import(
    path.join(root, 'packages/runtime/dist/index.js')
  );
  const { createServer } = await import(path.join(root, 'apps/server/dist/index.js'));
  const dir = path.join(root, 'fixtures/tiny-chat');
  const model = await DeepseekModel.load(new ReferenceBackend(), dir, { cacheTokens: 64 * 80 });
  const tokenizer = await Tokenizer.fromFolder(dir);
  const engine = new Engine(model, { tokenizer, maxQueue: options.maxQueue ?? 256 });
  const app = createServer({ engine, tokenizer, modelName: 'tiny-chat' });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    base,
    close: async () => {
      await app.close();
      await engine.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      clients: { type: 'string', default: '64' },
      seconds: { type: 'string', default: '30' },
      disconnect: { type: 'string', default: '0.1' },
    },
  });
  const server = values.url ? null : await startTinyServer();
  const base = values.url ?? server.base;
  const summary = await runLoad({
    base,
    clients: Number(values.clients),
    seconds: Number(values.seconds),
    disconnect: Number(values.disconnect),
    apiKey: process.env.DSA_API_KEY ?? '',
  });
  console.log(JSON.stringify(summary));
  await server?.close();
  const ok =
    summary.status_5xx === 0 &&
    summary.completed_without_done === 0 &&
    summary.running_after === 0 &&
    summary.cache_blocks_used_after === 0;
  process.exitCode = ok ? 0 : 1;
}
