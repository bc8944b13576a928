export {
  FIXED_TOPK,
  formatTopkPolicy,
  parseTopkPolicy,
  type TopkPolicy,
} from '@dsa/indexer';
export * from './chat/index.js';
export * from './checkpoint/index.js';
export { ConfigError } from './config/config-error.js';
export {
  type ModelConfig,
  parseModelConfig,
  type QuantizationConfig,
  type RopeConfig,
} from './config/model-config.js';
export { mlaSoftmaxScale, ropeFrequencies } from './config/yarn.js';
export * from './engine/index.js';
export { type GeneratedToken, type GenerateOptions, generate } from './generate.js';
export * from './gguf/index.js';
export {
  COMPUTE_STREAM,
  DECODE_BUCKETS,
  type DecodeGraphStats,
  DecodeGraphs,
} from './model/decode-graphs.js';
export {
  type AttentionMode,
  type AttentionProbe,
  DeepseekModel,
  type ForwardOptions,
  type ForwardResult,
  type ModelOptions,
  type SelectionSettings,
} from './model/deepseek-model.js';
export {
  CacheFullError,
  type CacheSequence,
  PagedKvCache,
  type PagedKvCacheOptions,
  type PrefixCacheStats,
} from './model/kv-cache.js';
export {
  LATENT_CACHE_FORMATS,
  type LatentCacheFormat,
  latentRowBytes,
  parseLatentCacheFormat,
} from './model/latent-cache-format.js';
export { type ModelSummary, summarizeModel } from './model/model-summary.js';
export {
  type LayerWeights,
  type LoadProgress,
  loadModelWeights,
  type ModelWeights,
} from './model/model-weights.js';
export { type SampledTokens, Sampler } from './model/sampler.js';
export { controlSelection, SELECTORS, type Selector } from './model/selectors.js';
export type { ForwardEntry, StepInputs } from './model/step-inputs.js';
export { STEP_MEMORY_PROBE_ROWS, StepMemory } from './model/step-memory.js';
export { TokenHistory } from './model/token-history.js';
export { type MakeModelOptions, makeModel } from './presets/make-model.js';
export {
  type HfConfig,
  PRESET_COMMON_CONFIG,
  PRESET_NAMES,
  type PresetName,
  presetConfig,
} from './presets/presets.js';
export { fillSyntheticCache } from './presets/synthetic-cache.js';
export * from './tokenizer/index.js';
