import { createHash, timingSafeEqual } from 'node:crypto';
import type { Engine, Tokenizer } from '@dsa/runtime';
import cors from '@fastify/cors';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { chatPageRoute, isChatPageAsset } from './chat-page.js';
import { prometheusMetrics } from './metrics.js';
import { OpenAIError } from './openai-error.js';
import { chatCompletionsRoute } from './routes/chat-completions.js';
import { completionsRoute } from './routes/completions.js';
import type { ServerContext } from './server-context.js';

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The engine that runs the requests. */
  readonly engine: Engine;
  /** Tokenizer of the model: chat template, encoding and decoding. */
  readonly tokenizer: Tokenizer;
  /** The id clients send as `model` (default: "dsa"). */
  readonly modelName?: string;
  /** When set, every route but /health needs `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** Default max tokens when a request gives none (default: up to the context). */
  readonly defaultMaxTokens?: number;
  /** Largest request body in bytes (default {@link DEFAULT_BODY_LIMIT}, 8 MiB); larger bodies get a 413. */
  readonly bodyLimit?: number;
  /** Connection timeouts; a client that sends half a request or idles cannot hold a connection. */
  readonly timeouts?: ServerTimeouts;
  /** Allow cross-origin requests from this origin (`*` for any). Default: no CORS headers at all. */
  readonly cors?: string;
  /** Fastify's logger setting (default off). */
  readonly logger?: boolean;
}

/** Connection timeouts of {@link createServer}, in milliseconds. */
export interface ServerTimeouts {
  /** Time to receive the request's headers (default 10 s); then the connection is closed with a 408. */
  readonly headersMs?: number;
  /** Time to receive the whole request, body included (default 30 s); streamed answers are not limited. */
  readonly requestMs?: number;
  /** Time an idle keep-alive connection stays open between requests (default 5 s). */
  readonly keepAliveMs?: number;
}

/** Largest request body accepted by default: 8 MiB. */
export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

/**
 * An OpenAI-compatible HTTP server over an {@link Engine}: `POST /v1/chat/completions`, `POST /v1/completions`
 * (both with SSE streaming), `GET /v1/models`, `GET /health`, `GET /metrics`. Errors use OpenAI's JSON shape;
 * a client that disconnects cancels its generation.
 */
