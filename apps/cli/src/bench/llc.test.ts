import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lastLevelCacheBytes, parseCacheSize, parseCpuList, rooflineBasis } from './llc.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

interface FakeCache {
  level: number;
  type: 'Data' | 'Instruction' | 'Unified';
  size: string;
  shared: string;
}

/** A fake sysfs CPU tree in a temp dir: `caches[cpu]` become cpuN/cache/indexM, plus a status file. */
function fakeTree(caches: FakeCache[][], allowed?: string) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-llc-'));
  roots.push(root);
  const cpuRoot = path.join(root, 'cpu');
  caches.forEach((list, cpu) => {
    list.forEach((cache, index) => {
      const dir = path.join(cpuRoot, `cpu${cpu}`, 'cache', `index${index}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'level'), `${cache.level}\n`);
      fs.writeFileSync(path.join(dir, 'type'), `${cache.type}\n`);
      fs.writeFileSync(path.join(dir, 'size'), `${cache.size}\n`);
      fs.writeFileSync(path.join(dir, 'shared_cpu_list'), `${cache.shared}\n`);
    });
  });
  fs.mkdirSync(cpuRoot, { recursive: true });
  fs.writeFileSync(path.join(cpuRoot, 'online'), '0-3\n'); // not a cpuN directory: ignored
  const statusFile = path.join(root, 'status');
  fs.writeFileSync(
    statusFile,
    allowed === undefined ? 'Name:\tnode\n' : `Name:\tnode\nCpus_allowed_list:\t${allowed}\n`,
  );
  return { cpuRoot, statusFile };
}

/** A core with private L1d/L1i/L2 and an L3 of `l3` shared by `shared`. */
const core = (cpu: number, l3: string, shared: string): FakeCache[] => [
  { level: 1, type: 'Data', size: '48K', shared: `${cpu}` },
  { level: 1, type: 'Instruction', size: '32K', shared: `${cpu}` },
  { level: 2, type: 'Unified', size: '1024K', shared: `${cpu}` },
  { level: 3, type: 'Unified', size: l3, shared },
];

describe('parseCpuList / parseCacheSize', () => {
  it('reads kernel CPU lists and cache sizes', () => {
    expect(parseCpuList('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList('5')).toEqual([5]);
    expect(parseCpuList('3-1')).toBeNull();
    expect(parseCpuList('a-b')).toBeNull();
    expect(parseCacheSize('32768K')).toBe(32 * 2 ** 20);
    expect(parseCacheSize('260M')).toBe(260 * 2 ** 20);
    expect(parseCacheSize('512')).toBe(512);
    expect(parseCacheSize('big')).toBeNull();
  });
});

describe('lastLevelCacheBytes', () => {
  it('counts one shared L3 once for two cores (the 2-core EPYC: 32 MiB)', () => {
    const tree = fakeTree([core(0, '32768K', '0-1'), core(1, '32768K', '0-1')], '0-1');
    expect(lastLevelCacheBytes(tree)).toBe(32 * 2 ** 20);
  });

  it('sums distinct L3 instances of the allowed cores only', () => {
    // Two CCDs of 32 MiB (cpus 0-1 and 2-3); allowed on one core of each, then on one CCD only.
    const caches = [0, 1, 2, 3].map((cpu) => core(cpu, '32768K', cpu < 2 ? '0-1' : '2-3'));
    expect(lastLevelCacheBytes(fakeTree(caches, '1,2'))).toBe(64 * 2 ** 20);
    expect(lastLevelCacheBytes(fakeTree(caches, '0-1'))).toBe(32 * 2 ** 20);
    // No Cpus_allowed_list: every cpuN directory.
    expect(lastLevelCacheBytes(fakeTree(caches))).toBe(64 * 2 ** 20);
  });

  it('takes the highest level present (an L2-only core) and skips instruction caches', () => {
    const caches: FakeCache[][] = [
      [
        { level: 1, type: 'Data', size: '32K', shared: '0' },
        { level: 2, type: 'Instruction', size: '4096K', shared: '0' }, // not data: ignored
        { level: 2, type: 'Unified', size: '2048K', shared: '0' },
      ],
    ];
    expect(lastLevelCacheBytes(fakeTree(caches, '0'))).toBe(2 * 2 ** 20);
  });

  it('is null without sysfs cache information', () => {
    const missing = path.join(os.tmpdir(), 'dsa-llc-does-not-exist');
    expect(lastLevelCacheBytes({ cpuRoot: missing, statusFile: path.join(missing, 'status') })).toBeNull();
    // cpuN directories without cache/ (a container that hides it), or unreadable sizes.
    expect(lastLevelCacheBytes(fakeTree([[]], '0'))).toBeNull();
    expect(
      lastLevelCacheBytes(fakeTree([[{ level: 3, type: 'Unified', size: '?', shared: '0' }]], '0')),
    ).toBeNull();
  });
});

describe('rooflineBasis', () => {
  const llc = 32 * 2 ** 20;
  it('is dram from 4× the last-level cache, cache below, null when unknown', () => {
    expect(rooflineBasis(4 * llc, llc)).toBe('dram');
    expect(rooflineBasis(3.36e9, llc)).toBe('dram'); // v32-dims fp8 at depth 4096
    expect(rooflineBasis(4 * llc - 1, llc)).toBe('cache');
    expect(rooflineBasis(151e6, 260 * 2 ** 20)).toBe('cache'); // small on a 260 MiB-L3 Xeon
    expect(rooflineBasis(151e6, llc)).toBe('dram'); // small on a 32 MiB-L3 EPYC
    expect(rooflineBasis(151e6, null)).toBeNull();
  });
});
