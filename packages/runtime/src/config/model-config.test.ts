import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { parseModelConfig } from './model-config.js';
import { mlaSoftmaxScale, ropeFrequencies } from './yarn.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../../fixtures');
const tiny = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tiny/config.json'), 'utf8'));

/** The published DeepSeek-V3.2 config.json, architecture keys (spec §1). */
const V32 = {
  model_type: 'deepseek_v32',
  vocab_size: 129280,
  hidden_size: 7168,
  intermediate_size: 18432,
  moe_intermediate_size: 2048,
  num_hidden_layers: 61,
  first_k_dense_replace: 3,
  moe_layer_freq: 1,
  num_attention_heads: 128,
  num_key_value_heads: 128,
  q_lora_rank: 1536,
  kv_lora_rank: 512,
  qk_nope_head_dim: 128,
  qk_rope_head_dim: 64,
  v_head_dim: 128,
  n_routed_experts: 256,
  n_shared_experts: 1,
  num_experts_per_tok: 8,
  n_group: 8,
  topk_group: 4,
  scoring_func: 'sigmoid',
  topk_method: 'noaux_tc',
  norm_topk_prob: true,
  routed_scaling_factor: 2.5,
  index_n_heads: 64,
  index_head_dim: 128,
  index_topk: 2048,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  max_position_embeddings: 163840,
  num_nextn_predict_layers: 1,
  rope_scaling: {
    type: 'yarn',
    factor: 40,
    original_max_position_embeddings: 4096,
    beta_fast: 32,
    beta_slow: 1,
    mscale: 1.0,
    mscale_all_dim: 1.0,
  },
  quantization_config: {
    quant_method: 'fp8',
    fmt: 'e4m3',
    activation_scheme: 'dynamic',
    scale_fmt: 'ue8m0',
    weight_block_size: [128, 128],
  },
  bos_token_id: 0,
  eos_token_id: 1,
  tie_word_embeddings: false,
};

describe('parseModelConfig', () => {
  it('reads the fixture (rope_parameters form, mlp_layer_types)', () => {
    const c = parseModelConfig(tiny);
    expect(c.denseLayers).toEqual([true, false, false, false]);
    expect(c.indexer).toEqual({ indexNHeads: 8, indexHeadDim: 16, indexTopk: 32 });
    expect(c.rope).toMatchObject({
      type: 'yarn',
      theta: 10000,
      factor: 4,
      originalMaxPositionEmbeddings: 64,
    });
    expect(c.quantization).toBeNull();
  });

  it('reads the published 671B config (rope_theta + rope_scaling, fp8 ue8m0, MTP layer)', () => {
    const c = parseModelConfig(V32);
    expect(c.denseLayers.filter(Boolean).length).toBe(3);
    expect(c.numNextnPredictLayers).toBe(1);
    expect(c.quantization).toEqual({
      method: 'fp8',
      format: 'e4m3',
      blockSize: [128, 128],
      scaleFormat: 'ue8m0',
    });
    expect(c.rope).toMatchObject({
      type: 'yarn',
      factor: 40,
      originalMaxPositionEmbeddings: 4096,
      mscaleAllDim: 1,
    });
  });

  it('treats deepseek_v3 without indexer fields as dense MLA', () => {
    const { index_n_heads, index_head_dim, index_topk, ...v3 } = V32;
    const c = parseModelConfig({ ...v3, model_type: 'deepseek_v3' });
    expect(c.indexer).toBeNull();
  });

  it('names the file and field of every problem', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...V32, model_type: 'llama' }, 'model_type'],
      [{ ...V32, hidden_size: undefined }, 'hidden_size'],
      [{ ...V32, num_attention_heads: 12.5 }, 'num_attention_heads'],
      [{ ...V32, qk_rope_head_dim: 63 }, 'qk_rope_head_dim'],
      [{ ...V32, n_group: 7 }, 'n_group'],
      [{ ...V32, topk_group: 9 }, 'topk_group'],
      [{ ...V32, num_experts_per_tok: 200 }, 'num_experts_per_tok'],
      [{ ...V32, index_topk: undefined }, 'index_topk'],
      [{ ...V32, mlp_layer_types: ['dense'] }, 'mlp_layer_types'],
      [{ ...V32, rope_scaling: { type: 'longrope', factor: 2 } }, 'rope_scaling.rope_type'],
      [{ ...V32, rope_scaling: { type: 'yarn' } }, 'rope_scaling.factor'],
      [{ ...V32, quantization_config: { quant_method: 'gptq' } }, 'quantization_config.quant_method'],
      [{ ...V32, eos_token_id: 'x' }, 'eos_token_id'],
    ];
    for (const [json, field] of cases) {
      let error: unknown;
      try {
        parseModelConfig(json, '/models/x/config.json');
      } catch (e) {
        error = e;
      }
      expect(error, field).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe(field);
      expect((error as Error).message).toContain('/models/x/config.json');
      expect((error as Error).message).toContain(field);
    }
  });
});

describe('YaRN', () => {
  it('reproduces the 671B numbers of spec §3.2-3.3: ramp 10..23, factor 40, softmax scale 0.1352338', () => {
    const c = parseModelConfig(V32);
    const { invFreq, attentionFactor } = ropeFrequencies(c.rope, 64);
    expect(attentionFactor).toBe(1);
    for (let i = 0; i <= 10; i++) expect(invFreq[i]).toBeCloseTo(10000 ** ((-2 * i) / 64), 6); // unchanged
    for (let i = 23; i < 32; i++) expect(invFreq[i]! / (10000 ** ((-2 * i) / 64) / 40)).toBeCloseTo(1, 5); // ÷ 40
    const blended = invFreq[16]! / 10000 ** ((-2 * 16) / 64);
    expect(blended).toBeGreaterThan(1 / 40);
    expect(blended).toBeLessThan(1);
    expect(mlaSoftmaxScale(c)).toBeCloseTo(0.1352338, 6);
  });

  it('plain RoPE without scaling', () => {
    const c = parseModelConfig({ ...V32, rope_scaling: null });
    const { invFreq, attentionFactor } = ropeFrequencies(c.rope, 64);
    expect(attentionFactor).toBe(1);
    expect(invFreq[31]).toBeCloseTo(10000 ** (-62 / 64), 9);
    expect(mlaSoftmaxScale(c)).toBeCloseTo(192 ** -0.5, 9);
  });

  it('attention factor mscale/mscale_all_dim ratio when they differ', () => {
    const c = parseModelConfig({
      ...V32,
      rope_scaling: { ...V32.rope_scaling, mscale: 1, mscale_all_dim: 0.707 },
    });
    const m = (s: number) => 0.1 * s * Math.log(40) + 1;
    expect(ropeFrequencies(c.rope, 64).attentionFactor).toBeCloseTo(m(1) / m(0.707), 9);
  });
});
