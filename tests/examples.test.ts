// Every example in examples/ runs against the tiny fixtures.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM tool without type declarations
import { startTinyServer } from '../tools/load/server-load.mjs';

const root = path.resolve(import.meta.dirname, '..');

async function goldenPrompt(): Promise<number[]> {
  const { SafetensorsFile } = await import('@dsa/runtime');
  const file = await SafetensorsFile.open(path.join(root, 'fixtures/tiny/golden.safetensors'));
  const bytes = await file.read('decode.prompt_ids');
  return Array.from(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
}
const run = promisify(execFile);

describe('examples', () => {
  it('generate.mjs reproduces the fixture greedy tokens from the fixture prompt', async () => {
    const golden = JSON.parse(fs.readFileSync(path.join(root, 'fixtures/tiny/golden.json'), 'utf8'));
    const prompt = await goldenPrompt();
    const { stdout } = await run('node', ['examples/generate.mjs', 'fixtures/tiny', prompt.join(',')], {
      cwd: root,
      env: { ...process.env, DSA_BACKEND: 'reference' },
    });
    expect(JSON.parse(stdout).tokens).toEqual(golden.decode.greedy_tokens);
  });

  it('indexer-topk.mjs matches its plain-JavaScript check', async () => {
    const { stdout } = await run('node', ['examples/indexer-topk.mjs'], { cwd: root });
    expect(JSON.parse(stdout).matches_plain_js).toBe(true);
  });

  it('custom-attention.mjs composes @dsa/mla and @dsa/indexer with its own top-k schedule', async () => {
    const { stdout } = await run('node', ['examples/custom-attention.mjs', 'fixtures/tiny'], { cwd: root });
    const result = JSON.parse(stdout);
    expect(result.all_positions_vs_dense).toBeLessThan(1e-6);
    expect(result.sparse_vs_dense).toBeGreaterThan(1e-4);
  });

  it('openai-client.mjs talks to the server', async () => {
    const server = await startTinyServer();
    try {
      const { stdout } = await run('node', ['examples/openai-client.mjs'], {
        cwd: root,
        env: { ...process.env, DSA_URL: `${server.base}/v1` },
      });
      expect(stdout).toMatch(/completion_tokens: 16/);
    } finally {
      await server.close();
    }
  });
});
