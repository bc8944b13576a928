import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel, Engine, Tokenizer } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { createServer } from './server.js';

describe('a full queue', () => {
  it('answers 429 with Retry-After while the running and queued requests complete', async () => {
    const dir = path.resolve(import.meta.dirname, '../../../fixtures/tiny-chat');
    const model = await DeepseekModel.load(new ReferenceBackend(), dir, { cacheTokens: 256 });
    const tokenizer = await Tokenizer.fromFolder(dir);
    const engine = new Engine(model, { tokenizer, maxRunning: 1, maxQueue: 1, maxBatchTokens: 16 });
    const app = createServer({ engine, tokenizer });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const send = () =>
        fetch(`${base}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'abc', max_tokens: 30, temperature: 0, ignore_eos: true }),
        });
      const responses = await Promise.all([send(), send(), send(), send()]);
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200).length).toBe(2); // one running, one queued
      const busy = responses.filter((r) => r.status === 429);
      expect(busy.length).toBe(2);
      expect(busy[0]!.headers.get('retry-after')).toBe('1');
      const body = (await busy[0]!.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe('rate_limit_error');
      expect(body.error.message).toMatch(/busy/);
      for (const r of responses.filter((x) => x.status === 200)) {
        expect(((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(
          30,
        );
      }
    } finally {
      await app.close();
      await engine.close();
    }
  });
});
