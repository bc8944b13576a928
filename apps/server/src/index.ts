export { type ProcessMemory, prometheusMetrics } from './metrics.js';
export { OpenAIError } from './openai-error.js';
export { createServer, DEFAULT_BODY_LIMIT, type ServerOptions, type ServerTimeouts } from './server.js';
