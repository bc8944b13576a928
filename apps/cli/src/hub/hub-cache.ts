import fs from 'node:fs';
import path from 'node:path';
import { getHFHubCachePath, getRepoFolderName } from '@huggingface/hub';
import type { ModelRef } from './model-ref.js';

/** A full git commit hash, as the hub names snapshots. */
export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/**
 * The hub cache folder of the Hugging Face tools: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
 * `$XDG_CACHE_HOME/huggingface/hub` or `~/.cache/huggingface/hub`.
 */
export function hubCacheDir(): string {
  return getHFHubCachePath();
}

/**
 * Where a model repository lives in the cache (`models--ORG--NAME`), with the layout the Hugging Face
 * tools share: `blobs/<etag>` (file contents by LFS sha256 or git blob id), `snapshots/<commit>/<path>`
 * (relative symlinks to blobs), `refs/<revision>` (the commit a branch or tag pointed to when pulled).
 */
export function repoCacheDir(repo: string, cacheDir = hubCacheDir()): string {
  return path.join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
}

/** The commit a revision resolves to in the cache: itself when it is a hash, else `refs/<revision>`. */
export function cachedCommit(ref: ModelRef, cacheDir = hubCacheDir()): string | undefined {
  if (COMMIT_HASH.test(ref.revision)) return ref.revision;
  const file = path.join(repoCacheDir(ref.repo, cacheDir), 'refs', ref.revision);
  if (!fs.existsSync(file)) return undefined;
  const commit = fs.readFileSync(file, 'utf8').trim();
  return COMMIT_HASH.test(commit) ? commit : undefined;
}

/** The snapshot folder of a pulled revision, or `undefined` when it is not in the cache. */
export function cachedSnapshot(ref: ModelRef, cacheDir = hubCacheDir()): string | undefined {
  const commit = cachedCommit(ref, cacheDir);
  if (!commit) return undefined;
  const dir = path.join(repoCacheDir(ref.repo, cacheDir), 'snapshots', commit);
  return fs.existsSync(dir) ? dir : undefined;
}
