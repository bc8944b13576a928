export { byteLevelTokenBytes } from './byte-level.js';
export { StreamDecoder, type StreamDecoderOptions } from './stream-decoder.js';
export { Tokenizer, type TokenizerDecodeOptions, type TokenizerEncodeOptions } from './tokenizer.js';
export { TokenizerError } from './tokenizer-error.js';
