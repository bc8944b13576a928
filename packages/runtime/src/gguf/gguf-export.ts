import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decodeBf16,
  encodeBf16,
  FP8_E4M3_TABLE,
  f16ToFloat,
  floatToF16,
  type GgmlTypeInfo,
  ggmlTypeByName,
  quantizeQ8_0,
} from '@dsa/tensor';
import { Checkpoint } from '../checkpoint/checkpoint.js';
import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import { type ModelConfig, parseModelConfig } from '../config/model-config.js';
import { architectureToGguf, ggufArchitecture } from './gguf-architecture.js';
import {
  EXPERT_TENSOR_NAMES,
  type ExpertProjection,
  GLOBAL_TENSOR_NAMES,
  ggufKeepsF32,
  KV_B_PARTS,
  LAYER_TENSOR_NAMES,
} from './gguf-tensor-names.js';
import { tokenizerToGguf } from './gguf-tokenizer.js';
import { type GgufValue, gguf } from './gguf-value.js';
import { type GgufTensorData, type GgufWriteProgress, writeGguf } from './gguf-writer.js';

/** Weight types `dsa convert --type` writes. */
export const GGUF_OUTPUT_TYPES = ['f32', 'bf16', 'f16', 'q8_0'] as const;

/** A weight type of {@link convertToGguf}. */
export type GgufOutputType = (typeof GGUF_OUTPUT_TYPES)[number];

/** llama.cpp file types (`llama_ftype`) of the output types. */
const FILE_TYPE: Record<GgufOutputType, number> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };

/**
 * Metadata key listing the tensors stored as F32 (llama.cpp's convention for norms, the router and the
 * indexer's head weights) whose checkpoint dtype was bf16; our importer loads them back as bf16, so the
 * engine runs the same kernels on them as on the checkpoint. llama.cpp ignores the key.
 */
export const DSA_BF16_TENSORS_KEY = 'dsa.bf16_tensors';

/** Options of {@link convertToGguf}. */
export interface ConvertOptions {
  /** Type of the weight matrices (default `bf16`); 1-D tensors, norms and the router stay F32, as llama.cpp does. */
  readonly type?: GgufOutputType;
  /** Folder with `tokenizer.json` and `tokenizer_config.json` (default: the model folder). */
  readonly tokenizerDir?: string;
  /** `general.name` (default: the model folder's name). */
  readonly name?: string;
  /** Called after each tensor is written. */
  readonly onProgress?: (progress: GgufWriteProgress) => void;
  /** Informational lines (fallbacks, skipped tensors). */
  readonly log?: (line: string) => void;
}

/** What {@link convertToGguf} wrote. */
export interface ConvertSummary {
  /** The GGUF architecture written. */
  readonly architecture: 'deepseek32' | 'deepseek2';
  /** Tensors written. */
  readonly tensors: number;
  /** Tensor data bytes written. */
  readonly bytes: number;
  /** Tensor count per GGML type written. */
  readonly types: Readonly<Record<string, number>>;
}

type Json = Record<string, unknown>;

async function readJson(path: string, hint: string): Promise<Json> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new CheckpointError(`${path}: cannot read (${hint}): ${String(cause)}`, { file: path, cause });
  }
  try {
    return JSON.parse(text) as Json;
  } catch (cause) {
    throw new CheckpointError(`${path}: invalid JSON: ${(cause as Error).message}`, { file: path, cause });
  }
}

/** A checkpoint tensor decoded to f32 (fp8 times its block scale), with the dtype it had. */
async function readFloat(
  checkpoint: Checkpoint,
  config: ModelConfig,
  name: string,
): Promise<{ values: Float32Array; dtype: string }> {
  const info = checkpoint.info(name);
  const bytes = await checkpoint.read(name);
  const n = bytes.byteLength / (info.dtype === 'f8_e4m3' ? 1 : info.dtype === 'f32' ? 4 : 2);
  const values = new Float32Array(n);
  switch (info.dtype) {
    case 'f32':
      values.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      break;
    case 'bf16':
      decodeBf16(new Uint16Array(bytes.buffer, bytes.byteOffset, n), values);
      break;
    case 'f16': {
      const half = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
      for (let i = 0; i < n; i++) values[i] = f16ToFloat(half[i]!);
      break;
    }
    case 'f8_e4m3': {
      const scaleName = name.replace(/\.weight$/, '.weight_scale_inv');
      if (!checkpoint.has(scaleName)) {
        throw new CheckpointError(`tensor ${name} is float8 but ${scaleName} is missing`, {
          file: info.file,
          tensor: scaleName,
        });
      }
      const scaleBytes = await checkpoint.read(scaleName);
      const scale = new Float32Array(scaleBytes.buffer, scaleBytes.byteOffset, scaleBytes.byteLength / 4);
      const [rows, cols] = info.shape as [number, number];
      const [br, bc] = config.quantization?.blockSize ?? [128, 128];
      const scaleCols = Math.ceil(cols / bc);
      for (let r = 0; r < rows; r++) {
        const scaleRow = Math.floor(r / br) * scaleCols;
        for (let c = 0; c < cols; c++) {
          values[r * cols + c] =
            FP8_E4M3_TABLE[bytes[r * cols + c]!]! * scale[scaleRow + Math.floor(c / bc)]!;
        }
      }
      break;
    }
    default:
      throw new CheckpointError(
        `tensor ${name} in ${info.file} has dtype ${info.dtype}; expected a float type`,
        {
          file: info.file,
          tensor: name,
        },
      );
  }
  return { values, dtype: info.dtype };
}

