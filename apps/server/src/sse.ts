import type { FastifyReply } from 'fastify';

/** Writes Server-Sent Events: `data: {json}` chunks and the closing `data: [DONE]`. */
export class SseWriter {
  constructor(private readonly reply: FastifyReply) {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
  }

  send(data: unknown): void {
    if (!this.reply.raw.writableEnded) this.reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  done(): void {
    if (!this.reply.raw.writableEnded) this.reply.raw.end('data: [DONE]\n\n');
  }

  /** Reports an error inside an already started stream, then ends it. */
  fail(body: unknown): void {
    this.send(body);
    this.done();
  }
}
