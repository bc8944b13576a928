import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SafetensorsFile } from '@dsa/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { capture } from './test-capture.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../fixtures');

async function tensor(file: SafetensorsFile, name: string): Promise<Float32Array | Int32Array> {
  const bytes = await file.read(name);
  const info = file.info(name);
  return info.dtype === 'i32'
    ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
    : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

describe('dsa CLI', () => {
  afterEach(() => {
    delete process.env.DSA_BACKEND;
  });

  for (const fixture of ['tiny', 'tiny-fp8']) {
    it(`forward on ${fixture} reproduces golden logits and top-k for the 48-token prompt`, async () => {
      const dir = path.join(FIXTURES, fixture);
      const golden = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
      const ids = Array.from(await tensor(golden, 'prompt48.input_ids'));
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-cli-')), 'out.safetensors');
      const result = await capture([
        'forward',
        '--model',
        dir,
        '--ids',
        ids.join(','),
        '--out',
        out,
        '--backend',
        'reference',
        '-q',
      ]);
      expect(result.code).toBe(0);
      const written = await SafetensorsFile.open(out);
      expect(written.info('logits').shape).toEqual([48, 1024]);
      expect(written.info('topk_indices').shape).toEqual([4, 48, 32]);
      const logits = await tensor(written, 'logits');
      const expected = await tensor(golden, 'prompt48.logits');
      let max = 0;
      for (let i = 0; i < logits.length; i++) max = Math.max(max, Math.abs(logits[i]! - expected[i]!));
      expect(max).toBeLessThanOrEqual(2e-3);
      expect(Array.from(await tensor(written, 'topk_indices'))).toEqual(
        Array.from(await tensor(golden, 'prompt48.topk_indices')),
      );
    });
  }

  it('generate --temperature 0 --json reproduces the greedy tokens', async () => {
    const dir = path.join(FIXTURES, 'tiny');
    const golden = await SafetensorsFile.open(path.join(dir, 'golden.safetensors'));
    const prompt = Array.from(await tensor(golden, 'decode.prompt_ids'));
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')).decode.greedy_tokens;
    process.env.DSA_BACKEND = 'reference';
    const result = await capture([
      'generate',
      '--model',
      dir,
      '--ids',
      prompt.join(','),
      '--max-tokens',
      '8',
      '--temperature',
      '0',
      '--json',
      '-q',
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ tokens: expected });
  });

  it('generate --latent-cache fp8 decodes over the 656-byte-layout cache', async () => {
    const result = await capture([
      'generate',
      '--model',
      path.join(FIXTURES, 'tiny'),
      '--ids',
      '1,2,3',
      '--max-tokens',
      '4',
      '--latent-cache',
      'fp8',
      '--json',
      '-q',
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).tokens).toHaveLength(4);
  });

  it('inspect reports parameters and cache bytes', async () => {
    const result = await capture(['inspect', '--model', path.join(FIXTURES, 'tiny'), '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.model.layers).toBe(4);
    expect(report.model.params_active_per_token).toBeLessThan(report.model.params_total);
    // latent (32 + 8) f32 values per layer and token; bf16; fp8 rows of 32 e4m3 + 1 f32 scale + 8 bf16
    expect(report.model.kv_cache_bytes_per_token.latent_f32).toBe(40 * 4 * 4);
    expect(report.model.kv_cache_bytes_per_token.latent_bf16).toBe(40 * 2 * 4);
    expect(report.model.kv_cache_bytes_per_token.latent_fp8).toBe((32 + 4 + 16) * 4);
  });

  // Exit code 2 for usage errors (naming the flag), 1 for runtime errors (naming what is wrong).
  it.each([
    ['generate --model <tiny> --ids 1,x --max-tokens 2', 2, '--ids: "x" is not a non-negative integer'],
    ['forward --model <tiny> --ids 1', 2, '--out'],
    ['generate --model x --ids 1 --max-tokens 0', 2, ''],
    ['forward --model /nonexistent/model --ids 1 --out /tmp/x.safetensors -q', 1, '/nonexistent/model'],
    [
      'generate --model <tiny> --ids 5000 --max-tokens 1 -q',
      1,
      'token id 5000 is outside the vocabulary of 1024',
    ],
    [
      'generate --model <tiny> --ids 1 --max-tokens 1 --latent-cache fp16',
      2,
      "option '--latent-cache <format>' argument 'fp16' is invalid. Allowed choices are f32, bf16, fp8.",
    ],
  ] as const)('dsa %s: exit code %i', async (line, code, message) => {
    const result = await capture(
      line.split(' ').map((a) => (a === '<tiny>' ? path.join(FIXTURES, 'tiny') : a)),
    );
    expect(result.code).toBe(code);
    expect(result.stderr).toContain(message);
  });
});

describe('flag parsing', async () => {
  const { parseBytes } = await import('./usage-error.js');
  it('parses byte sizes', () => {
    expect(parseBytes('1048576', '--x')).toBe(1048576);
    expect(parseBytes('512MB', '--x')).toBe(512e6);
    expect(parseBytes('8GiB', '--x')).toBe(8 * 1024 ** 3);
    expect(() => parseBytes('lots', '--kv-cache-memory')).toThrow(/--kv-cache-memory: "lots" is not a size/);
  });
});
