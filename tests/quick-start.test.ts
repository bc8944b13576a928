// The README's Quick start, kept true: its first command's main job (after the install) runs and prints the
// demo model's English answer, which tests/demo-model.test.ts ties to the trainer's own greedy tokens.
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

describe('README Quick start', () => {
  it('the main job prints the demo model answer', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const block = readme.slice(readme.indexOf('## Quick start')).split('```sh\n')[1]!.split('```')[0]!;
    const first = block.split('\n').find((line) => line.startsWith('corepack enable'))!;
    const job = first.split('pnpm install && ')[1]!;
    expect(job).toMatch(/^pnpm dsa generate --model packages\/demo-model --chat /);
    const output = execSync(job.replace(/^pnpm dsa /, 'pnpm -s dsa '), {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    expect(output.trim()).toBe('In hacker slang, a hacker: A person who is not a hacker.');
  }, 150_000);
});
