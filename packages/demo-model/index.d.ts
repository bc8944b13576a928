/**
 * The folder holding dsa-demo in the Hugging Face hub layout (config.json, fp8 safetensors shards with
 * model.safetensors.index.json, tokenizer.json): give it to `DeepseekModel.load` or the CLI's `--model`.
 */
export declare const modelDir: string;
