// The engine when its backend fails mid-batch (a kernel, a download, an allocation): which requests end with
// the error, which finish with unchanged output, and that no cache block stays held.
import path from 'node:path';
import { FaultInjector, type FaultPlan, type FaultSite, InjectedFaultError } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { DeepseekModel } from '../model/deepseek-model.js';
import { Engine } from './engine.js';
import type { GenerateEvent, GenerateRequest } from './generate-request.js';

const dir = path.resolve(import.meta.dirname, '../../../../fixtures/tiny');
const requests: GenerateRequest[] = [0, 1, 2].map((seed) => ({
  prompt: Array.from({ length: 5 + seed * 3 }, (_, i) => (seed * 131 + i * 37 + 11) % 1024),
  maxTokens: 8,
  ignoreEos: true,
  sampling: { temperature: 0 },
}));

type Outcome = { tokens: number[]; error?: unknown };

/** Drains a stream; `onToken` runs after each token (to arm a fault at a chosen moment). */
async function drain(
  stream: AsyncIterable<GenerateEvent>,
  onToken?: (count: number) => void,
): Promise<Outcome> {
  const tokens: number[] = [];
  try {
    for await (const event of stream) {
      if (event.type === 'token') {
        tokens.push(event.id);
        onToken?.(tokens.length);
      }
    }
  } catch (error) {
    return { tokens, error };
  }
  return { tokens };
}

async function engineOn(backend: ReferenceBackend | FaultInjector['backend']) {
  const model = await DeepseekModel.load(backend, dir, { cacheTokens: 1024 });
  return new Engine(model, { maxBatchTokens: 64 });
}

/** Outputs without faults, each request alone. */
async function baseline(): Promise<number[][]> {
  const engine = await engineOn(new ReferenceBackend());
  const out: number[][] = [];
  for (const r of requests) out.push((await drain(engine.generate(r))).tokens);
  await engine.close();
  return out;
}

const expected = await baseline();

/**
 * Runs every request at once on a faulty backend; once request `request` has received `tokens` tokens,
 * the backend fails as `plan` says at `site`.
 */
async function runWithFault(site: FaultSite, plan: FaultPlan, request: number, tokens: number) {
  const faults = new FaultInjector(new ReferenceBackend());
  const engine = await engineOn(faults.backend);
  const outcomes = await Promise.all(
    requests.map((r, i) =>
      drain(engine.generate(r), (n) => {
        if (i === request && n === tokens) faults.failNext(site, plan);
      }),
    ),
  );
  return { faults, engine, outcomes };
}

describe('engine under backend faults', () => {
  it('a kernel failing once in a batched step: every request is retried alone and finishes unchanged', async () => {
    const { faults, engine, outcomes } = await runWithFault('kernel', { after: 3 }, 0, 2);
    expect(faults.raised.kernel).toBe(1);
    expect(outcomes).toEqual(expected.map((tokens) => ({ tokens })));
    const stats = engine.stats();
    expect(stats.failedSteps).toBe(1);
    expect(stats.failedRequests).toBe(0);
    expect(stats.cacheBlocksUsed).toBe(0);
    expect(stats.running + stats.queueLength).toBe(0);
    await engine.close();
  });

  it('a request whose own retried step fails too ends with the error; the others finish unchanged', async () => {
    // Two failing calls in a row: the batched step, then the first retried request's step of its own.
    const { faults, engine, outcomes } = await runWithFault('kernel', { after: 10, count: 2 }, 0, 3);
    expect(faults.raised.kernel).toBe(2);
    expect(outcomes[0]!.error).toBeInstanceOf(InjectedFaultError);
    expect(outcomes[0]!.tokens).toEqual(expected[0]!.slice(0, outcomes[0]!.tokens.length));
    expect(outcomes.slice(1)).toEqual(expected.slice(1).map((tokens) => ({ tokens })));
    let stats = engine.stats();
    expect(stats).toMatchObject({
      failedSteps: 2,
      failedRequests: 1,
      cacheBlocksUsed: 0,
      running: 0,
      queueLength: 0,
    });
    // And it keeps serving.
    expect(await drain(engine.generate(requests[0]!))).toEqual({ tokens: expected[0] });
    stats = engine.stats();
    expect(stats.cacheBlocksUsed).toBe(0);
    await engine.close();
  });

  it('a failed download is a failed step too: retried, unchanged, nothing held', async () => {
    const { faults, engine, outcomes } = await runWithFault('download', { after: 0 }, 1, 4);
    expect(faults.raised.download).toBe(1);
    expect(outcomes).toEqual(expected.map((tokens) => ({ tokens })));
    expect(engine.stats()).toMatchObject({ failedSteps: 1, failedRequests: 0, cacheBlocksUsed: 0 });
    await engine.close();
  });

  it('an allocation that fails at admission ends that request only', async () => {
    const faults = new FaultInjector(new ReferenceBackend());
    const engine = await engineOn(faults.backend);
    // Penalties need a token-history buffer, allocated when the request is admitted.
    faults.failNext('allocation', { after: 0 });
    const penalized = drain(
      engine.generate({ ...requests[0]!, sampling: { temperature: 0, repetitionPenalty: 1.3 } }),
    );
    const plain = drain(engine.generate(requests[1]!));
    const [failed, finished] = await Promise.all([penalized, plain]);
    expect(failed.error).toBeInstanceOf(InjectedFaultError);
    expect(failed.error).toMatchObject({ site: 'allocation' });
    expect(failed.tokens).toEqual([]);
    expect(finished).toEqual({ tokens: expected[1] });
    expect(engine.stats()).toMatchObject({ failedRequests: 1, cacheBlocksUsed: 0, running: 0 });
    await engine.close();
  });
});
