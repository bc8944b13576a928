// The weight bytes a batch-1 decode step of llama.cpp reads from a GGUF file, from the file's tensor table:
// every tensor whole, except the token embedding (one row per token) and the stacked routed experts
// (`*_exps`: the fraction k / E a token is routed to). The same split as `dsa bench`'s bytes_per_token
// (apps/cli/src/bench/metrics.ts), so the two engines' roofline fractions compare like for like. The KV
// cache reads (a few MB at the depths measured here) are left out.
import { GgufFile } from '../../packages/runtime/dist/index.js';

/**
 * @param {string} file - a GGUF path
 * @param {{ num_experts_per_tok?: number, n_routed_experts?: number }} config - the checkpoint's config.json
 * @returns {Promise<number>} bytes per token
 */
export async function ggufDecodeBytes(file, config) {
  const gguf = await GgufFile.open(file);
  try {
    const hit = config.n_routed_experts ? (config.num_experts_per_tok ?? 0) / config.n_routed_experts : 0;
    let bytes = 0;
    for (const [name, t] of gguf.tensors) {
      if (name === 'token_embd.weight') bytes += t.byteLength / t.shape[0];
      else if (/_exps\.weight$/.test(name)) bytes += t.byteLength * hit;
      else bytes += t.byteLength;
    }
    return bytes;
  } finally {
    await gguf.close?.();
  }
}
