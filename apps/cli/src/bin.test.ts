import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = path.resolve(import.meta.dirname, '../dist/bin.js');

describe('dsa bin', () => {
  it('ends quietly with status 0 when its reader closes the pipe (dsa … --help | head -1)', () => {
    // prints node's status, then what it wrote to stderr
    const script = `{ "${process.execPath}" "${bin}" make-model --help 2>&3 | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"; } 3>&1`;
    const output = execFileSync('bash', ['-c', script], { encoding: 'utf8' });
    expect(output.trim().split('\n').at(-1)).toBe('0');
    expect(output).not.toMatch(/EPIPE|Unhandled/);
  });
});
