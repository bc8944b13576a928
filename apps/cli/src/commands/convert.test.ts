import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GgufFile } from '@dsa/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { capture } from '../test-capture.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../../fixtures');

describe('dsa convert', () => {
  afterEach(() => {
    delete process.env.DSA_BACKEND;
  });

  it('writes a GGUF that dsa generate runs like the checkpoint, and inspect reads', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-convert-')), 'tiny.gguf');
    const result = await capture(['convert', '--model', path.join(FIXTURES, 'tiny-chat'), '--to', out]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/wrote .*tiny\.gguf: deepseek32, 90 tensors \(55 BF16, 35 F32\)/);
    await using file = await GgufFile.open(out);
    expect(file.get('general.architecture')?.value).toBe('deepseek32');

    process.env.DSA_BACKEND = 'reference';
    const run = async (model: string) =>
      capture(['generate', '--model', model, '--prompt', 'hello world', '--max-tokens', '6', '--json', '-q']);
    const [fromGguf, fromFolder] = [await run(out), await run(path.join(FIXTURES, 'tiny-chat'))];
    expect(fromGguf.code).toBe(0);
    expect(JSON.parse(fromGguf.stdout).tokens).toHaveLength(6);
    expect(fromGguf.stdout).toBe(fromFolder.stdout);

    const inspect = await capture(['inspect', '--model', out, '--json']);
    expect(inspect.code).toBe(0);
    const model = JSON.parse(inspect.stdout).model;
    expect(model.layers).toBe(4);
    expect(model.dtypes).toMatchObject({ BF16: { tensors: 55 }, F32: { tensors: 35 } });
  });

  it('names what is missing or wrong', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-convert-'));
    const noTokenizer = await capture([
      'convert',
      '--model',
      path.join(FIXTURES, 'tiny'),
      '--to',
      path.join(dir, 'a.gguf'),
      '-q',
    ]);
    expect(noTokenizer.code).toBe(1);
    expect(noTokenizer.stderr).toContain('tokenizer.json');
    expect(noTokenizer.stderr).toContain('--tokenizer');
    expect(fs.readdirSync(dir)).toEqual([]);
    const badType = await capture(['convert', '--model', 'x', '--to', 'y.gguf', '--type', 'q4_k']);
    expect(badType.code).toBe(2);
    const notGguf = await capture(['convert', '--model', 'x', '--to', 'y.bin']);
    expect(notGguf.code).toBe(2);
    expect(notGguf.stderr).toContain('--to: "y.bin" must name a .gguf file');
  });
});
