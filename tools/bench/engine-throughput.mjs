// Serving throughput of the engine: N concurrent greedy streams on one model, measured end to end
// (prefill included). One JSON line per concurrency level.
// Usage (after `pnpm build`):
//   node tools/bench/engine-throughput.mjs --preset small --dtype bf16 --backend cpu --streams 1,8,32 --prompt 64 --tokens 32
//   node tools/bench/engine-throughput.mjs --model fixtures/tiny --backend reference
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../../packages/backend/dist/index.js';
import { DeepseekModel, Engine, makeModel, presetConfig } from '../../packages/runtime/dist/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    preset: { type: 'string' },
    dtype: { type: 'string', default: 'bf16' },
    backend: { type: 'string', default: 'auto' },
    streams: { type: 'string', default: '1,8,32' },
    prompt: { type: 'string', default: '64' },
    tokens: { type: 'string', default: '32' },
  },
});
let dir = values.model;
if (!dir) {
  const preset = values.preset ?? 'tiny';
  dir = path.join(os.tmpdir(), `dsa-bench-${preset}-${values.dtype}`);
  if (!fs.existsSync(path.join(dir, 'config.json')))
    await makeModel(dir, presetConfig(preset), { dtype: values.dtype, seed: 1 });
}
const backend = await createBackend({ backend: values.backend });
const promptLength = Number(values.prompt);
const maxTokens = Number(values.tokens);
const levels = values.streams.split(',').map(Number);
const model = await DeepseekModel.load(backend, dir, {
  cacheTokens: Math.max(...levels) * (promptLength + maxTokens + 64),
});
for (const streams of levels) {
  const engine = new Engine(model, { maxBatchTokens: Math.max(256, streams), maxRunning: streams });
  const started = performance.now();
  const runs = Array.from({ length: streams }, async (_, s) => {
    const prompt = Array.from(
      { length: promptLength },
      (_, i) => (s * 7919 + i * 104729 + 3) % model.config.vocabSize,
    );
    let count = 0;
    for await (const event of engine.generate({ prompt, maxTokens, ignoreEos: true }))
      if (event.type === 'token') count++;
    return count;
  });
  const tokens = (await Promise.all(runs)).reduce((a, b) => a + b, 0);
  const seconds = (performance.now() - started) / 1000;
  const stats = engine.stats();
  console.log(
    JSON.stringify({
      backend: backend.name,
      device: backend.device.description,
      model: values.model ?? values.preset ?? 'tiny',
      dtype: model.config.quantization ? 'fp8' : values.dtype,
      streams,
      prompt_tokens: promptLength,
      max_tokens: maxTokens,
      generated_tokens: tokens,
      seconds: Number(seconds.toFixed(3)),
      tok_s: Number((tokens / seconds).toFixed(3)),
      ttft_p50_ms: Number(stats.timeToFirstTokenMs.p50.toFixed(1)),
      itl_p50_ms: Number(stats.interTokenLatencyMs.p50.toFixed(1)),
      indexer_time_share: Number(stats.indexerTimeShare.toFixed(4)),
    }),
  );
  await engine.close();
}
model.dispose();
backend.dispose();
