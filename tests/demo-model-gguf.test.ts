// dsa-demo (packages/demo-model) through our own GGUF export and back, without llama.cpp: `dsa convert --type
// f32` of the fp8 checkpoint carries the metadata llama.cpp's deepseek32 loader reads (YaRN keys, the
// deepseek-v3 pre-tokenizer), the tokenizer gives the folder's ids on the held-out text, and our engine on the
// GGUF gives exactly the top-1 tokens of the fp8 safetensors, teacher-forced on held-out text past index_topk
// and greedily. The side by side with llama.cpp itself is tools/peers/llama-cpp.mjs (docs/benchmarks.md).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import cpuBackendFactory from '@dsa/backend-cpu';
import { convertToGguf, DeepseekModel, GgufFile, Tokenizer } from '@dsa/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forcedLogitsAndGreedy } from '../packages/runtime/src/model/test-model-outputs.js';
import { argmaxRows } from './graph-pair.js';

const root = path.resolve(import.meta.dirname, '..');
const dir = path.join(root, 'packages/demo-model');
const heldout = path.join(root, 'fixtures/demo-model/heldout.txt');

/** Teacher-forced positions: well past index_topk 64, so the trained indexer's selection is sparse. */
const POSITIONS = 1024;

let tmp: string;
let gguf: string;
let text: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'dsa-demo-gguf-'));
  gguf = path.join(tmp, 'dsa-demo-f32.gguf');
  await convertToGguf(dir, gguf, { type: 'f32' });
  text = await readFile(heldout, 'utf8');
}, 300_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Teacher-forced logits of `ids` and 16 greedy tokens after their first 200, on the cpu backend (2 threads). */
async function run(model: string, ids: number[]): Promise<{ logits: Float32Array; tokens: number[] }> {
  const backend = await cpuBackendFactory.create({ threads: 2 });
  const m = await DeepseekModel.load(backend, model, { cacheTokens: 2048 });
  try {
    return await forcedLogitsAndGreedy(m, ids, ids.slice(0, 200), 16);
  } finally {
    m.dispose();
    backend.dispose();
  }
}

describe('dsa-demo as an f32 GGUF (dsa convert --type f32)', () => {
  it("writes the YaRN and tokenizer keys llama.cpp's deepseek32 loader reads", async () => {
    await using file = await GgufFile.open(gguf);
    const value = (key: string) => file.get(key)?.value;
    expect(value('general.architecture')).toBe('deepseek32');
    expect(value('deepseek32.context_length')).toBe(2048);
    expect(value('deepseek32.rope.scaling.type')).toBe('yarn');
    expect(value('deepseek32.rope.scaling.factor')).toBe(2);
    expect(value('deepseek32.rope.scaling.original_context_length')).toBe(1024);
    // llama.cpp divides it by 0.1 back into mscale_all_dim (TAG_DEEPSEEK2_YARN_LOG_MUL_FIX).
    expect(value('deepseek32.rope.scaling.yarn_log_multiplier')).toBeCloseTo(0.1, 7);
    expect(value('deepseek32.attention.indexer.top_k')).toBe(64);
    expect(value('tokenizer.ggml.model')).toBe('gpt2');
    expect(value('tokenizer.ggml.pre')).toBe('deepseek-v3');
    expect(value('tokenizer.ggml.bos_token_id')).toBe(0);
    expect(value('tokenizer.ggml.eos_token_id')).toBe(1);
    expect(file.info('blk.1.attn_q_a.weight').type.name).toBe('F32');
  });

  it("tokenizes the held-out text exactly as the model folder's tokenizer.json", async () => {
    const [a, b] = [await Tokenizer.fromModel(dir), await Tokenizer.fromModel(gguf)];
    expect(b.encode(text)).toEqual(a.encode(text));
  });

  it('gives the top-1 tokens of the fp8 safetensors at every position, and the same greedy tokens', async () => {
    const ids = (await Tokenizer.fromModel(dir)).encode(text).slice(0, POSITIONS);
    const [fp8, f32] = [await run(dir, ids), await run(gguf, ids)];
    const vocab = fp8.logits.length / POSITIONS;
    let max = 0;
    for (let i = 0; i < fp8.logits.length; i++)
      max = Math.max(max, Math.abs(fp8.logits[i]! - f32.logits[i]!));
    console.log(`dsa-demo fp8 safetensors vs f32 GGUF, ${POSITIONS} positions: max |Δlogit| ${max}`);
    expect(argmaxRows(f32.logits, vocab)).toEqual(argmaxRows(fp8.logits, vocab));
    expect(f32.tokens).toEqual(fp8.tokens);
    expect(max).toBeLessThan(1e-3);
  }, 300_000);
});
