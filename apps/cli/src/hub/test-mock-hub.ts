// Test support (excluded from the build): a hub on 127.0.0.1 that serves one model repository the way
// the Hugging Face hub does (the routes @huggingface/hub and `dsa pull` use), with faults on demand.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** A file of the mock repository; `lfs` files are listed with their sha256, the others with their git blob id. */
export interface MockFile {
  readonly path: string;
  readonly content: Buffer;
  readonly lfs: boolean;
}

/** Faults to inject, keyed by repository path. */
export interface MockFaults {
  /**
   * Stop after this many bytes, on the first `times` transfers of the file: `short` ends the response
   * there (sent chunked, without a length, as a truncating proxy would); `reset` drops the connection
   * mid-transfer (the client may lose what it received but had not read yet).
   */
  cut?: Record<string, { afterBytes: number; times: number; mode: 'short' | 'reset' }>;
  /** Serve the file with one byte flipped (the listing keeps the true checksum). */
  corrupt?: Set<string>;
}

/** A request the mock received: method, URL path and Range header. */
export interface MockRequest {
  readonly method: string;
  readonly url: string;
  readonly range: string | undefined;
  readonly authorization: string | undefined;
}

/** The mock hub. */
export interface MockHub {
  readonly url: string;
  readonly commit: string;
  readonly requests: MockRequest[];
  readonly faults: MockFaults;
  close(): Promise<void>;
}

/** The files of a folder (symlinks followed), as a repository where files of `lfsOver` bytes or more are LFS. */
export function folderFiles(dir: string, lfsOver = 1 << 20): MockFile[] {
  return fs
    .readdirSync(dir)
    .sort()
    .map((name) => {
      const content = fs.readFileSync(path.join(dir, name));
      return { path: name, content, lfs: content.length >= lfsOver };
    });
}

const gitBlobId = (content: Buffer) =>
  createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

/**
 * Starts a hub serving `repo` (`ORG/NAME`) at branch `main` = `commit`, with these files. With `token`,
 * every route needs `Authorization: Bearer <token>`.
 */
export async function startMockHub(
  repo: string,
  files: readonly MockFile[],
  options: { token?: string; commit?: string } = {},
): Promise<MockHub> {
  const commit = options.commit ?? 'c0ffee'.padEnd(40, '0');
  const requests: MockRequest[] = [];
  const faults: MockFaults = {};
  const served = new Map<string, number>();
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    requests.push({
      method: request.method ?? 'GET',
      url: url.pathname,
      range: request.headers.range,
      authorization: request.headers.authorization,
    });
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (options.token && request.headers.authorization !== `Bearer ${options.token}`)
      return json(401, { error: 'Invalid credentials in Authorization header' });
    const revisionOk = (revision: string) => revision === 'main' || revision === commit;
    const info = url.pathname.match(/^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/);
    if (info) {
      if (info[1] !== repo || !revisionOk(decodeURIComponent(info[2]!)))
        return json(404, { error: 'Repository not found' });
      return json(200, {
        _id: 'mock',
        id: repo,
        sha: commit,
        private: false,
        gated: false,
        downloads: 0,
        likes: 0,
        lastModified: '2026-01-01T00:00:00.000Z',
      });
    }
    const tree = url.pathname.match(/^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/);
    if (tree) {
      if (tree[1] !== repo || !revisionOk(decodeURIComponent(tree[2]!)))
        return json(404, { error: 'Revision not found' });
      return json(
        200,
        files.map((f) => ({
          type: 'file',
          path: f.path,
          size: f.content.length,
          oid: gitBlobId(f.content),
          ...(f.lfs ? { lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: 134 } } : {}),
        })),
      );
    }
    const resolve = url.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    const file =
      resolve && resolve[1] === repo && revisionOk(resolve[2]!)
        ? files.find((f) => f.path === decodeURIComponent(resolve[3]!))
        : undefined;
    if (!file) return json(404, { error: 'Entry not found' });
    let content = file.content;
    if (faults.corrupt?.has(file.path)) {
      content = Buffer.from(content);
      content[content.length >> 1]! ^= 0xff;
    }
    const range = request.headers.range?.match(/^bytes=(\d+)-$/);
    const start = range ? Number(range[1]) : 0;
    if (start >= content.length && content.length > 0) {
      response.writeHead(416, { 'content-range': `bytes */${content.length}` });
      return response.end();
    }
    const body = content.subarray(start);
    const cut = faults.cut?.[file.path];
    const count = served.get(file.path) ?? 0;
    served.set(file.path, count + 1);
    const cutNow = cut && count < cut.times;
    response.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      ...(cutNow && cut.mode === 'short' ? {} : { 'content-length': String(body.length) }),
      'accept-ranges': 'bytes',
      etag: `"${file.lfs ? sha256(file.content) : gitBlobId(file.content)}"`,
      ...(range ? { 'content-range': `bytes ${start}-${content.length - 1}/${content.length}` } : {}),
    });
    if (cutNow && cut.mode === 'short') {
      response.end(body.subarray(0, cut.afterBytes));
      return;
    }
    if (cutNow) {
      response.write(body.subarray(0, cut.afterBytes), () => {
        setTimeout(() => response.socket?.destroy(), 20);
      });
      return;
    }
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    commit,
    requests,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
