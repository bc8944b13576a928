// The serving engine on the tiny fixture (reference backend): batch invariance under continuous
// batching, mid-flight joins and cancellations, prefix sharing, seeded sampling, and the busy and
// too-long paths.
import fs from 'node:fs';
import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import {
  DeepseekModel,
  Engine,
  EngineBusyError,
  type GenerateEvent,
  type GenerateRequest,
  RequestRejectedError,
  SafetensorsFile,
} from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { readI32 } from './golden-helpers.js';

const dir = path.resolve(import.meta.dirname, '../fixtures/tiny');

async function collect(
  stream: AsyncIterable<GenerateEvent>,
): Promise<{ tokens: number[]; done: Extract<GenerateEvent, { type: 'done' }> }> {
  const tokens: number[] = [];
  for await (const event of stream) {
    if (event.type === 'token') tokens.push(event.id);
    else return { tokens, done: event };
  }
  throw new Error('stream ended without done');
}

function prompt(seed: number, length: number): number[] {
  return Array.from({ length }, (_, i) => (seed * 131 + i * 37 + 11) % 1024);
}

async function load(cacheTokens = 64 * 64): Promise<DeepseekModel> {
  return DeepseekModel.load(new ReferenceBackend(), dir, { cacheTokens });
}

describe('engine', () => {
  it('greedy generation through the scheduler reproduces the fixture decode', async () => {
    const model = await load();
    const reference = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
    const ids = Array.from(await readI32(reference, 'decode.prompt_ids'));
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')).decode.greedy_tokens;
    const engine = new Engine(model, { maxBatchTokens: 32 }); // prefill in chunks of 32
    const { tokens, done } = await collect(engine.generate({ prompt: ids, maxTokens: 8, ignoreEos: true }));
    expect(tokens).toEqual(expected);
    expect(done).toMatchObject({ reason: 'length', usage: { promptTokens: 100, completionTokens: 8 } });
    await engine.close();
  });

  it('under a step memory budget, prefills in chunks whose workspace fits it, with the fixture tokens', async () => {
    const reference = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
    const ids = Array.from(await readI32(reference, 'decode.prompt_ids'));
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')).decode.greedy_tokens;
    // The workspace of a 64-token step, per token, measured on a model without a budget.
    const probe = await DeepseekModel.load(new ReferenceBackend({ fused: true }), dir, {
      cacheTokens: 64 * 64,
    });
    await probe.forward([{ sequence: probe.cache.createSequence(), tokens: ids.slice(0, 64) }]);
    const budget = Math.floor((16 * probe.workspace.stepPeak) / 64);
    probe.dispose();
    // The fused kernels (the cpu and cuda backends' path): no attention scratch that grows with the context.
    const model = await DeepseekModel.load(new ReferenceBackend({ fused: true }), dir, {
      cacheTokens: 64 * 64,
      stepMemory: budget,
    });
    const steps: { rows: number; peak: number }[] = [];
    const forward = model.forward.bind(model);
    model.forward = async (entries, options) => {
      const result = await forward(entries, options);
      steps.push({ rows: entries.reduce((n, e) => n + e.tokens.length, 0), peak: model.workspace.stepPeak });
      return result;
    };
    const engine = new Engine(model, { maxBatchTokens: 512 });
    const { tokens } = await collect(engine.generate({ prompt: ids, maxTokens: 8, ignoreEos: true }));
    await engine.close();
    expect(tokens).toEqual(expected);
    // The first step probes with 64 tokens (over the budget), the second takes it scaled down (16 rows, over
    // by the fixed part), then the line through both: every later step fits, and the 100 tokens are in.
    expect(steps[0]!.rows).toBe(64);
    expect(steps[1]!.rows).toBe(16);
    const prefill = steps.slice(
      0,
      steps.findIndex((s) => s.rows === 1),
    );
    expect(prefill.reduce((n, s) => n + s.rows, 0)).toBe(100);
    expect(prefill.length).toBeGreaterThanOrEqual(4);
    for (const s of steps.slice(2)) expect(s.peak).toBeLessThanOrEqual(budget);
    model.dispose();
  });

  it('32 concurrent requests, with late joiners and cancellations, match their solo outputs; all blocks freed', async () => {
    const requests: GenerateRequest[] = Array.from({ length: 32 }, (_, i) => ({
      prompt: prompt(i, 8 + ((i * 7) % 40)),
      maxTokens: 6,
      ignoreEos: true,
    }));
    const solo: number[][] = [];
    {
      const model = await load();
      const engine = new Engine(model);
      for (const r of requests) solo.push((await collect(engine.generate(r))).tokens);
      await engine.close();
    }
    const model = await load();
    const engine = new Engine(model, { maxBatchTokens: 64, maxRunning: 32 });
    const first = requests.slice(0, 24).map((r) => collect(engine.generate(r)));
    // cancel two while they run: one by signal, one by leaving the loop early
    const controller = new AbortController();
    const cancelled = collect(
      engine.generate(
        { prompt: prompt(99, 30), maxTokens: 40, ignoreEos: true },
        { signal: controller.signal },
      ),
    );
    const early = (async () => {
      const got: number[] = [];
      for await (const e of engine.generate({ prompt: prompt(98, 20), maxTokens: 40, ignoreEos: true })) {
        if (e.type === 'token') got.push(e.id);
        if (got.length === 2) break;
      }
      return got;
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    const late = requests.slice(24).map((r) => collect(engine.generate(r))); // join mid-flight
    const results = await Promise.all([...first, ...late]);
    results.forEach((r, i) => {
      expect(r.tokens, `request ${i}`).toEqual(solo[i]);
    });
    expect((await cancelled).done.reason).toBe('cancelled');
    expect((await early).length).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const stats = engine.stats();
    expect(stats.running).toBe(0);
    expect(stats.queueLength).toBe(0);
    expect(stats.cacheBlocksUsed).toBe(0);
    expect(stats.finished.cancelled).toBe(2);
    await engine.close();
  });

  it('a shared 200-token prefix is prefilled once, and reuse leaves outputs unchanged', async () => {
    const prefix = prompt(7, 200);
    const a = { prompt: [...prefix, 5, 6, 7], maxTokens: 5, ignoreEos: true };
    const b = { prompt: [...prefix, 9, 10], maxTokens: 5, ignoreEos: true };
    const fresh = await load();
    const freshEngine = new Engine(fresh);
    const expectedB = (await collect(freshEngine.generate(b))).tokens;
    await freshEngine.close();
    const model = await load();
    const engine = new Engine(model);
    const first = await collect(engine.generate(a));
    expect(first.done.usage.cachedTokens).toBe(0);
    const second = await collect(engine.generate(b));
    expect(second.done.usage.cachedTokens).toBe(192); // three full 64-token blocks
    expect(second.tokens).toEqual(expectedB);
    const stats = engine.stats();
    expect(stats.prefixCacheHitTokens).toBe(192);
    expect(stats.prefixCacheHitRate).toBeCloseTo(192 / (203 + 202), 6);
    expect(stats.cacheBlocksUsed).toBe(0);
    await engine.close();
  });

  it('a seeded sampled request is reproducible, and different seeds differ', async () => {
    const model = await load();
    const engine = new Engine(model);
    const request = (seed: number): GenerateRequest => ({
      prompt: prompt(3, 12),
      maxTokens: 12,
      ignoreEos: true,
      sampling: { temperature: 1.2, topP: 0.95, seed, repetitionPenalty: 1.1, presencePenalty: 0.3 },
      logprobs: 2,
    });
    const one = await collect(engine.generate(request(11)));
    const two = await collect(engine.generate(request(11)));
    const other = await collect(engine.generate(request(12)));
    expect(two.tokens).toEqual(one.tokens);
    expect(other.tokens).not.toEqual(one.tokens);
    await engine.close();
  });

  it('rejects too-long requests up front and answers busy when the queue is full, while others complete', async () => {
    const model = await load(64 * 4);
    const engine = new Engine(model, { maxQueue: 2, maxRunning: 1, maxBatchTokens: 16 });
    expect(() => engine.generate({ prompt: prompt(1, 250), maxTokens: 20 })).toThrow(RequestRejectedError);
    expect(() => engine.generate({ prompt: prompt(1, 250), maxTokens: 20 })).toThrow(/context of 256 tokens/);
    const running = collect(engine.generate({ prompt: prompt(2, 10), maxTokens: 4, ignoreEos: true })); // admitted at once
    const queued = [1, 2].map((i) =>
      collect(engine.generate({ prompt: prompt(i + 10, 10), maxTokens: 4, ignoreEos: true })),
    );
    expect(() => engine.generate({ prompt: prompt(5, 10), maxTokens: 4 })).toThrow(EngineBusyError);
    const all = await Promise.all([running, ...queued]);
    for (const r of all) expect(r.tokens.length).toBe(4);
    expect(engine.stats().cacheBlocksUsed).toBe(0);
    await engine.close();
  });
});
