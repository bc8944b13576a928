import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const script = path.resolve(import.meta.dirname, '../scripts/build-kernels.mjs');

describe('scripts/build-kernels.mjs', () => {
  it('prints one line and succeeds when nvcc is absent', () => {
    const output = execFileSync(process.execPath, [script], {
      encoding: 'utf8',
      env: { ...process.env, NVCC: '/nonexistent/nvcc' },
    });
    expect(output).toBe('nvcc not found: CUDA kernels not built\n');
  });
});
