import { fileURLToPath } from 'node:url';

/** The folder holding the model (config.json, fp8 safetensors shards, tokenizer): pass it as `--model`. */
export const modelDir = fileURLToPath(new URL('.', import.meta.url));
