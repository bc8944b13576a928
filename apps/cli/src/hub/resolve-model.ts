import fs from 'node:fs';
import { UsageError } from '../usage-error.js';
import { cachedSnapshot, hubCacheDir } from './hub-cache.js';
import { parseModelRef } from './model-ref.js';

/** How a `--model` value was resolved. */
export interface ResolvedModel {
  /** The folder (or file) to load. */
  readonly path: string;
  /** The hub repository when it came from the cache (`ORG/NAME`). */
  readonly repo?: string;
}

/**
 * Resolves a `--model` value: an existing local folder or file always wins; else `ORG/NAME[@REVISION]`
 * is looked up in the Hugging Face cache (pulled before with `dsa pull`); anything else is returned as
 * given, for the loader to report. A hub name that is not in the cache is a usage error that says to pull it.
 */
export function resolveModelArgument(value: string, cacheDir = hubCacheDir()): ResolvedModel {
  if (fs.existsSync(value)) return { path: value };
  const ref = parseModelRef(value);
  if (!ref) return { path: value };
  const snapshot = cachedSnapshot(ref, cacheDir);
  if (!snapshot)
    throw new UsageError(
      `--model "${value}": no such folder or file, and ${ref.repo}@${ref.revision} is not in the hub cache (${cacheDir}): run \`dsa pull ${value}\` first`,
    );
  return { path: snapshot, repo: ref.repo };
}