export function createServer(options: ServerOptions): FastifyInstance {
  const headersMs = options.timeouts?.headersMs ?? 10_000;
  const requestMs = Math.max(headersMs, options.timeouts?.requestMs ?? 30_000);
  const keepAliveMs = options.timeouts?.keepAliveMs ?? 5_000;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Node enforces these; it checks them every connectionsCheckingInterval.
    http: {
      headersTimeout: headersMs,
      requestTimeout: requestMs,
      keepAliveTimeout: keepAliveMs,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, headersMs / 4)),
    },
    requestTimeout: requestMs,
    keepAliveTimeout: keepAliveMs,
    ajv: {
      customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: false },
    },
  });
  const modelName = options.modelName ?? 'dsa';
  const config = options.engine.model.config;
  const contextLength = Math.min(config.maxPositionEmbeddings, options.engine.model.cache.capacityTokens);
  const counters = { total: 0, errors: 0 };
  const context: ServerContext = {
    engine: options.engine,
    tokenizer: options.tokenizer,
    modelName,
    defaults: { maxTokens: options.defaultMaxTokens ?? contextLength, contextLength },
    checkModel(model) {
      if (model !== undefined && model !== modelName) {
        throw new OpenAIError(
          404,
          `The model \`${model}\` does not exist. This server serves \`${modelName}\`.`,
          'not_found_error',
          'model',
          'model_not_found',
        );
      }
    },
  };

  // JSON bodies must be valid UTF-8 and valid JSON; both failures are 400s that say so.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body as Buffer);
    } catch {
      done(
        new OpenAIError(
          400,
          'The request body is not valid UTF-8.',
          'invalid_request_error',
          null,
          'invalid_encoding',
        ),
        undefined,
      );
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(
        new OpenAIError(
          400,
          `The request body is not valid JSON: ${(error as Error).message}`,
          'invalid_request_error',
          null,
          'invalid_json',
        ),
        undefined,
      );
    }
  });

  if (options.cors) app.register(cors, { origin: options.cors });
  if (options.apiKey) {
    // Compared as SHA-256 digests: equal lengths, constant time, nothing learned from the key's length.
    const digest = (text: string) => createHash('sha256').update(text).digest();
    const expected = digest(`Bearer ${options.apiKey}`);
    app.addHook('onRequest', async (request) => {
      if (request.url === '/health' || isChatPageAsset(request.url)) return;
      if (options.cors && request.method === 'OPTIONS') return; // CORS preflights carry no credentials
      if (!timingSafeEqual(digest(request.headers.authorization ?? ''), expected)) {
        throw new OpenAIError(
          401,
          'Incorrect or missing API key: send `Authorization: Bearer <key>`.',
          'authentication_error',
          null,
          'invalid_api_key',
        );
      }
    });
  }
  app.addHook('onResponse', async (_request, reply) => {
    counters.total++;
    if (reply.statusCode >= 400) counters.errors++;
  });

  app.setErrorHandler((error: FastifyError | OpenAIError, _request, reply) => {
    if (error instanceof OpenAIError) {
      if (error.status === 429) reply.header('retry-after', '1');
      return reply.status(error.status).send(error.body());
    }
    if ((error as FastifyError).validation) {
      const v = (error as FastifyError).validation![0]!;
      const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
      const params = v.params as { additionalProperty?: string; missingProperty?: string };
      if (params.additionalProperty) {
        const field = path ? `${path}.${params.additionalProperty}` : params.additionalProperty;
        return reply
          .status(400)
          .send(
            new OpenAIError(
              400,
              `Unrecognized request argument supplied: ${field}`,
              'invalid_request_error',
              field,
            ).body(),
          );
      }
      const field = params.missingProperty
        ? path
          ? `${path}.${params.missingProperty}`
          : params.missingProperty
        : path || null;
      const message = params.missingProperty
        ? `Missing required parameter: '${field}'.`
        : `Invalid value for '${field}': ${v.message}.`;
      return reply
        .status(400)
        .send(
          new OpenAIError(
            400,
            message,
            'invalid_request_error',
            field,
            params.missingProperty ? 'missing_required_parameter' : 'invalid_value',
          ).body(),
        );
    }
    const status = (error as FastifyError).statusCode ?? 500;
    if (status === 413)
      return reply
        .status(413)
        .send(
          new OpenAIError(
            413,
            `The request body is larger than ${app.initialConfig.bodyLimit} bytes.`,
            'invalid_request_error',
            null,
            'request_too_large',
          ).body(),
        );
    if (status === 415)
      return reply
        .status(415)
        .send(
          new OpenAIError(
            415,
            'Send the request body as application/json.',
            'invalid_request_error',
            null,
            'unsupported_media_type',
          ).body(),
        );
    if (status >= 400 && status < 500)
      return reply.status(status).send(new OpenAIError(status, error.message).body());
    _request.log.error(error);
    return reply
      .status(500)
      .send(
        new OpenAIError(500, 'The server had an error while processing your request.', 'server_error').body(),
      );
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send(
        new OpenAIError(
          404,
          `Unknown route: ${request.method} ${request.url}`,
          'not_found_error',
          null,
          'unknown_url',
        ).body(),
      );
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{ id: modelName, object: 'model', created: 0, owned_by: 'dsa', max_model_len: contextLength }],
  }));
  app.get('/metrics', async (_request, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return prometheusMetrics(options.engine.stats(), modelName, counters);
  });
  chatCompletionsRoute(app, context);
  completionsRoute(app, context);
  chatPageRoute(app);
  return app;
}
