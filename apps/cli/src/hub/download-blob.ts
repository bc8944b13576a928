import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PullError } from './pull-error.js';

/** What the hub says a file's content hashes to. */
export type BlobChecksum =
  /** LFS files: sha256 of the content (the LFS oid). */
  | { readonly kind: 'sha256'; readonly value: string }
  /** Regular git files: the git blob id, sha1 of `blob <size>\0` + content (the hub's etag). */
  | { readonly kind: 'git-sha1'; readonly value: string };

/** One file to fetch into the cache. */
export interface BlobSource {
  /** Repository path, for messages. */
  readonly file: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Bytes the finished file must have. */
  readonly size: number;
  readonly checksum: BlobChecksum;
}

/** Options of {@link downloadBlob}. */
export interface DownloadOptions {
  /** Transfers tried before giving up, each resuming where the last stopped (default 4). */
  readonly attempts?: number;
  /** Called with the file's byte count after each received chunk (resumed bytes included). */
  readonly onBytes?: (bytes: number) => void;
  readonly fetch?: typeof fetch;
}

function startHash(checksum: BlobChecksum, size: number): Hash {
  if (checksum.kind === 'sha256') return createHash('sha256');
  return createHash('sha1').update(`blob ${size}\0`);
}

/** Feeds the bytes already on disk (a transfer to resume) into `hash`. */
async function hashExisting(file: string, hash: Hash): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
}

/**
 * Downloads `source` to `target` through `target.incomplete`: a transfer cut short resumes with an
 * HTTP Range request (in the same call, up to `attempts` times, or in a later call from what is on
 * disk); the content is hashed as it arrives and must match the hub's checksum and size before the
 * file is renamed into place. A mismatch deletes the partial file and throws a {@link PullError}.
 */
export async function downloadBlob(
  source: BlobSource,
  target: string,
  options: DownloadOptions = {},
): Promise<void> {
  const incomplete = `${target}.incomplete`;
  const attempts = options.attempts ?? 4;
  const get = options.fetch ?? fetch;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let start = fs.existsSync(incomplete) ? fs.statSync(incomplete).size : 0;
    if (start > source.size) {
      fs.rmSync(incomplete);
      start = 0;
    }
    const hash = startHash(source.checksum, source.size);
    try {
      if (start < source.size || source.size === 0) {
        const response = await get(source.url, {
          headers: { ...source.headers, ...(start > 0 ? { range: `bytes=${start}-` } : {}) },
        });
        if (response.status === 416 && start === source.size) {
          await response.body?.cancel();
        } else {
          if (!response.ok || !response.body) {
            const retry = response.status >= 500 || response.status === 408 || response.status === 429;
            await response.body?.cancel();
            const error = new PullError(
              'transfer_failed',
              `${source.file}: the hub answered ${response.status} ${response.statusText} for ${source.url}`,
              source.file,
            );
            if (!retry) throw error;
            lastError = error;
            continue;
          }
          const resumed = response.status === 206;
          if (resumed) await hashExisting(incomplete, hash);
          else start = 0;
          let bytes = start;
          options.onBytes?.(bytes);
          const count = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              hash.update(chunk);
              bytes += chunk.length;
              options.onBytes?.(bytes);
              done(null, chunk);
            },
          });
          const out = fs.createWriteStream(incomplete, { flags: resumed ? 'a' : 'w' });
          try {
            await pipeline(
              Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
              count,
              out,
            );
          } finally {
            // A failed pipeline destroys the file stream, which closes after its write in flight: wait, so
            // that the next try resumes from the final size and no late write lands after it.
            if (!out.closed) await once(out, 'close');
          }
        }
      } else {
        await hashExisting(incomplete, hash);
      }
    } catch (error) {
      if (error instanceof PullError) throw error;
      lastError = error;
      continue;
    }
    const size = fs.existsSync(incomplete) ? fs.statSync(incomplete).size : 0;
    if (size < source.size) {
      lastError = new Error(`the transfer ended at byte ${size} of ${source.size}`);
      continue;
    }
    const digest = hash.digest('hex');
    if (size !== source.size || digest !== source.checksum.value) {
      fs.rmSync(incomplete, { force: true });
      throw new PullError(
        'checksum_mismatch',
        `${source.file}: the downloaded file is corrupt (${size} bytes, ${source.checksum.kind} ${digest}; the hub lists ${source.size} bytes, ${source.checksum.value}); it was deleted, pull again`,
        source.file,
      );
    }
    fs.renameSync(incomplete, target);
    return;
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  const kept = fs.existsSync(incomplete) ? fs.statSync(incomplete).size : 0;
  throw new PullError(
    'transfer_failed',
    `${source.file}: the transfer failed ${attempts} time(s) (${reason}); ${kept} bytes are kept in ${incomplete} and the next pull resumes from there`,
    source.file,
    { cause: lastError },
  );
}
