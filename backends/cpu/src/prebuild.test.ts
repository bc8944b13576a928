// The committed prebuilt binary (scripts/prebuild.mjs) and the install step that picks it or builds from source.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { nativeSourcesHash, PREBUILD_SOURCES_FILE } from '../scripts/sources-hash.mjs';
import type { NativeAddon } from './native.js';
import { loadNative, NO_BINARY_FIX } from './native.js';

const root = path.resolve(import.meta.dirname, '..');
const prebuilt = path.join(root, 'prebuilds/linux-x64/@dsa+backend-cpu.glibc.node');
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

/** A copy of the package's install inputs in a temp folder (node_modules linked), optionally without prebuilds. */
function packageCopy(options: { prebuilds: boolean; editSource?: boolean }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-cpu-install-'));
  for (const entry of [
    'package.json',
    'binding.gyp',
    'native',
    'scripts',
    ...(options.prebuilds ? ['prebuilds'] : []),
  ])
    fs.cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  if (options.editSource) fs.appendFileSync(path.join(dir, 'native/kernels.h'), '\n// edited\n');
  return dir;
}

/** Runs the install step in `dir` with only `node` on PATH (no python3, make or compiler). */
function install(dir: string) {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-path-'));
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const result = spawnSync(process.execPath, ['scripts/install.mjs'], {
    cwd: dir,
    encoding: 'utf8',
    env: { HOME: os.tmpdir(), PATH: bin },
    timeout: 60_000,
  });
  fs.rmSync(bin, { recursive: true });
  return result;
}

describe('prebuilt binary', () => {
  it('was built from the sources in native/ (else run `pnpm --filter @dsa/backend-cpu run make-prebuild`)', () => {
    const recorded = fs.readFileSync(path.join(root, PREBUILD_SOURCES_FILE), 'utf8').trim();
    expect(recorded).toBe(nativeSourcesHash(root));
  });

  it.runIf(onLinuxX64)('loads here, is small and stripped, and dispatches on the ISA at run time', () => {
    expect(fs.statSync(prebuilt).size).toBeLessThan(1_500_000);
    const addon = createRequire(import.meta.url)(prebuilt) as NativeAddon;
    const info = addon.info();
    // The same kernel set as the build the other tests load (from build/Release or this prebuild).
    const reference = loadNative();
    if ('error' in reference) throw reference.error;
    expect(info).toMatchObject({
      isaName: reference.addon.info().isaName,
      gemm: reference.addon.info().gemm,
    });
    expect(info.hardwareThreads).toBeGreaterThan(0);
    expect(fs.readFileSync(prebuilt).includes(Buffer.from('.debug_info'))).toBe(false);
  });

  it.runIf(onLinuxX64)('is what the install step picks when nothing was built, without a compiler', () => {
    const dir = packageCopy({ prebuilds: true });
    const result = install(dir);
    expect(result.stdout).toContain(
      '@dsa/backend-cpu: using the prebuilt binary prebuilds/linux-x64/@dsa+backend-cpu.glibc.node',
    );
    expect(result.status).toBe(0);
    expect(fs.existsSync(path.join(dir, 'build'))).toBe(false);
    fs.rmSync(dir, { recursive: true });
  });

  it('is passed over for a build from source, saying why, when none fits or the sources changed', () => {
    const none = packageCopy({ prebuilds: false });
    const result = install(none);
    expect(result.stdout).toContain(
      `@dsa/backend-cpu: no prebuilt binary for ${process.platform}-${process.arch} (prebuilt: none); building from source`,
    );
    // No python3, make or compiler on PATH: the build fails, the install goes on, and says how to fix it.
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('building the native addon failed');
    expect(result.stderr).toContain(
      'install python3, make and a C++17 compiler, then run `npm rebuild @dsa/backend-cpu`',
    );
    fs.rmSync(none, { recursive: true });
    if (!onLinuxX64) return;
    const edited = packageCopy({ prebuilds: true, editSource: true });
    expect(install(edited).stdout).toContain(
      'prebuilds/linux-x64/@dsa+backend-cpu.glibc.node was built from other sources than native/; building from source',
    );
    fs.rmSync(edited, { recursive: true });
  });

  it('a package with no usable binary reports the fix when loaded', () => {
    const missing = loadNative(fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-cpu-empty-')));
    expect('error' in missing && missing.error.message).toContain(NO_BINARY_FIX);
    expect(NO_BINARY_FIX).toContain('npm install-scripts approve @dsa/backend-cpu');
  });
});
