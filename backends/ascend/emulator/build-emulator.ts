// Builds the CANN emulator (emulator/src/*.c) into emulator/build/ with the system C compiler,
// only when a source is newer than the libraries. Used by the tests; never by the backend itself.
// With DSA_EMULATOR_SANITIZE=1 (the sanitizer step of .ci/run) it builds with AddressSanitizer and
// UndefinedBehaviorSanitizer into emulator/build-sanitized/ instead; the process must then preload libasan.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = import.meta.dirname;
const SANITIZE = process.env.DSA_EMULATOR_SANITIZE === '1';
/** Folder the emulator libraries are built into (git-ignored). */
export const EMULATOR_DIR = path.join(ROOT, SANITIZE ? 'build-sanitized' : 'build');
/** Compiler flags: optimized, or instrumented with ASan + UBSan (every report fatal). */
const FLAGS = SANITIZE
  ? ['-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=all']
  : ['-O2'];

const LIBRARIES: { name: string; sources: string[]; links: string[] }[] = [
  { name: 'libascendcl.so', sources: ['runtime.c'], links: [] },
  { name: 'libnnopbase.so', sources: ['tensor.c'], links: ['-lascendcl'] },
  { name: 'libopapi.so', sources: ['ops.c', 'moe-ops.c'], links: ['-lnnopbase', '-lascendcl'] },
  { name: 'libcust_opapi.so', sources: ['dsa-ops.c'], links: ['-lnnopbase', '-lascendcl'] },
];

/** Builds the emulator if needed and returns the folder to put in `DSA_ASCEND_LIB_DIR`. */
export function buildEmulator(): string {
  const sources = fs.readdirSync(path.join(ROOT, 'src')).map((f) => path.join(ROOT, 'src', f));
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  const fresh = LIBRARIES.every((lib) => {
    const file = path.join(EMULATOR_DIR, lib.name);
    return fs.existsSync(file) && fs.statSync(file).mtimeMs >= newest;
  });
  if (fresh) return EMULATOR_DIR;
  // Build in a private folder, then rename into place: parallel test workers never see half a library.
  const scratch = path.join(EMULATOR_DIR, `.tmp-${process.pid}`);
  fs.mkdirSync(scratch, { recursive: true });
  const cc = process.env.CC ?? 'cc';
  for (const lib of LIBRARIES) {
    execFileSync(cc, [
      '-std=c11',
      ...FLAGS,
      '-fPIC',
      '-shared',
      '-Wall',
      '-Wextra',
      '-D_GNU_SOURCE',
      `-Wl,-soname,${lib.name}`,
      '-o',
      path.join(scratch, lib.name),
      ...lib.sources.map((s) => path.join(ROOT, 'src', s)),
      `-L${scratch}`,
      ...lib.links,
      '-Wl,-rpath,$ORIGIN',
      '-lm',
    ]);
  }
  for (const lib of LIBRARIES) fs.renameSync(path.join(scratch, lib.name), path.join(EMULATOR_DIR, lib.name));
  fs.rmSync(scratch, { recursive: true, force: true });
  return EMULATOR_DIR;
}
