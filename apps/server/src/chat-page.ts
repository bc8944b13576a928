import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The folder with the page's files (`chat-page/` in this package; `src/` and `dist/` sit beside it). */
const PAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../chat-page');

/** URL path → file and content type of everything the page loads. */
const ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/chat/chat.js': { file: 'chat.js', type: 'text/javascript; charset=utf-8' },
  '/chat/chat.css': { file: 'chat.css', type: 'text/css; charset=utf-8' },
};

/**
 * Whether `url` is one of the chat page's own files, which load without the API key (the page then
 * asks for the key and sends it with its API calls).
 */
export function isChatPageAsset(url: string): boolean {
  return Object.hasOwn(ASSETS, url.split('?')[0]!);
}

/**
 * Serves the chat page at `/` and its script and stylesheet under `/chat/`, from memory (read once
 * here). The Content-Security-Policy allows nothing but this origin: the page works offline.
 */
export function chatPageRoute(app: FastifyInstance): void {
  for (const [route, asset] of Object.entries(ASSETS)) {
    const body = fs.readFileSync(path.join(PAGE_DIR, asset.file));
    app.get(route, async (_request, reply) => {
      reply
        .type(asset.type)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header(
          'content-security-policy',
          "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        );
      return body;
    });
  }
}
