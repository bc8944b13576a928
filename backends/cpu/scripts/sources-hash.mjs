// The sha256 of what the native addon is built from (binding.gyp and every file under native/, in name
// order), recorded beside the prebuilt binaries so that the install can tell a prebuild of other sources.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Hex sha256 over `binding.gyp` and `native/*` of the package at `root` (names and contents). */
export function nativeSourcesHash(root) {
  const hash = createHash('sha256');
  const files = [
    'binding.gyp',
    ...fs
      .readdirSync(path.join(root, 'native'))
      .sort()
      .map((f) => `native/${f}`),
  ];
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(fs.readFileSync(path.join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Where the hash of the sources the committed prebuilds were built from is kept. */
export const PREBUILD_SOURCES_FILE = 'prebuilds/SOURCES.sha256';
