import fs from 'node:fs';
import path from 'node:path';

/** Where {@link lastLevelCacheBytes} reads (Linux sysfs and procfs); tests point it at a fake tree. */
export interface CacheSources {
  /** The sysfs CPU directory, `/sys/devices/system/cpu`. */
  readonly cpuRoot: string;
  /** A `/proc/<pid>/status` file whose `Cpus_allowed_list` names the cores the process may run on. */
  readonly statusFile: string;
}

const LINUX: CacheSources = { cpuRoot: '/sys/devices/system/cpu', statusFile: '/proc/self/status' };

/** Parses a kernel CPU list (`0-3,8,10-11`) into CPU numbers; null when it is not one. */
export function parseCpuList(text: string): number[] | null {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) return null;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) return null;
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** Parses a sysfs cache size (`32768K`, `1M`, `512`) into bytes; null when it is not one. */
export function parseCacheSize(text: string): number | null {
  const match = /^(\d+)\s*([KMG]?)$/i.exec(text.trim());
  if (!match) return null;
  const unit = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(match[1]) * unit;
}

const readText = (file: string): string | null => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** The cores the process may run on: `Cpus_allowed_list` of the status file, else every `cpuN` directory. */
function allowedCpus(sources: CacheSources): number[] {
  const listed = /^Cpus_allowed_list:\s*(\S+)/m.exec(readText(sources.statusFile) ?? '');
  const cpus = listed ? parseCpuList(listed[1]!) : null;
  if (cpus) return cpus;
  let names: string[] = [];
  try {
    names = fs.readdirSync(sources.cpuRoot);
  } catch {
    return [];
  }
  return names.flatMap((name) => /^cpu(\d+)$/.exec(name)?.[1] ?? []).map(Number);
}

/**
 * Bytes of last-level cache the cores this process runs on can use: the highest-level data or
 * unified cache of each allowed core (sysfs `cpuN/cache/indexM/{level,type,size,shared_cpu_list}`),
 * summed once per distinct instance (`shared_cpu_list`), so two cores on different L3 slices count
 * both. Null where sysfs has no cache information (not Linux, or a container that hides it).
 */
export function lastLevelCacheBytes(sources: CacheSources = LINUX): number | null {
  let level = 0;
  const instances = new Map<string, number>(); // shared_cpu_list → size, at `level`
  for (const cpu of allowedCpus(sources)) {
    const dir = path.join(sources.cpuRoot, `cpu${cpu}`, 'cache');
    let indices: string[];
    try {
      indices = fs.readdirSync(dir).filter((name) => /^index\d+$/.test(name));
    } catch {
      continue;
    }
    for (const index of indices) {
      const read = (field: string) => readText(path.join(dir, index, field))?.trim() ?? null;
      if (read('type') === 'Instruction') continue;
      const cacheLevel = Number(read('level'));
      const size = parseCacheSize(read('size') ?? '');
      if (!Number.isInteger(cacheLevel) || cacheLevel < 1 || size === null) continue;
      if (cacheLevel < level) continue;
      if (cacheLevel > level) {
        level = cacheLevel;
        instances.clear();
      }
      instances.set(read('shared_cpu_list') ?? `cpu${cpu}`, size);
    }
  }
  if (instances.size === 0) return null;
  let bytes = 0;
  for (const size of instances.values()) bytes += size;
  return bytes;
}

/** What a decode roofline fraction measures: main memory, or a working set the caches mostly hold. */
export type RooflineBasis = 'dram' | 'cache';

/**
 * `dram` when a decode step reads at least 4× the last-level cache (`bytesPerStep`: bytes_per_token × batch, so
 * the bytes stream from memory), `cache` when less (much of the step can be served from the cache, so the
 * fraction of the memory bandwidth it reaches is not a memory roofline); null when the cache size is unknown.
 */
export function rooflineBasis(bytesPerStep: number, llcBytes: number | null): RooflineBasis | null {
  if (llcBytes === null) return null;
  return bytesPerStep >= 4 * llcBytes ? 'dram' : 'cache';
}
