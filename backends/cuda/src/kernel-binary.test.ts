import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readKernelBinary } from './kernel-binary.js';

const dirs: string[] = [];
function build(manifest: object, files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-kernels-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'dsa-kernels.fatbin'), 'main image');
  fs.writeFileSync(path.join(dir, 'dsa-kernels.json'), JSON.stringify(manifest));
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
  return path.join(dir, 'dsa-kernels.fatbin');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('readKernelBinary', () => {
  it('reads the architecture-specific modules the manifest lists beside the fatbin', () => {
    const fatbin = build(
      {
        archs: ['sm_80', 'sm_90a'],
        kernels: ['dsa_a'],
        modules: [{ file: 'dsa-kernels.x.sm90a.fatbin', arch: 'sm_90a', kernels: ['dsa_x'] }],
      },
      { 'dsa-kernels.x.sm90a.fatbin': 'hopper image' },
    );
    const binary = readKernelBinary(fatbin);
    if ('error' in binary) throw new Error(binary.error);
    expect(binary.kernels).toEqual(['dsa_a']);
    expect(binary.modules).toHaveLength(1);
    expect(binary.modules[0]!.arch).toBe('sm_90a');
    expect(binary.modules[0]!.kernels).toEqual(['dsa_x']);
    expect(new TextDecoder().decode(binary.modules[0]!.image)).toBe('hopper image');
  });

  it('names a listed module that is missing', () => {
    const fatbin = build(
      {
        archs: ['sm_90a'],
        kernels: [],
        modules: [{ file: 'gone.sm90a.fatbin', arch: 'sm_90a', kernels: [] }],
      },
      {},
    );
    const binary = readKernelBinary(fatbin);
    expect('error' in binary && binary.error).toMatch(/gone\.sm90a\.fatbin .*is missing/);
  });

  it('has no modules when the manifest lists none', () => {
    const binary = readKernelBinary(build({ archs: ['sm_80'], kernels: ['dsa_a'] }, {}));
    expect('error' in binary ? binary.error : binary.modules).toEqual([]);
  });
});