/** Encodes f32 values as GGML `type` (F32, F16, BF16 or Q8_0). */
function encode(values: Float32Array, type: GgmlTypeInfo): Uint8Array {
  switch (type.name) {
    case 'F32':
      return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    case 'BF16': {
      const out = new Uint16Array(values.length);
      encodeBf16(values, out);
      return new Uint8Array(out.buffer);
    }
    case 'F16': {
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = floatToF16(values[i]!);
      return new Uint8Array(out.buffer);
    }
    case 'Q8_0': {
      const out = new Uint8Array((values.length / 32) * 34);
      quantizeQ8_0(values, out);
      return out;
    }
    default:
      throw new Error(`cannot encode GGML type ${type.name}`);
  }
}

const F32 = ggmlTypeByName('F32')!;
const F16 = ggmlTypeByName('F16')!;

/**
 * Converts the checkpoint folder `modelDir` (Hugging Face layout, bf16 or fp8) into a GGUF file at `out`
 * that llama.cpp loads as `deepseek32` (models with the DSA indexer) or `deepseek2`: llama.cpp's metadata
 * keys and tensor names, `kv_b_proj` split into `attn_k_b`/`attn_v_b`, routed experts stacked, fp8 weights
 * dequantized then written as `type`, and the tokenizer (vocabulary, token types, merges, BOS/EOS, chat
 * template). Multi-token-prediction layers are left out. Matrices whose rows are not a multiple of 32 fall
 * back from Q8_0 to F16, as llama.cpp's converter does. Written through a temporary file and renamed.
 *
 * @throws CheckpointError / ConfigError naming the file and field for unreadable input or what GGUF
 *   cannot represent.
 */
