import fs from 'node:fs';
import path from 'node:path';
import { type ListFileEntry, listFiles, modelInfo } from '@huggingface/hub';
import picomatch from 'picomatch';
import { cliSetting } from '../cli-settings.js';
import { type BlobChecksum, downloadBlob } from './download-blob.js';
import { COMMIT_HASH, hubCacheDir, repoCacheDir } from './hub-cache.js';
import type { ModelRef } from './model-ref.js';
import { PullError } from './pull-error.js';

/** The public hub, used when `HF_ENDPOINT` is unset. */
export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** Options of {@link pullModel}. */
export interface PullOptions {
  readonly ref: ModelRef;
  /** Glob patterns of repository paths to fetch (picomatch; default: every file). */
  readonly include?: readonly string[];
  /** Hub cache folder (default: {@link hubCacheDir}, from `HF_HUB_CACHE` / `HF_HOME`). */
  readonly cacheDir?: string;
  /** Hub URL (default: `HF_ENDPOINT`, else {@link DEFAULT_ENDPOINT}). */
  readonly endpoint?: string;
  /** Access token (default: `HF_TOKEN`), sent as `Authorization: Bearer`. */
  readonly token?: string;
  /** Transfers tried per file, each resuming the last (default 4). */
  readonly attempts?: number;
  /** Progress: called as bytes arrive and once per file as it is done (or found in the cache). */
  readonly onProgress?: (progress: PullProgress) => void;
  readonly fetch?: typeof fetch;
}

/** Where a pull stands. */
export interface PullProgress {
  readonly file: string;
  /** Bytes of `file` on disk so far. */
  readonly fileBytes: number;
  readonly fileSize: number;
  /** Bytes of every selected file on disk so far, and their total. */
  readonly bytes: number;
  readonly totalBytes: number;
  /** `downloading`, `done` (just verified), or `cached` (already in the cache). */
  readonly state: 'downloading' | 'done' | 'cached';
}

/** What {@link pullModel} fetched. */
export interface PullResult {
  /** The snapshot folder: a model folder usable as `--model`. */
  readonly snapshot: string;
  readonly commit: string;
  readonly files: readonly { readonly path: string; readonly size: number; readonly cached: boolean }[];
}

/** Refuses repository paths that would leave the snapshot folder. */
function checkRepoPath(file: string): void {
  const normal = path.posix.normalize(file);
  if (path.posix.isAbsolute(normal) || normal.startsWith('../') || normal === '..' || file.includes('\\'))
    throw new PullError('hub_refused', `the hub listed an unsafe path "${file}"`, file);
}

function checksumOf(entry: ListFileEntry): { etag: string; checksum: BlobChecksum } {
  if (entry.lfs) return { etag: entry.lfs.oid, checksum: { kind: 'sha256', value: entry.lfs.oid } };
  if (entry.oid) return { etag: entry.oid, checksum: { kind: 'git-sha1', value: entry.oid } };
  throw new PullError('hub_refused', `the hub lists no checksum for ${entry.path}`, entry.path);
}

/** A hub API failure as a sentence that says what to do. */
function hubError(error: unknown, ref: ModelRef, endpoint: string, token: string | undefined): PullError {
  const status = (error as { statusCode?: number }).statusCode;
  const name = `${ref.repo}@${ref.revision}`;
  const message =
    status === 401 || status === 403
      ? `${name}: ${endpoint} refused access (${status}); it may be private or gated: ${token ? 'check that HF_TOKEN grants it' : 'set HF_TOKEN to a token that grants it'}`
      : status === 404
        ? `${name}: no such model or revision on ${endpoint}`
        : `${name}: cannot reach ${endpoint}: ${(error as Error).message}`;
  return new PullError('hub_refused', message, undefined, { cause: error });
}

/**
 * Downloads a model repository from the hub into the Hugging Face cache layout (see
 * {@link repoCacheDir}): the revision is resolved to its commit (`@huggingface/hub` `modelInfo`),
 * files are listed with their LFS sha256 or git blob id (`listFiles`), filtered by `include`, and
 * fetched with resume and checksum checks ({@link downloadBlob}); files already in the cache are not
 * fetched again. Returns the snapshot folder.
 */
