import fs from 'node:fs/promises';
import path from 'node:path';
import { type DType, encodeBf16, encodeFp8E4m3 } from '@dsa/tensor';
import { writeFileAtomic } from '../checkpoint/atomic-file.js';
import { type SafetensorsTensorData, writeSafetensors } from '../checkpoint/safetensors-writer.js';
import { parseModelConfig } from '../config/model-config.js';
import type { HfConfig } from './presets.js';

/** Options of {@link makeModel}. */
export interface MakeModelOptions {
  /** Linear weights in bf16, or fp8 e4m3 with 128×128 power-of-two block scales (as DeepSeek publishes). */
  readonly dtype: 'bf16' | 'fp8';
  /** Seed of the weights. */
  readonly seed?: number;
  /** Start a new shard after this many bytes (default 2 GB); more than one shard writes model.safetensors.index.json. */
  readonly shardBytes?: number;
  /** Receives the name of each tensor as it is generated. */
  readonly onTensor?: (name: string, index: number, total: number) => void;
}

/** A 32-bit xorshift generator: fast and good enough for random weights. */
class WeightRandom {
  private state: number;
  constructor(seed: number) {
    this.state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  }
  /** Roughly normal(0, 1): sum of four uniforms, centered and scaled. */
  fill(out: Float32Array, scale: number, offset = 0): void {
    let s = this.state;
    const k = (scale * Math.sqrt(3)) / 2147483648;
    for (let i = 0; i < out.length; i++) {
      let sum = 0;
      for (let j = 0; j < 4; j++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        sum += s | 0;
      }
      out[i] = offset + (sum * k) / 2;
    }
    this.state = s >>> 0;
  }
}

interface Planned {
  readonly name: string;
  readonly shape: number[];
  /** 'linear' weights follow `dtype` (fp8 gets a scale); others are bf16 or f32 as stated. */
  readonly kind: 'linear' | 'bf16' | 'f32';
  readonly scale: number;
  readonly offset?: number;
}

/**
 * Writes a random DeepSeek-V3.2 checkpoint in the hub layout: `config.json` plus safetensors with the
 * checkpoint's tensor names, per-expert tensors, and fp8 block scales when asked. Readable by
 * `DeepseekModel.load` and by transformers.
 */
