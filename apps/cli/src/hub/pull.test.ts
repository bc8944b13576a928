import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedSnapshot, repoCacheDir } from './hub-cache.js';
import { parseModelRef } from './model-ref.js';
import { pullModel } from './pull.js';
import { PullError } from './pull-error.js';
import { resolveModelArgument } from './resolve-model.js';
import { folderFiles, type MockHub, startMockHub } from './test-mock-hub.js';

const fixture = path.resolve(import.meta.dirname, '../../../../fixtures/tiny-chat');
const files = folderFiles(fixture);
const REPO = 'dsa-test/tiny-chat';
const TOKEN = 'hf_mocktoken';
let hub: MockHub;
let cacheDir: string;

beforeEach(async () => {
  hub = await startMockHub(REPO, files, { token: TOKEN });
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-hub-cache-'));
});
afterEach(async () => {
  await hub.close();
  fs.rmSync(cacheDir, { recursive: true, force: true });
});

const pull = (over: Partial<Parameters<typeof pullModel>[0]> = {}) =>
  pullModel({ ref: parseModelRef(REPO)!, cacheDir, endpoint: hub.url, token: TOKEN, ...over });
const downloads = (file: string) =>
  hub.requests.filter((r) => r.url === `/${REPO}/resolve/${hub.commit}/${file}`);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const weights = files.find((f) => f.path === 'model.safetensors')!;

