import type { Backend, DeviceBuffer, ExpertWeights, LinearWeight } from '@dsa/backend';
import type { IndexerWeights } from '@dsa/indexer';
import type { MlaWeights } from '@dsa/mla';
import type { MoeWeights } from '@dsa/moe';
import { FP8_E4M3_TABLE, formatShape, narrow, type Shape, type TensorView, tensorView } from '@dsa/tensor';
import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import type { TensorSource } from '../checkpoint/tensor-source.js';
import type { ModelConfig } from '../config/model-config.js';

/** The weights of one decoder layer, by checkpoint name. */
export interface LayerWeights {
  /** RMSNorm weight [D] before attention. */
  readonly input_layernorm: TensorView;
  /** RMSNorm weight [D] before the feed-forward block. */
  readonly post_attention_layernorm: TensorView;
  /** Multi-head latent attention weights. */
  readonly self_attn: MlaWeights;
  /** Lightning-indexer weights; null for dense (`deepseek_v3`) models. */
  readonly indexer: IndexerWeights | null;
  /** Dense layers: the SwiGLU; MoE layers: null. */
  readonly mlp: ExpertWeights | null;
  /** MoE layers: router, experts and shared experts; dense layers: null. */
  readonly moe: MoeWeights | null;
}

/** Every weight of the model, uploaded to the backend. */
export interface ModelWeights {
  /** [V, D] token embedding table. */
  readonly embed_tokens: TensorView;
  /** Per-layer weights, in layer order. */
  readonly layers: readonly LayerWeights[];
  /** Final RMSNorm weight [D]. */
  readonly norm: TensorView;
  /** Output projection [V, D] to the logits. */
  readonly lm_head: LinearWeight;
  /** Device memory holding them, for disposal. */
  readonly buffers: readonly DeviceBuffer[];
  /** Bytes uploaded. */
  readonly bytes: number;
}

/** Progress of {@link loadModelWeights}. */
export interface LoadProgress {
  /** Tensors uploaded so far. */
  readonly tensorsDone: number;
  /** Tensors to upload in all. */
  readonly tensorsTotal: number;
  /** Checkpoint bytes uploaded so far. */
  readonly bytesDone: number;
  /** Checkpoint bytes to upload in all. */
  readonly bytesTotal: number;
}

const FLOAT_DTYPES = ['f32', 'bf16', 'f16'];

/** Block of an i8 (GGUF Q8_0) weight's scales: one per 32 values of a row. */
const Q8_0_BLOCK = [1, 32] as const;

/** Tensors above this size upload in row slices of at most this many bytes (when the source reads ranges). */
const UPLOAD_SLICE_BYTES = 64 * 1024 * 1024;

/**
 * Reads every tensor the model needs from `checkpoint` (a safetensors folder or a GGUF file), checks its dtype and shape against the
 * config, and uploads it to `backend`. Tensors stay in their checkpoint dtype (fp8 keeps its block
 * scales), except `kv_b_proj` of fp8 checkpoints, dequantized for the absorbed attention (to bf16 where every
 * value is exact in bf16, as with power-of-two scales, else to f32).
 */
