import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** One saved input of a fuzz corpus. */
export interface FuzzCorpusEntry {
  /** File name, which says what the input once broke. */
  readonly name: string;
  /** The input's bytes. */
  readonly bytes: Uint8Array;
}

/**
 * The inputs that once failed a property, kept in `folder` (one file each, named after the failure) and
 * replayed as ordinary tests. A missing folder is an empty corpus; README files are skipped.
 */
export function fuzzCorpus(folder: string): FuzzCorpusEntry[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  return names
    .filter((name) => !/^readme/i.test(name))
    .sort()
    .map((name) => ({ name, bytes: new Uint8Array(readFileSync(path.join(folder, name))) }));
}
