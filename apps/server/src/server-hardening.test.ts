import net from 'node:net';
import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel, Engine, Tokenizer } from '@dsa/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ServerOptions } from './server.js';

const dir = path.resolve(import.meta.dirname, '../../../fixtures/tiny-chat');
let engine: Engine;
let tokenizer: Tokenizer;
const servers: ReturnType<typeof createServer>[] = [];

beforeAll(async () => {
  const model = await DeepseekModel.load(new ReferenceBackend(), dir, { cacheTokens: 256 });
  tokenizer = await Tokenizer.fromFolder(dir);
  engine = new Engine(model, { tokenizer });
});
afterAll(async () => {
  for (const app of servers) await app.close();
  await engine.close();
});

/** Starts a server on 127.0.0.1 with the shared engine; returns its base URL and port. */
async function start(options: Partial<ServerOptions> = {}) {
  const app = createServer({ engine, tokenizer, ...options });
  servers.push(app);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return { base, port: Number(new URL(base).port) };
}

/** Opens a raw connection, writes `text`, and resolves with what came back and how long until the server closed it. */
function rawExchange(port: number, text: string, limitMs = 10_000) {
  return new Promise<{ received: string; closedAfterMs: number }>((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.on('data', (d) => {
      received += d;
    });
    socket.on('error', () => {});
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${limitMs} ms`));
    }, limitMs);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve({ received, closedAfterMs: performance.now() - started });
    });
  });
}

describe('timeouts', () => {
  it('closes a connection whose headers never finish, while others are served', async () => {
    const { base, port } = await start({ timeouts: { headersMs: 300, requestMs: 2000, keepAliveMs: 2000 } });
    const slow = rawExchange(port, 'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty');
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const { received, closedAfterMs } = await slow;
    expect(closedAfterMs).toBeGreaterThanOrEqual(250);
    expect(closedAfterMs).toBeLessThan(3000);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes a connection that sends nothing at all', async () => {
    const { port } = await start({ timeouts: { headersMs: 300, requestMs: 2000, keepAliveMs: 2000 } });
    const { closedAfterMs } = await rawExchange(port, '');
    expect(closedAfterMs).toBeGreaterThanOrEqual(250);
    expect(closedAfterMs).toBeLessThan(3000);
  });

  it('closes a connection whose body stops half way', async () => {
    const { port } = await start({ timeouts: { headersMs: 300, requestMs: 600, keepAliveMs: 5000 } });
    const { received, closedAfterMs } = await rawExchange(
      port,
      'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"prompt": "ab',
    );
    expect(closedAfterMs).toBeGreaterThanOrEqual(550);
    expect(closedAfterMs).toBeLessThan(4000);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const { port } = await start({ timeouts: { headersMs: 2000, requestMs: 2000, keepAliveMs: 300 } });
    const { received, closedAfterMs } = await rawExchange(
      port,
      'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n',
    );
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    expect(received).toContain('{"status":"ok"}');
    expect(closedAfterMs).toBeGreaterThanOrEqual(250);
    expect(closedAfterMs).toBeLessThan(3000);
  });
});

describe('body size limit', () => {
  it('answers 413 in OpenAI shape above the limit and serves bodies below it', async () => {
    const { base } = await start({ bodyLimit: 1024 });
    const send = (prompt: string) =>
      fetch(`${base}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt, max_tokens: 1 }),
      });
    const big = await send('a'.repeat(2000));
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({
      error: {
        message: 'The request body is larger than 1024 bytes.',
        type: 'invalid_request_error',
        param: null,
        code: 'request_too_large',
      },
    });
    expect((await send('a'.repeat(100))).status).toBe(200);
  });
});

describe('API key', () => {
  it('accepts only the exact key, whatever the length of a wrong one', async () => {
    const { base } = await start({ apiKey: 'secret-key' });
    const models = (authorization?: string) =>
      fetch(`${base}/v1/models`, authorization ? { headers: { authorization } } : {});
    expect((await models('Bearer secret-key')).status).toBe(200);
    for (const wrong of [
      undefined,
      'Bearer secret-kez',
      'Bearer s',
      `Bearer ${'x'.repeat(5000)}`,
      'secret-key',
    ]) {
      const response = await models(wrong);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    }
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});

describe('CORS', () => {
  it('sends no CORS headers unless asked, and preflights find no route', async () => {
    const { base } = await start();
    const response = await fetch(`${base}/v1/models`, { headers: { origin: 'http://evil.example' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${base}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(404);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('with --cors ORIGIN allows that origin, on streams too, and preflights pass the API key check', async () => {
    const origin = 'http://app.example';
    const { base } = await start({ cors: origin, apiKey: 'k' });
    const preflight = await fetch(`${base}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    const stream = await fetch(`${base}/v1/completions`, {
      method: 'POST',
      headers: { origin, authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'ab', max_tokens: 2, stream: true }),
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('access-control-allow-origin')).toBe(origin);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await stream.text()).toMatch(/data: \[DONE\]\n\n$/);
    const unauthorized = await fetch(`${base}/v1/models`, { headers: { origin } });
    expect(unauthorized.status).toBe(401);
  });
});