describe('pullModel against a mock hub', () => {
  it('fills the Hugging Face cache layout: blobs by checksum, snapshot symlinks, refs/main', async () => {
    expect(weights.lfs).toBe(true);
    const result = await pull();
    const storage = repoCacheDir(REPO, cacheDir);
    expect(storage).toBe(path.join(cacheDir, 'models--dsa-test--tiny-chat'));
    expect(result.snapshot).toBe(path.join(storage, 'snapshots', hub.commit));
    expect(fs.readFileSync(path.join(storage, 'refs/main'), 'utf8')).toBe(hub.commit);
    expect(result.files.map((f) => f.path)).toEqual(files.map((f) => f.path));
    for (const file of files) {
      const link = path.join(result.snapshot, file.path);
      const target = fs.readlinkSync(link);
      expect(path.isAbsolute(target)).toBe(false);
      expect(target.startsWith('../../blobs/')).toBe(true);
      expect(fs.readFileSync(link).equals(file.content)).toBe(true);
    }
    // LFS blobs are named by sha256, regular files by their git blob id.
    expect(fs.existsSync(path.join(storage, 'blobs', sha256(weights.content)))).toBe(true);
    const config = files.find((f) => f.path === 'config.json')!;
    const blobId = createHash('sha1')
      .update(`blob ${config.content.length}\0`)
      .update(config.content)
      .digest('hex');
    expect(fs.readlinkSync(path.join(result.snapshot, 'config.json'))).toBe(`../../blobs/${blobId}`);
    // The token went with every request.
    expect(hub.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(cachedSnapshot({ repo: REPO, revision: 'main' }, cacheDir)).toBe(result.snapshot);
  });

  it('fetches nothing again when the files are cached, and honours --include globs', async () => {
    await pull({ include: ['*.json'] });
    expect(downloads('model.safetensors')).toHaveLength(0);
    expect(downloads('config.json')).toHaveLength(1);
    const second = await pull();
    expect(second.files.filter((f) => f.cached).map((f) => f.path)).toEqual([
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(downloads('config.json')).toHaveLength(1);
    expect(downloads('model.safetensors')).toHaveLength(1);
    await expect(pull({ include: ['*.gguf'] })).rejects.toThrow(
      /no file matches --include \*\.gguf \(the repository has config\.json/,
    );
  });

  it('resumes a transfer cut short with a Range request, in the same pull', async () => {
    hub.faults.cut = { 'model.safetensors': { afterBytes: 1 << 20, times: 1, mode: 'short' } };
    const progress: number[] = [];
    const result = await pull({
      onProgress: (p) => {
        if (p.file === 'model.safetensors') progress.push(p.fileBytes);
      },
    });
    const tries = downloads('model.safetensors');
    expect(tries).toHaveLength(2);
    expect(tries[0]!.range).toBeUndefined();
    expect(tries[1]!.range).toBe(`bytes=${1 << 20}-`);
    expect(fs.readFileSync(path.join(result.snapshot, 'model.safetensors')).equals(weights.content)).toBe(
      true,
    );
    expect(progress.at(-1)).toBe(weights.content.length);
  });

  it('finishes after dropped connections, resuming or restarting each time', async () => {
    hub.faults.cut = { 'model.safetensors': { afterBytes: 1 << 20, times: 2, mode: 'reset' } };
    const result = await pull();
    expect(downloads('model.safetensors')).toHaveLength(3);
    expect(fs.readFileSync(path.join(result.snapshot, 'model.safetensors')).equals(weights.content)).toBe(
      true,
    );
  });

  it('keeps the partial file when every try fails, and the next pull resumes it', async () => {
    hub.faults.cut = { 'model.safetensors': { afterBytes: 1 << 20, times: 1, mode: 'short' } };
    const error = await pull({ attempts: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullError);
    expect(error).toMatchObject({ code: 'transfer_failed', file: 'model.safetensors' });
    const partial = path.join(repoCacheDir(REPO, cacheDir), 'blobs', `${sha256(weights.content)}.incomplete`);
    const kept = fs.statSync(partial).size;
    expect(kept).toBe(1 << 20);
    expect((error as Error).message).toContain(
      `${kept} bytes are kept in ${partial} and the next pull resumes from there`,
    );
    const result = await pull({ attempts: 1 });
    expect(downloads('model.safetensors').at(-1)!.range).toBe(`bytes=${kept}-`);
    expect(fs.readFileSync(path.join(result.snapshot, 'model.safetensors')).equals(weights.content)).toBe(
      true,
    );
    expect(fs.existsSync(partial)).toBe(false);
  });

  it('rejects a corrupted file by its checksum and keeps nothing of it', async () => {
    hub.faults.corrupt = new Set(['model.safetensors', 'tokenizer.json']);
    const error = await pull({ include: ['model.safetensors'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'PullError', code: 'checksum_mismatch', file: 'model.safetensors' });
    expect((error as Error).message).toContain(
      `the hub lists ${weights.content.length} bytes, ${sha256(weights.content)}`,
    );
    const blobs = fs.readdirSync(path.join(repoCacheDir(REPO, cacheDir), 'blobs'));
    expect(blobs).toEqual([]);
    // A regular (non-LFS) file is checked against its git blob id.
    await expect(pull({ include: ['tokenizer.json'] })).rejects.toThrow(
      /tokenizer\.json: the downloaded file is corrupt .* git-sha1/,
    );
  });

  it('says what to do when the hub refuses', async () => {
    await expect(pull({ token: 'hf_wrong' })).rejects.toThrow(
      `${REPO}@main: ${hub.url} refused access (401); it may be private or gated: check that HF_TOKEN grants it`,
    );
    await expect(pull({ ref: { repo: 'dsa-test/missing', revision: 'main' } })).rejects.toThrow(
      `dsa-test/missing@main: no such model or revision on ${hub.url}`,
    );
  });
});

describe('--model ORG/NAME', () => {
  it('resolves from the cache; a local path of the same shape wins; a missing one says to pull', async () => {
    const result = await pull();
    expect(resolveModelArgument(REPO, cacheDir)).toEqual({ path: result.snapshot, repo: REPO });
    expect(resolveModelArgument(`${REPO}@${hub.commit}`, cacheDir).path).toBe(result.snapshot);
    // `fixtures/tiny-chat` exists in the working directory (the repo root): the local folder wins.
    const local = await startMockHub('fixtures/tiny-chat', files);
    await pullModel({ ref: parseModelRef('fixtures/tiny-chat')!, cacheDir, endpoint: local.url });
    await local.close();
    expect(resolveModelArgument('fixtures/tiny-chat', cacheDir)).toEqual({ path: 'fixtures/tiny-chat' });
    expect(() => resolveModelArgument('dsa-test/other@v2', cacheDir)).toThrow(
      `--model "dsa-test/other@v2": no such folder or file, and dsa-test/other@v2 is not in the hub cache (${cacheDir}): run \`dsa pull dsa-test/other@v2\` first`,
    );
    expect(resolveModelArgument('/no/such/folder', cacheDir)).toEqual({ path: '/no/such/folder' });
  });

  it('parses hub names and refuses other shapes', () => {
    expect(parseModelRef('deepseek-ai/DeepSeek-V3.2-Exp@refs/pr/1')).toEqual({
      repo: 'deepseek-ai/DeepSeek-V3.2-Exp',
      revision: 'refs/pr/1',
    });
    expect(parseModelRef('a/b/c')).toBeUndefined();
    expect(parseModelRef('./models')).toBeUndefined();
    expect(parseModelRef('org/name@../x')).toBeUndefined();
    expect(parseModelRef('org/na--me')).toBeUndefined();
  });
});