export async function pullModel(options: PullOptions): Promise<PullResult> {
  const { ref } = options;
  const endpoint = (options.endpoint ?? (cliSetting('hubEndpoint') || DEFAULT_ENDPOINT)).replace(/\/+$/, '');
  const token = options.token ?? (cliSetting('hubToken') || undefined);
  const credentials = token ? { accessToken: token } : {};
  const common = { hubUrl: endpoint, ...credentials, ...(options.fetch ? { fetch: options.fetch } : {}) };
  const storage = repoCacheDir(ref.repo, options.cacheDir ?? hubCacheDir());

  let commit: string;
  const entries: ListFileEntry[] = [];
  try {
    const info = await modelInfo({
      ...common,
      name: ref.repo,
      revision: ref.revision,
      additionalFields: ['sha'],
    });
    commit = (info as { sha?: string }).sha ?? '';
    if (!COMMIT_HASH.test(commit))
      throw new PullError(
        'hub_refused',
        `${ref.repo}@${ref.revision}: the hub gave no commit hash (got "${commit}")`,
      );
    for await (const entry of listFiles({
      ...common,
      repo: { type: 'model', name: ref.repo },
      revision: commit,
      recursive: true,
    }))
      if (entry.type === 'file') entries.push(entry);
  } catch (error) {
    if (error instanceof PullError) throw error;
    throw hubError(error, ref, endpoint, token);
  }
  const matches = options.include?.length ? picomatch([...options.include], { dot: true }) : () => true;
  const selected = entries.filter((e) => matches(e.path));
  if (selected.length === 0) {
    const listed = entries.map((e) => e.path);
    throw new PullError(
      'no_files',
      `${ref.repo}@${ref.revision}: no file matches --include ${options.include?.join(' ')} (the repository has ${listed.slice(0, 12).join(', ')}${listed.length > 12 ? ', …' : ''})`,
    );
  }
  const totalBytes = selected.reduce((sum, e) => sum + e.size, 0);
  const snapshot = path.join(storage, 'snapshots', commit);
  fs.mkdirSync(path.join(storage, 'blobs'), { recursive: true });
  let done = 0;
  const files: { path: string; size: number; cached: boolean }[] = [];
  for (const entry of selected) {
    checkRepoPath(entry.path);
    const { etag, checksum } = checksumOf(entry);
    const blob = path.join(storage, 'blobs', etag);
    const cached = fs.existsSync(blob) && fs.statSync(blob).size === entry.size;
    const report = (fileBytes: number, state: PullProgress['state']) =>
      options.onProgress?.({
        file: entry.path,
        fileBytes,
        fileSize: entry.size,
        bytes: done + fileBytes,
        totalBytes,
        state,
      });
    if (!cached) {
      await downloadBlob(
        {
          file: entry.path,
          url: `${endpoint}/${ref.repo}/resolve/${commit}/${entry.path.split('/').map(encodeURIComponent).join('/')}`,
          headers: token ? { authorization: `Bearer ${token}` } : {},
          size: entry.size,
          checksum,
        },
        blob,
        {
          ...(options.attempts !== undefined ? { attempts: options.attempts } : {}),
          ...(options.fetch ? { fetch: options.fetch } : {}),
          onBytes: (bytes) => report(bytes, 'downloading'),
        },
      );
    }
    // snapshots/<commit>/<path> -> ../../blobs/<etag> (relative, as the Hugging Face tools link them).
    const link = path.join(snapshot, entry.path);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.relative(path.dirname(link), blob), link);
    report(entry.size, cached ? 'cached' : 'done');
    done += entry.size;
    files.push({ path: entry.path, size: entry.size, cached });
  }
  if (!COMMIT_HASH.test(ref.revision)) {
    const refFile = path.join(storage, 'refs', ref.revision);
    fs.mkdirSync(path.dirname(refFile), { recursive: true });
    fs.writeFileSync(refFile, commit);
  }
  return { snapshot, commit, files };
}
