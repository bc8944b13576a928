// Under the sanitizer step of .ci/run (which points node-gyp-build at build-sanitized/ and preloads libasan),
// checks that the addon the tests load really is the ASan + UBSan build, so that step cannot pass by testing
// the ordinary build. Skipped elsewhere (unless DSA_SANITIZED_RUN=1 says it is that step).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNative } from './native.js';

const folder = process.env['@DSA/BACKEND_CPU_PREBUILD'];

describe.skipIf(!folder && process.env.DSA_SANITIZED_RUN !== '1')('the sanitized cpu addon', () => {
  it('is the one loaded, with the ASan and UBSan runtimes mapped into the process', () => {
    const require = createRequire(import.meta.url);
    const resolve = (require('node-gyp-build') as { resolve(directory: string): string }).resolve;
    expect(folder, '@DSA/BACKEND_CPU_PREBUILD is not set: the ordinary build would be tested').toBeTruthy();
    const file = resolve(path.resolve(import.meta.dirname, '..'));
    expect(file).toBe(path.join(folder!, 'build', 'Release', 'dsa_cpu.node'));
    const native = loadNative();
    expect('addon' in native).toBe(true);
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    expect(maps).toMatch(/libasan\.so/);
    expect(maps).toMatch(/libubsan\.so/);
    expect(maps).toContain(file);
  });
});
