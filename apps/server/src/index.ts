export { prometheusMetrics } from './metrics.js';
export { OpenAIError } from './openai-error.js';
export { createServer, type ServerOptions } from './server.js';
