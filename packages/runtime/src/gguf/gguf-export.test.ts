import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { decodeBf16 } from '@dsa/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../checkpoint/checkpoint.js';
import { generate } from '../generate.js';
import { DeepseekModel } from '../model/deepseek-model.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { GgufCheckpoint } from './gguf-checkpoint.js';
import { convertToGguf, DSA_BF16_TENSORS_KEY } from './gguf-export.js';
import { GgufFile } from './gguf-file.js';

const FIXTURES = resolve(import.meta.dirname, '../../../../fixtures');
const TINY_CHAT = join(FIXTURES, 'tiny-chat');
const TINY_FP8 = join(FIXTURES, 'tiny-fp8');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dsa-gguf-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function greedy(path: string, prompt: number[], maxTokens: number): Promise<number[]> {
  const model = await DeepseekModel.load(new ReferenceBackend(), path, { cacheTokens: 256 });
  const tokens: number[] = [];
  for await (const t of generate(model, { prompt, maxTokens, stopTokenIds: [] })) tokens.push(t.id);
  model.dispose();
  return tokens;
}

/** 40 prompt ids: longer than index_topk 32, so the indexer's selection is exercised. */
const PROMPT = Array.from({ length: 40 }, (_, i) => (i * 37 + 5) % 1000);

describe('convertToGguf (tiny-chat, bf16)', () => {
  let out: string;
  beforeAll(async () => {
    out = join(dir, 'tiny-bf16.gguf');
    await convertToGguf(TINY_CHAT, out, { type: 'bf16' });
  });

  it("writes llama.cpp's deepseek32 metadata and tensor names", async () => {
    await using file = await GgufFile.open(out);
    const value = (key: string) => file.get(key)?.value;
    expect(file.version).toBe(3);
    expect(value('general.architecture')).toBe('deepseek32');
    expect(value('general.file_type')).toBe(32);
    expect(value('deepseek32.block_count')).toBe(4);
    expect(value('deepseek32.attention.head_count_kv')).toBe(1);
    expect(value('deepseek32.attention.key_length')).toBe(32 + 8);
    expect(value('deepseek32.attention.key_length_mla')).toBe(16 + 8);
    expect(value('deepseek32.attention.indexer.top_k')).toBe(32);
    expect(value('deepseek32.expert_gating_func')).toBe(2);
    expect(value('deepseek32.leading_dense_block_count')).toBe(1);
    expect(value('deepseek32.rope.scaling.yarn_log_multiplier')).toBeCloseTo(0.1, 7);
    expect(value('tokenizer.ggml.pre')).toBe('deepseek-v3');
    expect((value('tokenizer.ggml.tokens') as string[]).length).toBe(1024);
    expect((value('tokenizer.ggml.tokens') as string[])[1023]).toBe('[PAD1023]');
    expect(value('tokenizer.ggml.eos_token_id')).toBe(1);
    // ggml order: ne[0] innermost. attn_k_b {Dn, C, H}, experts {D, I, E}.
    expect(file.info('blk.1.attn_k_b.weight').dims).toEqual([16, 32, 4]);
    expect(file.info('blk.1.attn_v_b.weight').dims).toEqual([32, 16, 4]);
    expect(file.info('blk.1.ffn_gate_exps.weight').dims).toEqual([128, 32, 16]);
    expect(file.info('blk.1.ffn_down_exps.weight').dims).toEqual([32, 128, 16]);
    expect(file.info('blk.0.attn_norm.weight').type.name).toBe('F32');
    expect(file.info('blk.1.ffn_gate_inp.weight').type.name).toBe('F32');
    expect(file.info('blk.0.indexer.proj.weight').type.name).toBe('F32');
    expect(file.info('blk.0.attn_q_a.weight').type.name).toBe('BF16');
    expect(file.tensors.has('blk.0.ffn_gate_exps.weight')).toBe(false);
    expect(file.tensors.has('blk.0.ffn_gate.weight')).toBe(true);
    for (const t of file.tensors.values()) expect(t.byteOffset % file.alignment).toBe(0);
    expect(value(DSA_BF16_TENSORS_KEY)).toContain('blk.0.attn_norm.weight');
  });

  it('reads back every checkpoint tensor bit for bit', async () => {
    await using checkpoint = await Checkpoint.open(TINY_CHAT);
    const gguf = await GgufCheckpoint.open(out);
    try {
      expect(gguf.names().sort()).toEqual(checkpoint.names().sort());
      for (const name of checkpoint.names()) {
        const want = checkpoint.info(name);
        const got = gguf.info(name);
        expect([got.dtype, ...got.shape], name).toEqual([want.dtype, ...want.shape]);
        const [a, b] = [await checkpoint.read(name), await gguf.read(name)];
        expect(Buffer.compare(Buffer.from(a), Buffer.from(b)), name).toBe(0);
      }
    } finally {
      await gguf.close();
    }
  });

  it('gives the tokens the safetensors checkpoint gives', async () => {
    const want = await greedy(TINY_CHAT, PROMPT, 12);
    expect(await greedy(out, PROMPT, 12)).toEqual(want);
  });

  it('carries the tokenizer', async () => {
    const [a, b] = [await Tokenizer.fromModel(TINY_CHAT), await Tokenizer.fromModel(out)];
    for (const text of ['Hello, world! 123 你好', '<｜User｜>hi<｜Assistant｜>', ' two  spaces\n']) {
      expect(b.encode(text)).toEqual(a.encode(text));
      expect(b.decode(a.encode(text))).toBe(text);
    }
    expect([b.bosTokenId, b.eosTokenId, b.addBosToken]).toEqual([a.bosTokenId, a.eosTokenId, a.addBosToken]);
  });
});

