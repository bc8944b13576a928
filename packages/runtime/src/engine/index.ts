export { Engine, type EngineOptions } from './engine.js';
export { EngineBusyError, RequestRejectedError } from './engine-errors.js';
export type { EngineStats } from './engine-stats.js';
export type {
  FinishReason,
  GenerateEvent,
  GenerateRequest,
  SamplingParams,
  Usage,
} from './generate-request.js';
export { StopStringMatcher } from './stop-strings.js';
