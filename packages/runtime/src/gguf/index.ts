export { architectureToGguf, configFromGguf, ggufArchitecture } from './gguf-architecture.js';
export { GgufCheckpoint } from './gguf-checkpoint.js';
export {
  type ConvertOptions,
  type ConvertSummary,
  convertToGguf,
  DSA_BF16_TENSORS_KEY,
  GGUF_OUTPUT_TYPES,
  type GgufOutputType,
} from './gguf-export.js';
export { GgufFile, type GgufTensorInfo } from './gguf-file.js';
export { isGgufPath } from './gguf-path.js';
export {
  type HfTokenizerFiles,
  isDeepseekV3PreTokenizer,
  tokenizerFromGguf,
  tokenizerToGguf,
} from './gguf-tokenizer.js';
export { GGUF_VALUE_TYPES, GGUF_VERSION, type GgufValue, type GgufValueType, gguf } from './gguf-value.js';
export { type GgufTensorData, type GgufWriteProgress, writeGguf } from './gguf-writer.js';