export async function loadModelWeights(
  backend: Backend,
  checkpoint: TensorSource,
  config: ModelConfig,
  onProgress?: (progress: LoadProgress) => void,
  /** Row-slice size for large tensors (default 64 MiB; tests use small ones). */
  sliceBytes: number = UPLOAD_SLICE_BYTES,
): Promise<ModelWeights> {
  const plan = planNames(config);
  const bytesTotal = plan.reduce(
    (sum, name) => sum + (checkpoint.has(name) ? checkpoint.info(name).byteLength : 0),
    0,
  );
  const buffers: DeviceBuffer[] = [];
  let bytesDone = 0;
  let tensorsDone = 0;
  const report = () => onProgress?.({ tensorsDone, tensorsTotal: plan.length, bytesDone, bytesTotal });

  const expectInfo = (name: string, shape: Shape, dtypes: readonly string[]) => {
    const info = checkpoint.info(name);
    if (!dtypes.includes(info.dtype)) {
      throw new CheckpointError(
        `tensor ${name} in ${info.file} has dtype ${info.dtype}, expected ${dtypes.join(' or ')}`,
        { file: info.file, tensor: name },
      );
    }
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(
        `tensor ${name} in ${info.file} has shape ${formatShape(info.shape)}, the config implies ${formatShape(shape)}`,
        { file: info.file, tensor: name },
      );
    }
    return info;
  };
  const upload = async (
    name: string,
    shape: Shape,
    dtypes: readonly string[] = FLOAT_DTYPES,
  ): Promise<TensorView> => {
    const info = expectInfo(name, shape, dtypes);
    const buffer = backend.allocate(info.byteLength, 'weights');
    buffers.push(buffer);
    const view = tensorView(buffer, info.dtype, shape);
    const rowBytes = shape.length > 1 ? info.byteLength / shape[0]! : info.byteLength;
    if (checkpoint.readRange && info.byteLength > sliceBytes && rowBytes <= sliceBytes) {
      // Large tensors (the 1.85 GB embedding and lm_head of V3.2) stream in row slices: the host holds one
      // slice at a time instead of the whole tensor (a fresh buffer per slice: uploads may be enqueued).
      const rows = Math.floor(sliceBytes / rowBytes);
      for (let r = 0; r < shape[0]!; r += rows) {
        const n = Math.min(rows, shape[0]! - r);
        const slice = new Uint8Array(n * rowBytes);
        await checkpoint.readRange(name, r * rowBytes, slice);
        backend.upload(narrow(view, 0, r, n), slice);
      }
    } else {
      backend.upload(view, await checkpoint.read(name));
    }
    bytesDone += info.byteLength;
    tensorsDone++;
    report();
    return view;
  };
  const blockSize = config.quantization?.blockSize ?? ([128, 128] as const);
  const scaleShape = (shape: Shape) => [
    Math.ceil(shape[0]! / blockSize[0]),
    Math.ceil(shape[1]! / blockSize[1]),
  ];
  const linear = async (prefix: string, shape: Shape): Promise<LinearWeight> => {
    const weight = await upload(`${prefix}.weight`, shape, [...FLOAT_DTYPES, 'f8_e4m3', 'i8']);
    if (weight.dtype !== 'f8_e4m3' && weight.dtype !== 'i8') return { weight };
    const scaleName = `${prefix}.weight_scale_inv`;
    if (!checkpoint.has(scaleName)) {
      throw new CheckpointError(`tensor ${prefix}.weight is ${weight.dtype} but ${scaleName} is missing`, {
        tensor: scaleName,
      });
    }
    // i8 weights are GGUF Q8_0 quants: one scale per 32 consecutive values of a row.
    const block = weight.dtype === 'i8' ? Q8_0_BLOCK : blockSize;
    const scaleInv = await upload(
      scaleName,
      [Math.ceil(shape[0]! / block[0]), Math.ceil(shape[1]! / block[1])],
      ['f32'],
    );
    return { weight, scaleInv, blockSize: block };
  };
  /** A float matrix for `matmul`: f32/bf16/f16 as stored, fp8 dequantized to f32 on the host. */
  const floatMatrix = async (prefix: string, shape: Shape): Promise<TensorView> => {
    const info = expectInfo(`${prefix}.weight`, shape, [...FLOAT_DTYPES, 'f8_e4m3']);
    if (info.dtype !== 'f8_e4m3') return upload(`${prefix}.weight`, shape);
    const scaleName = `${prefix}.weight_scale_inv`;
    expectInfo(scaleName, scaleShape(shape), ['f32']);
    const q = await checkpoint.read(`${prefix}.weight`);
    const scaleBytes = await checkpoint.read(scaleName);
    const scale = new Float32Array(scaleBytes.buffer, scaleBytes.byteOffset, scaleBytes.byteLength / 4);
    const [rows, cols] = shape as [number, number];
    const scaleCols = Math.ceil(cols / blockSize[1]);
    const values = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const scaleRow = Math.floor(r / blockSize[0]) * scaleCols;
      for (let c = 0; c < cols; c++) {
        values[r * cols + c] =
          FP8_E4M3_TABLE[q[r * cols + c]!]! * scale[scaleRow + Math.floor(c / blockSize[1])]!;
      }
    }
    // Where every value is exact in bf16 (always with DeepSeek's ue8m0 power-of-two scales: e4m3's 3-bit
    // mantissa times 2^e), kept as bf16: the same values in half the bytes of f32 (V3.2: 2 GB instead of 4
    // over 61 layers, and half the bytes the absorbed attention reads per token).
    const bits = new Uint32Array(values.buffer);
    const bf16 = backend.capabilities.dtypes.has('bf16') && bits.every((b) => (b & 0xffff) === 0);
    const data = bf16 ? Uint16Array.from(bits, (b) => b >>> 16) : values;
    const buffer = backend.allocate(data.byteLength, 'weights');
    buffers.push(buffer);
    const view = tensorView(buffer, bf16 ? 'bf16' : 'f32', shape);
    backend.upload(view, data);
    bytesDone += q.byteLength + scaleBytes.byteLength;
    tensorsDone += 2;
    report();
    return view;
  };
  const swiglu = async (prefix: string, width: number): Promise<ExpertWeights> => ({
    gate: await linear(`${prefix}.gate_proj`, [width, config.dim]),
    up: await linear(`${prefix}.up_proj`, [width, config.dim]),
    down: await linear(`${prefix}.down_proj`, [config.dim, width]),
  });

  const { dim, nHeads: h, kvLoraRank: c, qkNopeHeadDim: dn, qkRopeHeadDim: r, vHeadDim: dv } = config;
  const embed = await upload('model.embed_tokens.weight', [config.vocabSize, dim]);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.nLayers; i++) {
    const p = `model.layers.${i}`;
    const a = `${p}.self_attn`;
    const q = config.qLoraRank;
    const selfAttn: MlaWeights = {
      ...(q !== null
        ? {
            q_a_proj: await linear(`${a}.q_a_proj`, [q, dim]),
            q_a_layernorm: await upload(`${a}.q_a_layernorm.weight`, [q]),
            q_b_proj: await linear(`${a}.q_b_proj`, [h * (dn + r), q]),
          }
        : { q_proj: await linear(`${a}.q_proj`, [h * (dn + r), dim]) }),
      kv_a_proj_with_mqa: await linear(`${a}.kv_a_proj_with_mqa`, [c + r, dim]),
      kv_a_layernorm: await upload(`${a}.kv_a_layernorm.weight`, [c]),
      kv_b_proj: await floatMatrix(`${a}.kv_b_proj`, [h * (dn + dv), c]),
      o_proj: await linear(`${a}.o_proj`, [dim, h * dv]),
    };
    let indexer: IndexerWeights | null = null;
    if (config.indexer) {
      const { indexNHeads: hi, indexHeadDim: di } = config.indexer;
      const x = `${a}.indexer`;
      indexer = {
        wq_b: await linear(`${x}.wq_b`, [hi * di, q ?? dim]),
        wk: await linear(`${x}.wk`, [di, dim]),
        k_norm_weight: await upload(`${x}.k_norm.weight`, [di]),
        k_norm_bias: await upload(`${x}.k_norm.bias`, [di]),
        weights_proj: await linear(`${x}.weights_proj`, [hi, dim]),
      };
    }
    let mlp: ExpertWeights | null = null;
    let moe: MoeWeights | null = null;
    if (config.denseLayers[i]) {
      mlp = await swiglu(`${p}.mlp`, config.interDim);
    } else {
      const biasName = `${p}.mlp.gate.e_score_correction_bias`;
      const experts: ExpertWeights[] = [];
      for (let e = 0; e < config.nRoutedExperts; e++)
        experts.push(await swiglu(`${p}.mlp.experts.${e}`, config.moeInterDim));
      moe = {
        gate: await linear(`${p}.mlp.gate`, [config.nRoutedExperts, dim]),
        e_score_correction_bias: checkpoint.has(biasName)
          ? await upload(biasName, [config.nRoutedExperts])
          : null,
        experts,
        shared_experts:
          config.nSharedExperts > 0
            ? await swiglu(`${p}.mlp.shared_experts`, config.moeInterDim * config.nSharedExperts)
            : null,
      };
    }
    layers.push({
      input_layernorm: await upload(`${p}.input_layernorm.weight`, [dim]),
      post_attention_layernorm: await upload(`${p}.post_attention_layernorm.weight`, [dim]),
      self_attn: selfAttn,
      indexer,
      mlp,
      moe,
    });
  }
  const norm = await upload('model.norm.weight', [dim]);
  const lmHead: LinearWeight =
    config.tieWordEmbeddings && !checkpoint.has('lm_head.weight')
      ? { weight: embed }
      : await linear('lm_head', [config.vocabSize, dim]);
  const bytes = buffers.reduce((sum, b) => sum + b.byteLength, 0);
  return { embed_tokens: embed, layers, norm, lm_head: lmHead, buffers, bytes };
}

