// A short run of the loopback load test (tools/load/server-load.mjs runs the full 64 clients × 30 s).
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM tool without type declarations
import { runLoad, startTinyServer } from '../tools/load/server-load.mjs';
import { expectCleanRun } from './load-checks.js';

describe('server under load', () => {
  it('32 streaming clients for 4 s, 10% disconnecting: no 5xx, every completed stream ends with [DONE], nothing left running', async () => {
    const server = await startTinyServer();
    try {
      const summary = await runLoad({
        base: server.base,
        clients: 32,
        seconds: 4,
        disconnect: 0.1,
        maxTokens: 8,
      });
      console.log(JSON.stringify(summary));
      expectCleanRun(summary, 0);
      expect(summary.completed_without_done).toBe(0);
    } finally {
      await server.close();
    }
  });
});
