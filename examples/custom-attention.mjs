// A custom runtime built from the parts, without @dsa/runtime: one DSA attention layer (MLA + lightning
// indexer) of the tiny checkpoint, decoding token by token with a top-k that grows with the context
// (k = 4 + t/4) instead of the checkpoint's fixed index_topk. It reads the safetensors file itself.
// As a check, a schedule that keeps every position must equal dense attention.
// node examples/custom-attention.mjs [checkpoint folder]
import fs from 'node:fs';
import path from 'node:path';
import { uploadTensor, Workspace } from '@dsa/backend';
import referenceBackendFactory from '@dsa/backend-reference';
import { Indexer } from '@dsa/indexer';
import { Mla } from '@dsa/mla';
import { tensorView } from '@dsa/tensor';

const dir = process.argv[2] ?? 'fixtures/tiny';
const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const file = fs.readFileSync(path.join(dir, 'model.safetensors'));
const headerLength = Number(file.readBigUInt64LE(0));
const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8'));
const backend = await referenceBackendFactory.create();
const DTYPES = { BF16: 'bf16', F32: 'f32', F16: 'f16', F8_E4M3: 'f8_e4m3' };
const tensor = (name) => {
  const {
    dtype,
    shape,
    data_offsets: [begin, end],
  } = header[name];
  const bytes = file.subarray(8 + headerLength + begin, 8 + headerLength + end);
  const view = tensorView(backend.allocate(bytes.length, 'weights'), DTYPES[dtype], shape);
  backend.upload(view, bytes);
  return view;
};
const linear = (name) =>
  header[`${name}.weight_scale_inv`]
    ? {
        weight: tensor(`${name}.weight`),
        scaleInv: tensor(`${name}.weight_scale_inv`),
        blockSize: [128, 128],
      }
    : { weight: tensor(`${name}.weight`) };

const p = 'model.layers.0.self_attn';
const {
  hidden_size: D,
  num_attention_heads: H,
  kv_lora_rank: C,
  qk_rope_head_dim: R,
  qk_nope_head_dim: Dn,
  v_head_dim: Dv,
} = config;
const mla = new Mla(
  backend,
  {
    dim: D,
    nHeads: H,
    qLoraRank: config.q_lora_rank,
    kvLoraRank: C,
    qkNopeHeadDim: Dn,
    qkRopeHeadDim: R,
    vHeadDim: Dv,
    normEps: 1e-6,
    softmaxScale: (Dn + R) ** -0.5,
  },
  {
    q_a_proj: linear(`${p}.q_a_proj`),
    q_a_layernorm: tensor(`${p}.q_a_layernorm.weight`),
    q_b_proj: linear(`${p}.q_b_proj`),
    kv_a_proj_with_mqa: linear(`${p}.kv_a_proj_with_mqa`),
    kv_a_layernorm: tensor(`${p}.kv_a_layernorm.weight`),
    kv_b_proj: tensor(`${p}.kv_b_proj.weight`),
    o_proj: linear(`${p}.o_proj`),
  },
);
const indexerWeights = {
  wq_b: linear(`${p}.indexer.wq_b`),
  wk: linear(`${p}.indexer.wk`),
  k_norm_weight: tensor(`${p}.indexer.k_norm.weight`),
  k_norm_bias: tensor(`${p}.indexer.k_norm.bias`),
  weights_proj: linear(`${p}.indexer.weights_proj`),
};
// Plain RoPE frequencies (a custom runtime may choose its own position encoding).
const rotary = {
  invFreq: uploadTensor(
    backend,
    'f32',
    [R / 2],
    Array.from({ length: R / 2 }, (_, i) => 10000 ** ((-2 * i) / R)),
  ),
  attentionFactor: 1,
};

/** Decodes `steps` tokens of random hidden states; `schedule(t)` is the top-k at position t (null = dense). */
async function decode(steps, schedule) {
  const slots = 64;
  const latent = tensorView(backend.allocate(slots * (C + R) * 4, 'kv-cache'), 'f32', [slots, C + R]);
  const keys = {
    keys: tensorView(backend.allocate(slots * config.index_head_dim * 4, 'kv-cache'), 'f32', [
      slots,
      config.index_head_dim,
    ]),
  };
  const workspace = new Workspace(backend);
  let seed = 11;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed / 2147483648 - 0.5) * 2;
  };
  let last = null;
  for (let t = 0; t < steps; t++) {
    workspace.reset();
    const x = uploadTensor(backend, 'f32', [1, D], Array.from({ length: D }, random));
    const position = uploadTensor(backend, 'i32', [1], [t]);
    const batch = {
      positions: position,
      sequenceIds: uploadTensor(backend, 'i32', [1], [0]),
      blockTable: uploadTensor(backend, 'i32', [1, 1], [0]),
      blockSize: slots,
      host: {
        positions: Int32Array.of(t),
        sequenceIds: Int32Array.of(0),
        blockTable: Int32Array.of(0),
        maxBlocks: 1,
      },
    };
    const writeSlot = uploadTensor(backend, 'i32', [1], [t]);
    const projection = mla.project(workspace, x, position, rotary, latent, writeSlot);
    const k = schedule(t);
    const indexer = new Indexer(
      backend,
      {
        indexNHeads: config.index_n_heads,
        indexHeadDim: config.index_head_dim,
        indexTopk: k ?? 1,
        qkRopeHeadDim: R,
      },
      indexerWeights,
      'fp32',
    );
    const indices = indexer.forward(
      {
        workspace,
        x,
        qr: projection.qr,
        positions: position,
        rotary,
        keyCache: keys,
        writeSlots: writeSlot,
        batch,
      },
      k !== null,
    );
    const out = mla.attend(workspace, projection, latent, batch, indices);
    last = new Float32Array(D);
    await backend.download(out, last);
  }
  return last;
}

const steps = 24;
const growing = await decode(steps, (t) => 4 + Math.floor(t / 4));
const everything = await decode(steps, (t) => t + 1);
const dense = await decode(steps, () => null);
const diff = (a, b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
const result = {
  steps,
  final_k: 4 + Math.floor((steps - 1) / 4),
  sparse_vs_dense: diff(growing, dense),
  all_positions_vs_dense: diff(everything, dense),
};
console.log(JSON.stringify(result));
process.exitCode = result.all_positions_vs_dense < 1e-6 && result.sparse_vs_dense > 1e-4 ? 0 : 1;
