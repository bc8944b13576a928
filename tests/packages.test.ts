// Publishability, kept true in CI: pnpm pack + publint + attw for every package, and two consumer
// projects installed with plain npm from the tarballs, outside the workspace (tools/pack/check-packages.mjs).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** Runs tools/pack/`script` with node and returns what it printed. */
function runPackTool(script: string): string {
  return execFileSync('node', [path.resolve(import.meta.dirname, '../tools/pack', script)], {
    encoding: 'utf8',
    timeout: 280_000,
  });
}

describe('packages as users install them', () => {
  it('pack cleanly (publint, attw) and work from tarballs in fresh npm projects', () => {
    const output = runPackTool('check-packages.mjs');
    console.log(output);
    expect(output).toContain('consumer runtime: installed');
    expect(output).toContain(
      'consumer runtime: no compiler on PATH, the cpu backend ran on its prebuilt binary',
    );
    expect(output).toContain('"matches_plain_js":true');
    expect(output.trim().endsWith('package checks passed')).toBe(true);
  }, 300_000);

  it('release dry run: changeset version writes changelogs, bumps all packages together, and they pack', () => {
    const output = runPackTool('release-dry-run.mjs');
    expect(output).toMatch(
      /release dry run: \d+ changesets -> version \d+\.\d+\.\d+ for \d+ packages, changelogs written, all packed/,
    );
  }, 300_000);

  it('the API docs build cleanly: every exported symbol documented, warnings are errors', () => {
    const output = execFileSync('pnpm', ['run', 'docs'], {
      cwd: path.resolve(import.meta.dirname, '..'),
      encoding: 'utf8',
      timeout: 280_000,
    });
    expect(output).toContain('html generated at ./docs/api');
    expect(output).not.toMatch(/\[warning\]/);
  }, 300_000);
});
