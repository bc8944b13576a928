export { OpenAIError } from './openai-error.js';
export { prometheusMetrics } from './metrics.js';
export { createServer, type ServerOptions } from './server.js';