export async function convertToGguf(
  modelDir: string,
  out: string,
  options: ConvertOptions = {},
): Promise<ConvertSummary> {
  const type = options.type ?? 'bf16';
  const target = ggmlTypeByName(type.toUpperCase())!;
  const log = options.log ?? (() => {});
  const checkpoint = await Checkpoint.open(modelDir);
  try {
    const config = parseModelConfig(await checkpoint.readJson('config.json'), join(modelDir, 'config.json'));
    const arch = ggufArchitecture(config);
    const tokenizerDir = options.tokenizerDir ?? modelDir;
    const hint = options.tokenizerDir
      ? 'the --tokenizer folder'
      : 'give --tokenizer DIR when the model folder has no tokenizer';
    const tokenizerJson = await readJson(join(tokenizerDir, 'tokenizer.json'), hint);
    const tokenizerConfig = await readJson(join(tokenizerDir, 'tokenizer_config.json'), hint);

    const metadata = new Map<string, GgufValue>();
    metadata.set('general.architecture', gguf.string(arch));
    metadata.set('general.type', gguf.string('model'));
    metadata.set('general.name', gguf.string(options.name ?? modelDir.replace(/\/+$/, '').split('/').pop()!));
    metadata.set('general.file_type', gguf.u32(FILE_TYPE[type]));
    metadata.set('general.quantization_version', gguf.u32(2));
    for (const [k, v] of architectureToGguf(config, join(modelDir, 'config.json'))) metadata.set(k, v);
    for (const [k, v] of tokenizerToGguf(
      tokenizerJson,
      tokenizerConfig,
      config.vocabSize,
      join(tokenizerDir, 'tokenizer.json'),
    )) {
      metadata.set(k, v);
    }

    const tensors: GgufTensorData[] = [];
    const counts: Record<string, number> = {};
    const bf16AsF32: string[] = [];
    const typeFor = (ggufName: string, shape: readonly number[]): GgmlTypeInfo => {
      if (ggufKeepsF32(ggufName, shape.length)) return F32;
      if (target.blockSize > 1 && shape[shape.length - 1]! % target.blockSize !== 0) {
        log(
          `${ggufName}: rows of ${shape[shape.length - 1]} are not a multiple of ${target.blockSize}; written as F16`,
        );
        return F16;
      }
      return target;
    };
    const add = (
      ggufName: string,
      shape: readonly number[],
      produce: () => Promise<Float32Array>,
      sourceDtype: string,
    ) => {
      const t = typeFor(ggufName, shape);
      counts[t.name] = (counts[t.name] ?? 0) + 1;
      if (t === F32 && sourceDtype === 'bf16' && type !== 'f32') bf16AsF32.push(ggufName);
      tensors.push({ name: ggufName, type: t, shape, data: async () => encode(await produce(), t) });
    };
    const direct = (hfName: string, ggufName: string) => {
      const info = checkpoint.info(hfName);
      add(ggufName, info.shape, async () => (await readFloat(checkpoint, config, hfName)).values, info.dtype);
    };

    direct('model.embed_tokens.weight', GLOBAL_TENSOR_NAMES['model.embed_tokens.weight']!);
    for (let i = 0; i < config.nLayers; i++) {
      const p = `model.layers.${i}.`;
      for (const [suffix, ggufSuffix] of Object.entries(LAYER_TENSOR_NAMES)) {
        if (checkpoint.has(p + suffix)) direct(p + suffix, `blk.${i}.${ggufSuffix}`);
      }
      const kvB = `${p}self_attn.kv_b_proj.weight`;
      const { nHeads: h, qkNopeHeadDim: dn, vHeadDim: dv, kvLoraRank: c } = config;
      const kvDtype = checkpoint.info(kvB).dtype;
      let split: Promise<{ k: Float32Array; v: Float32Array }> | undefined;
      const splitKvB = () => {
        split ??= readFloat(checkpoint, config, kvB).then(({ values }) => {
          // kv_b [H, Dn + Dv, C] → k_b [H, C, Dn] (transposed per head) and v_b [H, Dv, C]
          const k = new Float32Array(h * c * dn);
          const v = new Float32Array(h * dv * c);
          for (let head = 0; head < h; head++) {
            const base = head * (dn + dv) * c;
            for (let j = 0; j < dn; j++)
              for (let x = 0; x < c; x++) k[(head * c + x) * dn + j] = values[base + j * c + x]!;
            v.set(values.subarray(base + dn * c, base + (dn + dv) * c), head * dv * c);
          }
          return { k, v };
        });
        return split;
      };
      add(`blk.${i}.${KV_B_PARTS.k}`, [h, c, dn], async () => (await splitKvB()).k, kvDtype);
      add(`blk.${i}.${KV_B_PARTS.v}`, [h, dv, c], async () => (await splitKvB()).v, kvDtype);
      if (!config.denseLayers[i]) {
        const e = config.nRoutedExperts;
        for (const [projection, ggufSuffix] of Object.entries(EXPERT_TENSOR_NAMES) as [
          ExpertProjection,
          string,
        ][]) {
          const first = checkpoint.info(`${p}mlp.experts.0.${projection}.weight`);
          const [rows, cols] = first.shape as [number, number];
          add(
            `blk.${i}.${ggufSuffix}`,
            [e, rows, cols],
            async () => {
              const stacked = new Float32Array(e * rows * cols);
              for (let x = 0; x < e; x++) {
                const name = `${p}mlp.experts.${x}.${projection}.weight`;
                const { values } = await readFloat(checkpoint, config, name);
                if (values.length !== rows * cols) {
                  throw new CheckpointError(
                    `tensor ${name} has ${values.length} values; expert 0 has ${rows * cols}`,
                    {
                      tensor: name,
                    },
                  );
                }
                stacked.set(values, x * rows * cols);
              }
              return stacked;
            },
            first.dtype,
          );
        }
      }
    }
    direct('model.norm.weight', GLOBAL_TENSOR_NAMES['model.norm.weight']!);
    if (checkpoint.has('lm_head.weight') && !config.tieWordEmbeddings) {
      direct('lm_head.weight', GLOBAL_TENSOR_NAMES['lm_head.weight']!);
    }
    if (config.numNextnPredictLayers > 0)
      log(`left out ${config.numNextnPredictLayers} multi-token-prediction layer(s)`);
    if (bf16AsF32.length > 0) metadata.set(DSA_BF16_TENSORS_KEY, gguf.strings(bf16AsF32));

    let bytes = 0;
    await writeGguf(out, metadata, tensors, (progress) => {
      bytes = progress.bytesDone;
      options.onProgress?.(progress);
    });
    return { architecture: arch, tensors: tensors.length, bytes, types: counts };
  } finally {
    await checkpoint.close();
  }
}
