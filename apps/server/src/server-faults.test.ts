import path from 'node:path';
import { FaultInjector } from '@dsa/backend/testing';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel, Engine, Tokenizer } from '@dsa/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from './server.js';

const dir = path.resolve(import.meta.dirname, '../../../fixtures/tiny-chat');
const faults = new FaultInjector(new ReferenceBackend());
let engine: Engine;
let app: ReturnType<typeof createServer>;
let base: string;

beforeAll(async () => {
  // 64 cache tokens: one request of 40 tokens at a time, so the rest wait for cache, not for a batch slot.
  const model = await DeepseekModel.load(faults.backend, dir, { cacheTokens: 64 });
  const tokenizer = await Tokenizer.fromFolder(dir);
  engine = new Engine(model, { tokenizer, maxQueue: 2 });
  app = createServer({ engine, tokenizer });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  await engine.close();
});

const complete = (body: Record<string, unknown>) =>
  fetch(`${base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'abc', temperature: 0, ignore_eos: true, ...body }),
  });

async function settled() {
  for (let i = 0; i < 100 && engine.stats().running + engine.stats().queueLength > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
  return engine.stats();
}

describe('server under backend faults', () => {
  it('a request whose generation fails gets an OpenAI-shaped 500; the server keeps serving', async () => {
    faults.failNext('kernel', { after: 0, count: 2 }); // its step, then its retry
    const failed = await complete({ max_tokens: 4 });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({
      error: {
        message: expect.stringMatching(/^generation failed: injected kernel fault/),
        type: 'server_error',
        param: null,
        code: null,
      },
    });
    const ok = await complete({ max_tokens: 4 });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(4);
    expect((await settled()).cacheBlocksUsed).toBe(0);
  });

  it('a stream whose generation fails ends with an error event and [DONE]', async () => {
    const response = await complete({ max_tokens: 6, stream: true });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/^data: \{"id":"cmpl-/);
    faults.failNext('kernel', { after: 0, count: 2 });
    let text = first;
    for (let r = await reader.read(); !r.done; r = await reader.read())
      text += new TextDecoder().decode(r.value);
    const events = text.trim().split('\n\n');
    expect(events.at(-1)).toBe('data: [DONE]');
    const error = JSON.parse(events.at(-2)!.slice('data: '.length)) as {
      error: { type: string; message: string };
    };
    expect(error.error.type).toBe('server_error');
    expect(error.error.message).toMatch(/injected kernel fault/);
    expect(text).not.toContain('"finish_reason":"length"');
    const stats = await settled();
    expect(stats.cacheBlocksUsed).toBe(0);
    expect(stats.failedRequests).toBe(2);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^dsa_requests_failed_total\{[^}]*\} 2$/m);
    expect(metrics).toMatch(/^dsa_failed_steps_total\{[^}]*\} 4$/m);
  });

  it('out of cache: requests within the queue bound wait and finish, beyond it 429 with Retry-After', async () => {
    const responses = await Promise.all(Array.from({ length: 5 }, () => complete({ max_tokens: 40 })));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    for (const r of responses) {
      if (r.status === 429) {
        expect(r.headers.get('retry-after')).toBe('1');
        expect(((await r.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
      } else {
        expect(((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(
          40,
        );
      }
    }
    expect((await settled()).cacheBlocksUsed).toBe(0);
  });
});