describe('convertToGguf (tiny-fp8 → f32)', () => {
  it('gives the tokens the fp8 checkpoint gives', async () => {
    const out = join(dir, 'tiny-fp8-f32.gguf');
    await convertToGguf(TINY_FP8, out, { type: 'f32', tokenizerDir: TINY_CHAT });
    await using file = await GgufFile.open(out);
    expect(file.info('blk.0.attn_q_a.weight').type.name).toBe('F32');
    expect(file.get(DSA_BF16_TENSORS_KEY)).toBeUndefined();
    expect(await greedy(out, PROMPT, 12)).toEqual(await greedy(TINY_FP8, PROMPT, 12));
  });
});

describe('convertToGguf (q8_0)', () => {
  it('quantizes matrices to Q8_0 (F16 where rows are not a multiple of 32) and loads them dequantized', async () => {
    const out = join(dir, 'tiny-q8.gguf');
    const lines: string[] = [];
    const summary = await convertToGguf(TINY_CHAT, out, { type: 'q8_0', log: (l) => lines.push(l) });
    expect(summary.types.Q8_0).toBeGreaterThan(0);
    expect(lines.some((l) => l.startsWith('blk.0.attn_k_b.weight') && l.endsWith('written as F16'))).toBe(
      true,
    );
    await using file = await GgufFile.open(out);
    expect(file.info('blk.1.ffn_up_exps.weight').type.name).toBe('Q8_0');
    expect(file.info('blk.0.attn_k_b.weight').type.name).toBe('F16');

    const logs: string[] = [];
    const gguf = await GgufCheckpoint.open(out, (l) => logs.push(l));
    await using checkpoint = await Checkpoint.open(TINY_CHAT);
    try {
      const name = 'model.layers.1.mlp.experts.3.up_proj.weight';
      expect(gguf.info(name).dtype).toBe('f32');
      const q = new Float32Array((await gguf.read(name)).buffer);
      const raw = await checkpoint.read(name);
      const ref = new Float32Array(q.length);
      decodeBf16(new Uint16Array(raw.buffer), ref);
      // Q8_0: within half a step (max|block| / 127) of the original, plus the f16 rounding of the step (2^-11
      // relative, times |q| <= 127).
      for (let b = 0; b < ref.length / 32; b++) {
        const block = ref.subarray(b * 32, b * 32 + 32);
        const step = Math.max(...block.map(Math.abs)) / 127;
        for (let j = 0; j < 32; j++)
          expect(Math.abs(q[b * 32 + j]! - block[j]!)).toBeLessThanOrEqual(step * (0.5 + 127 / 2048));
      }
      expect(logs.some((l) => l.includes('Q8_0 tensor(s) dequantized to f32 at load'))).toBe(true);

      // Natively: i8 quants and one f32 scale per 32 values, whose product is the dequantized weight.
      const native = await GgufCheckpoint.open(out, () => {}, { nativeQ8_0: true });
      try {
        expect(native.info(name)).toMatchObject({ dtype: 'i8', shape: [32, 128] });
        const scaleName = name.replace(/weight$/, 'weight_scale_inv');
        expect(native.info(scaleName)).toMatchObject({ dtype: 'f32', shape: [32, 4] });
        const quantBytes = await native.read(name);
        const quants = new Int8Array(quantBytes.buffer);
        const scales = new Float32Array((await native.read(scaleName)).buffer);
        // One byte per quant: the loader allocates info().byteLength (it once said 2 per i8 element, doubling
        // the device memory of every Q8_0 import).
        expect(native.info(name).byteLength).toBe(32 * 128);
        expect(quantBytes.byteLength).toBe(32 * 128);
        expect(native.info(scaleName).byteLength).toBe(32 * 4 * 4);
        expect(quants.some((v) => v === 127 || v === -127)).toBe(true);
        for (let i = 0; i < q.length; i++) expect(quants[i]! * scales[Math.floor(i / 32)]!).toBe(q[i]);
        expect(native.info('model.embed_tokens.weight').dtype).toBe('f32');
      } finally {
        await native.close();
      }
    } finally {
      await gguf.close();
    }
  });

  it('runs Q8_0 natively on a backend that takes i8 weights, with the tokens of the dequantized weights', async () => {
    const out = join(dir, 'tiny-q8.gguf');
    // The reference backend declares i8 linear weights, so DeepseekModel.load keeps Q8_0 as i8.
    const logs: string[] = [];
    const model = await DeepseekModel.load(new ReferenceBackend(), out, {
      cacheTokens: 256,
      log: (l) => logs.push(l),
    });
    model.dispose();
    expect(logs.some((l) => l.includes('run as i8'))).toBe(true);
    const native = await greedy(out, PROMPT, 8);
    // The same weights dequantized to f32 at load: a backend without i8 support.
    class NoI8 extends ReferenceBackend {
      override readonly capabilities = {
        ...new ReferenceBackend().capabilities,
        linearWeightDtypes: new Set(['f32', 'bf16', 'f16', 'f8_e4m3'] as const),
      };
    }
    const f32 = await DeepseekModel.load(new NoI8(), out, { cacheTokens: 256 });
    const tokens: number[] = [];
    for await (const t of generate(f32, { prompt: PROMPT, maxTokens: 8, stopTokenIds: [] }))
      tokens.push(t.id);
    f32.dispose();
    expect(native).toEqual(tokens);
  });
});