export async function makeModel(
  dir: string,
  config: HfConfig,
  options: MakeModelOptions,
): Promise<{
  /** Safetensors file names written, relative to `dir`. */
  files: string[];
  /** Total tensor bytes written. */
  bytes: number;
}> {
  const parsed = parseModelConfig(config, 'preset config');
  const fp8 = options.dtype === 'fp8';
  const hf: HfConfig = { ...config };
  if (fp8) {
    hf.quantization_config = {
      quant_method: 'fp8',
      fmt: 'e4m3',
      activation_scheme: 'dynamic',
      weight_block_size: [128, 128],
      scale_fmt: 'ue8m0',
    };
  }
  const { dim, nHeads: h, kvLoraRank: c, qkNopeHeadDim: dn, qkRopeHeadDim: r, vHeadDim: dv } = parsed;
  const plan: Planned[] = [];
  const linear = (name: string, out: number, inp: number) =>
    plan.push({ name: `${name}.weight`, shape: [out, inp], kind: 'linear', scale: 1 / Math.sqrt(inp) });
  const norm = (name: string, n: number) =>
    plan.push({ name: `${name}.weight`, shape: [n], kind: 'bf16', scale: 0.1, offset: 1 });
  const swiglu = (p: string, width: number) => {
    linear(`${p}.gate_proj`, width, dim);
    linear(`${p}.up_proj`, width, dim);
    linear(`${p}.down_proj`, dim, width);
  };
  plan.push({ name: 'model.embed_tokens.weight', shape: [parsed.vocabSize, dim], kind: 'bf16', scale: 1 });
  for (let i = 0; i < parsed.nLayers; i++) {
    const p = `model.layers.${i}`;
    const a = `${p}.self_attn`;
    norm(`${p}.input_layernorm`, dim);
    norm(`${p}.post_attention_layernorm`, dim);
    const q = parsed.qLoraRank;
    if (q !== null) {
      linear(`${a}.q_a_proj`, q, dim);
      norm(`${a}.q_a_layernorm`, q);
      linear(`${a}.q_b_proj`, h * (dn + r), q);
    } else linear(`${a}.q_proj`, h * (dn + r), dim);
    linear(`${a}.kv_a_proj_with_mqa`, c + r, dim);
    norm(`${a}.kv_a_layernorm`, c);
    linear(`${a}.kv_b_proj`, h * (dn + dv), c);
    linear(`${a}.o_proj`, dim, h * dv);
    if (parsed.indexer) {
      const { indexNHeads: hi, indexHeadDim: di } = parsed.indexer;
      linear(`${a}.indexer.wq_b`, hi * di, q ?? dim);
      linear(`${a}.indexer.wk`, di, dim);
      norm(`${a}.indexer.k_norm`, di);
      plan.push({ name: `${a}.indexer.k_norm.bias`, shape: [di], kind: 'bf16', scale: 0.1 });
      plan.push({
        name: `${a}.indexer.weights_proj.weight`,
        shape: [hi, dim],
        kind: 'bf16',
        scale: 1 / Math.sqrt(dim),
      });
    }
    if (parsed.denseLayers[i]) swiglu(`${p}.mlp`, parsed.interDim);
    else {
      plan.push({
        name: `${p}.mlp.gate.weight`,
        shape: [parsed.nRoutedExperts, dim],
        kind: 'bf16',
        scale: 1 / Math.sqrt(dim),
      });
      plan.push({
        name: `${p}.mlp.gate.e_score_correction_bias`,
        shape: [parsed.nRoutedExperts],
        kind: 'f32',
        scale: 0.05,
      });
      for (let e = 0; e < parsed.nRoutedExperts; e++) swiglu(`${p}.mlp.experts.${e}`, parsed.moeInterDim);
      if (parsed.nSharedExperts > 0)
        swiglu(`${p}.mlp.shared_experts`, parsed.moeInterDim * parsed.nSharedExperts);
    }
  }
  norm('model.norm', dim);
  plan.push({
    name: 'lm_head.weight',
    shape: [parsed.vocabSize, dim],
    kind: 'bf16',
    scale: 1 / Math.sqrt(dim),
  });

  await fs.mkdir(dir, { recursive: true });
  const random = new WeightRandom(options.seed ?? 0);
  const shardBytes = options.shardBytes ?? 2e9;
  const shards: SafetensorsTensorData[][] = [[]];
  let shardSize = 0;
  const add = (tensor: SafetensorsTensorData) => {
    if (shardSize > 0 && shardSize + tensor.data.byteLength > shardBytes) {
      shards.push([]);
      shardSize = 0;
    }
    shards[shards.length - 1]!.push(tensor);
    shardSize += tensor.data.byteLength;
  };
  plan.forEach((t, index) => {
    options.onTensor?.(t.name, index, plan.length);
    const values = new Float32Array(t.shape.reduce((x, y) => x * y, 1));
    random.fill(values, t.scale, t.offset ?? 0);
    if (t.kind === 'f32') add({ name: t.name, dtype: 'f32', shape: t.shape, data: values });
    else if (t.kind === 'bf16' || !fp8)
      add({ name: t.name, dtype: 'bf16', shape: t.shape, data: toBf16(values) });
    else {
      const { q, scaleInv, scaleShape } = quantizeBlocks(values, t.shape[0]!, t.shape[1]!);
      add({ name: t.name, dtype: 'f8_e4m3' as DType, shape: t.shape, data: q });
      add({
        name: t.name.replace(/\.weight$/, '.weight_scale_inv'),
        dtype: 'f32',
        shape: scaleShape,
        data: scaleInv,
      });
    }
  });
  const files: string[] = [];
  let bytes = 0;
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards.length; s++) {
    const file =
      shards.length === 1
        ? 'model.safetensors'
        : `model-${String(s + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    await writeSafetensors(path.join(dir, file), shards[s]!, { format: 'pt' });
    for (const t of shards[s]!) {
      weightMap[t.name] = file;
      bytes += t.data.byteLength;
    }
    files.push(file);
  }
  if (shards.length > 1) {
    await writeFileAtomic(
      path.join(dir, 'model.safetensors.index.json'),
      `${JSON.stringify({ metadata: { total_size: bytes }, weight_map: weightMap }, null, 2)}\n`,
    );
  }
  await writeFileAtomic(path.join(dir, 'config.json'), `${configJson(hf)}\n`);
  return { files, bytes };
}

/** Fields transformers types as float: written as `1.0`, not `1`, or its strict config loader refuses them. */
const FLOAT_FIELDS = new Set([
  'routed_scaling_factor',
  'rope_theta',
  'factor',
  'mscale',
  'mscale_all_dim',
  'beta_fast',
  'beta_slow',
  'rms_norm_eps',
  'initializer_range',
  'attention_dropout',
]);

/** config.json text with integral values of float fields written as floats (`2.5`, `1.0`). */
export function configJson(config: HfConfig): string {
  const marker = '__dsa_float__';
  const text = JSON.stringify(
    config,
    (key, value) => (FLOAT_FIELDS.has(key) && Number.isInteger(value) ? `${marker}${value}` : value),
    2,
  );
  return text.replace(new RegExp(`"${marker}(-?\\d+)"`, 'g'), '$1.0');
}

function toBf16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  encodeBf16(values, out);
  return out;
}

/** e4m3 weights with one power-of-two scale per 128×128 block (`W ≈ q · scale_inv`). */
function quantizeBlocks(values: Float32Array, rows: number, cols: number) {
  const br = Math.ceil(rows / 128);
  const bc = Math.ceil(cols / 128);
  const scaleInv = new Float32Array(br * bc);
  const q = new Uint8Array(rows * cols);
  for (let i = 0; i < br; i++) {
    for (let j = 0; j < bc; j++) {
      let amax = 1e-4;
      for (let r = i * 128; r < Math.min(rows, (i + 1) * 128); r++) {
        for (let c = j * 128; c < Math.min(cols, (j + 1) * 128); c++)
          amax = Math.max(amax, Math.abs(values[r * cols + c]!));
      }
      const scale = 2 ** Math.ceil(Math.log2(amax / 448));
      scaleInv[i * bc + j] = scale;
      const c0 = j * 128;
      const c1 = Math.min(cols, c0 + 128);
      for (let r = i * 128; r < Math.min(rows, (i + 1) * 128); r++)
        encodeFp8E4m3(values.subarray(r * cols + c0, r * cols + c1), q.subarray(r * cols + c0), 1 / scale);
    }
  }
  return { q, scaleInv, scaleShape: [br, bc] };
}