/** The checkpoint tensor names the model reads (for progress totals), MTP layers excluded. */
function planNames(config: ModelConfig): string[] {
  const names = [
    'model.embed_tokens.weight',
    'model.norm.weight',
    'lm_head.weight',
    'lm_head.weight_scale_inv',
  ];
  const linear = (p: string) => [`${p}.weight`, `${p}.weight_scale_inv`];
  const swiglu = (p: string) => ['gate_proj', 'up_proj', 'down_proj'].flatMap((n) => linear(`${p}.${n}`));
  for (let i = 0; i < config.nLayers; i++) {
    const p = `model.layers.${i}`;
    const a = `${p}.self_attn`;
    names.push(`${p}.input_layernorm.weight`, `${p}.post_attention_layernorm.weight`);
    names.push(
      ...['q_a_proj', 'q_b_proj', 'q_proj', 'kv_a_proj_with_mqa', 'kv_b_proj', 'o_proj'].flatMap((n) =>
        linear(`${a}.${n}`),
      ),
    );
    names.push(`${a}.q_a_layernorm.weight`, `${a}.kv_a_layernorm.weight`);
    if (config.indexer) {
      names.push(...['wq_b', 'wk', 'weights_proj'].flatMap((n) => linear(`${a}.indexer.${n}`)));
      names.push(`${a}.indexer.k_norm.weight`, `${a}.indexer.k_norm.bias`);
    }
    if (config.denseLayers[i]) names.push(...swiglu(`${p}.mlp`));
    else {
      names.push(
        ...linear(`${p}.mlp.gate`),
        `${p}.mlp.gate.e_score_correction_bias`,
        ...swiglu(`${p}.mlp.shared_experts`),
      );
      for (let e = 0; e < config.nRoutedExperts; e++) names.push(...swiglu(`${p}.mlp.experts.${e}`));
    }
  }
  return names;
}
