import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { withAtomicFile, writeFileAtomic } from './atomic-file.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-atomic-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Files in `dir` other than the final names: what a failed write might leave behind. */
function leftovers(dir: string, finals: string[]): string[] {
  return fs.readdirSync(dir).filter((f) => !finals.includes(f));
}

/** `file` holds `contents` and nothing else is left in its folder. */
function expectOnly(file: string, contents: string): void {
  expect(fs.readFileSync(file, 'utf8')).toBe(contents);
  expect(leftovers(path.dirname(file), [path.basename(file)])).toEqual([]);
}

describe('withAtomicFile', () => {
  it('replaces the target only once the write has finished', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'ok-'));
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, 'old');
    await withAtomicFile(file, async (handle, temporary) => {
      await handle.write('new contents');
      expect(fs.readFileSync(file, 'utf8')).toBe('old');
      expect(path.dirname(temporary)).toBe(dir);
    });
    expectOnly(file, 'new contents');
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('keeps the old file and removes the half file when the disk fills mid-way (ENOSPC)', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'enospc-'));
    const file = path.join(dir, 'model.safetensors');
    fs.writeFileSync(file, 'the old model');
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
      errno: -28,
      syscall: 'write',
    });
    let written = 0;
    const error = await withAtomicFile(file, async (handle) => {
      const chunk = new Uint8Array(1 << 16).fill(7);
      for (let i = 0; i < 4; i++) written += (await handle.write(chunk)).bytesWritten;
      throw full;
    }).catch((e: unknown) => e);
    expect(written).toBe(4 << 16);
    expect(error).toBe(full);
    expectOnly(file, 'the old model');
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('leaves no file at all when there was none before and the write fails', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'none-'));
    const file = path.join(dir, 'new.json');
    await expect(
      withAtomicFile(file, async (handle) => {
        await handle.write('{"half":');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('writeFileAtomic writes strings and bytes', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'plain-'));
    await writeFileAtomic(path.join(dir, 'a.txt'), 'hello');
    await writeFileAtomic(path.join(dir, 'b.bin'), Uint8Array.of(1, 2, 3));
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('hello');
    expect([...fs.readFileSync(path.join(dir, 'b.bin'))]).toEqual([1, 2, 3]);
    expect(leftovers(dir, ['a.txt', 'b.bin'])).toEqual([]);
  });
});

// The child runs the built module (Node 20 cannot import .ts); `pnpm test` builds before testing.
const built = fileURLToPath(new URL('../../dist/checkpoint/atomic-file.js', import.meta.url));

describe.skipIf(!fs.existsSync(built))('withAtomicFile in a process interrupted mid-write', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: the process dies of the signal, the old file stays and the temporary file is gone`, async () => {
      const dir = fs.mkdtempSync(path.join(tmp, `${signal}-`));
      const file = path.join(dir, 'model.safetensors');
      fs.writeFileSync(file, 'the old model');
      // Writes 1 MiB chunks forever (a large file), reporting the first chunk on stdout.
      const script = `
        const { withAtomicFile } = await import(${JSON.stringify(built)});
        await withAtomicFile(${JSON.stringify(file)}, async (handle) => {
          const chunk = new Uint8Array(1 << 20).fill(1);
          for (let i = 0; ; i++) {
            await handle.write(chunk);
            if (i === 8) process.stdout.write('writing\\n');
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        });`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', () => reject(new Error(`child exited early: ${stderr}`)));
      });
      const temporaries = leftovers(dir, ['model.safetensors']);
      expect(temporaries).toHaveLength(1);
      expect(fs.statSync(path.join(dir, temporaries[0]!)).size).toBeGreaterThan(8 << 20);
      const exited = new Promise<[number | null, string | null]>((resolve) =>
        child.once('exit', (code, sig) => resolve([code, sig])),
      );
      child.kill(signal);
      expect(await exited).toEqual([null, signal]);
      expectOnly(file, 'the old model');
    }, 30_000);
  }
});
