import {
  type DType,
  dequantizeGgml,
  dtypeBytes,
  encodeBf16,
  f16ToFloat,
  type GgmlTypeInfo,
  ggmlDequantizeRefusal,
} from '@dsa/tensor';
import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import type { SourceTensorInfo, TensorSource } from '../checkpoint/tensor-source.js';
import { type ModelConfig, parseModelConfig } from '../config/model-config.js';
import { configFromGguf } from './gguf-architecture.js';
import { DSA_BF16_TENSORS_KEY } from './gguf-export.js';
import { GgufFile, type GgufTensorInfo } from './gguf-file.js';
import {
  EXPERT_TENSOR_NAMES,
  type ExpertProjection,
  GLOBAL_TENSOR_NAMES,
  KV_B_PARTS,
  LAYER_TENSOR_NAMES,
} from './gguf-tensor-names.js';
import { type HfTokenizerFiles, tokenizerFromGguf } from './gguf-tokenizer.js';

/** GGML types the model uses as they are; every other type is dequantized to f32 at load. */
const NATIVE: Readonly<Record<string, DType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

/** Tensor names the dequantization log line lists per GGML type before "and N more". */
const LOGGED_NAMES = 3;

/** How one checkpoint-named tensor is produced from the GGUF file. */
interface Entry {
  readonly info: SourceTensorInfo;
  readonly read: () => Promise<Uint8Array>;
}

/**
 * A `deepseek32` / `deepseek2` GGUF file seen as a checkpoint: tensors under their Hugging Face names
 * (`attn_k_b` + `attn_v_b` joined back into `kv_b_proj`, stacked experts split per expert), the config
 * rebuilt from the architecture metadata, and the tokenizer from the vocabulary metadata. F32, F16 and
 * BF16 tensors are passed through; every other type `dequantizeGgml` decodes (Q8_0, the K-quants, the
 * i-quants such as IQ1_S and IQ2_XXS, TQ1_0, MXFP4, ...) is dequantized to f32 when read, with one log line
 * per type naming its tensors. Tensors our exporter stored as F32 only by llama.cpp's convention
 * (listed in `dsa.bf16_tensors`) are read back as the bf16 they were.
 */
export class GgufCheckpoint implements TensorSource {
  /** The GGUF file. */
  readonly file: GgufFile;
  /** The model config rebuilt from the metadata. */
  readonly config: ModelConfig;
  /** The config as a Hugging Face `config.json` object. */
  readonly hfConfig: Record<string, unknown>;
  /** Bytes of tensor data in the file. */
  readonly totalBytes: number;

  readonly #entries = new Map<string, Entry>();
  readonly #cache = new Map<string, Promise<Float32Array | Uint8Array>>();
  readonly #log: (line: string) => void;
  readonly #logged = new Set<string>();
  readonly #dequantized = new Map<string, Set<string>>();

  readonly #nativeQ8_0: boolean;

  private constructor(file: GgufFile, log: (line: string) => void, nativeQ8_0: boolean) {
    this.file = file;
    this.#log = log;
    this.#nativeQ8_0 = nativeQ8_0;
    const embed = file.tensors.get('token_embd.weight');
    if (embed === undefined) {
      throw new CheckpointError(
        `${file.path}: tensor "token_embd.weight" not found; is this a language model GGUF?`,
        {
          file: file.path,
          tensor: 'token_embd.weight',
        },
      );
    }
    this.hfConfig = configFromGguf(file, embed.shape[0]!, !file.tensors.has('output.weight'));
    this.config = parseModelConfig(this.hfConfig, `${file.path} (GGUF metadata)`);
    this.totalBytes = [...file.tensors.values()].reduce((n, t) => n + t.byteLength, 0);
    this.#plan();
  }

  /**
   * Opens a GGUF file and maps it onto the checkpoint's names.
   * @param log - receives a line for each GGML type dequantized at load.
   * @param options.nativeQ8_0 - present Q8_0 matrices that feed `linear` as i8 weights with a
   *   `weight_scale_inv` of one f32 scale per 32 values (for backends whose `linearWeightDtypes` has i8)
   *   instead of dequantizing them. The embedding and `kv_b_proj` parts are always dequantized.
   * @throws CheckpointError / ConfigError naming the file and key or tensor.
   */
  static async open(
    path: string,
    log: (line: string) => void = () => {},
    options: { nativeQ8_0?: boolean } = {},
  ): Promise<GgufCheckpoint> {
    const file = await GgufFile.open(path);
    try {
      return new GgufCheckpoint(file, log, options.nativeQ8_0 ?? false);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** `tokenizer.json` and `tokenizer_config.json` objects rebuilt from the file's tokenizer metadata. */
  tokenizer(): HfTokenizerFiles {
    return tokenizerFromGguf(this.file);
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  info(name: string): SourceTensorInfo {
    return this.#entry(name).info;
  }

  async read(name: string): Promise<Uint8Array> {
    return this.#entry(name).read();
  }

  /** Names of every tensor, in the checkpoint's spelling. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  /** Closes the file. Never rejects. */
  async close(): Promise<void> {
    this.#cache.clear();
    await this.file.close();
  }

  #entry(name: string): Entry {
    const entry = this.#entries.get(name);
    if (entry === undefined) {
      throw new CheckpointError(`${this.file.path}: tensor "${name}" has no counterpart in this GGUF file`, {
        file: this.file.path,
        tensor: name,
      });
    }
    return entry;
  }

  /** The GGUF tensor `name` as f32 values, or its raw bytes when `raw` and the type is native. */
  #decode(t: GgufTensorInfo): Promise<Float32Array> {
    const key = `f32:${t.name}`;
    let cached = this.#cache.get(key) as Promise<Float32Array> | undefined;
    if (cached === undefined) {
      cached = this.file.read(t.name).then((bytes) => {
        const elements = t.dims.reduce((a, b) => a * b, 1);
        const out = new Float32Array(elements);
        try {
          dequantizeGgml(t.type, bytes, out, elements);
        } catch (cause) {
          throw new CheckpointError(`${this.file.path}: tensor "${t.name}": ${(cause as Error).message}`, {
            file: this.file.path,
            tensor: t.name,
            cause,
          });
        }
        return out;
      });
      // Only the most recent stacked tensors are kept (experts are read layer by layer).
      if (this.#cache.size >= 4) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(key, cached);
    }
    return cached;
  }

  /**
   * Logs, once per GGML type, which of the file's tensors of that type are dequantized at load (the count and
   * the first few names), and to what.
   */
  #note(type: GgmlTypeInfo): void {
    if (NATIVE[type.name] !== undefined || this.#logged.has(type.name)) return;
    this.#logged.add(type.name);
    const names = [...(this.#dequantized.get(type.name) ?? [])];
    const shown = names.slice(0, LOGGED_NAMES).join(', ');
    const more = names.length > LOGGED_NAMES ? ` and ${names.length - LOGGED_NAMES} more` : '';
    this.#log(
      `${this.file.path}: ${names.length} ${type.name} tensor(s) dequantized to f32 at load: ${shown}${more}`,
    );
  }

  /**
   * Records that GGUF tensor `t` will be dequantized (for {@link GgufCheckpoint.#note}).
   * @throws CheckpointError naming the tensor when its type cannot be dequantized, before any data is read.
   */
  #willDequantize(t: GgufTensorInfo): void {
    if (NATIVE[t.type.name] !== undefined) return;
    const refusal = ggmlDequantizeRefusal(t.type);
    if (refusal !== undefined) {
      throw new CheckpointError(`${this.file.path}: tensor "${t.name}": ${refusal}`, {
        file: this.file.path,
        tensor: t.name,
      });
    }
    const names = this.#dequantized.get(t.type.name) ?? new Set<string>();
    names.add(t.name);
    this.#dequantized.set(t.type.name, names);
  }

  #plan(): void {
    const file = this.file;
    const config = this.config;
    const bf16Value = file.get(DSA_BF16_TENSORS_KEY);
    const asBf16 = new Set(
      bf16Value?.type === 'array' && bf16Value.itemType === 'string' ? (bf16Value.value as string[]) : [],
    );
    const encodeAs = (values: Float32Array, dtype: DType): Uint8Array => {
      if (dtype === 'f32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      const out = new Uint16Array(values.length);
      encodeBf16(values, out);
      return new Uint8Array(out.buffer);
    };
    const add = (name: string, dtype: DType, shape: readonly number[], read: () => Promise<Uint8Array>) => {
      const elements = shape.reduce((a, b) => a * b, 1);
      this.#entries.set(name, {
        info: { name, dtype, shape, byteLength: elements * dtypeBytes(dtype), file: file.path },
        read,
      });
    };
    const q8 = (
      hfName: string,
      t: GgufTensorInfo,
      rows: number,
      cols: number,
      part?: { index: number; of: number },
    ) => {
      const scaleName = hfName.replace(/\.weight$/, '.weight_scale_inv');
      const split = async () => {
        const all = await this.#raw(t);
        const bytes =
          part === undefined
            ? all
            : all.subarray((all.length / part.of) * part.index, (all.length / part.of) * (part.index + 1));
        return splitQ8_0(bytes, rows * cols);
      };
      add(hfName, 'i8', [rows, cols], async () => new Uint8Array((await split()).quants.buffer));
      add(scaleName, 'f32', [rows, cols / 32], async () => new Uint8Array((await split()).scales.buffer));
    };
    const direct = (hfName: string, ggufName: string) => {
      const t = file.tensors.get(ggufName);
      if (t === undefined) return;
      if (
        this.#nativeQ8_0 &&
        t.type.name === 'Q8_0' &&
        t.shape.length === 2 &&
        ggufName !== 'token_embd.weight'
      ) {
        q8(hfName, t, t.shape[0]!, t.shape[1]!);
        return;
      }
      const native = NATIVE[t.type.name];
      if (native !== undefined && !(native === 'f32' && asBf16.has(ggufName))) {
        add(hfName, native, t.shape, () => file.read(ggufName));
        return;
      }
      const dtype: DType = native === 'f32' ? 'bf16' : 'f32';
      this.#willDequantize(t);
      add(hfName, dtype, t.shape, async () => {
        this.#note(t.type);
        const values = await this.#decode(t);
        this.#cache.delete(`f32:${t.name}`);
        if (dtype === 'bf16' && !bf16Exact(values)) {
          throw new CheckpointError(
            `${file.path}: tensor "${ggufName}" is listed in ${DSA_BF16_TENSORS_KEY} but is not bf16-exact`,
            {
              file: file.path,
              tensor: ggufName,
            },
          );
        }
        return encodeAs(values, dtype);
      });
    };

    if (this.#nativeQ8_0 && [...file.tensors.values()].some((t) => t.type.name === 'Q8_0')) {
      this.#log(`${file.path}: Q8_0 matrices run as i8 with one f32 scale per 32 values (not dequantized)`);
    }
    for (const [hf, name] of Object.entries(GLOBAL_TENSOR_NAMES)) direct(hf, name);
    const { nHeads: h, qkNopeHeadDim: dn, vHeadDim: dv, kvLoraRank: c } = config;
    for (let i = 0; i < config.nLayers; i++) {
      const p = `model.layers.${i}.`;
      const b = `blk.${i}.`;
      for (const [hf, name] of Object.entries(LAYER_TENSOR_NAMES)) direct(p + hf, b + name);

      const kB = file.tensors.get(b + KV_B_PARTS.k);
      const vB = file.tensors.get(b + KV_B_PARTS.v);
      if (kB !== undefined && vB !== undefined) {
        expectShape(file.path, kB, [h, c, dn]);
        expectShape(file.path, vB, [h, dv, c]);
        // Both bf16: the joined matrix is bf16 too (exact); otherwise f32.
        const dtype: DType = kB.type.name === 'BF16' && vB.type.name === 'BF16' ? 'bf16' : 'f32';
        this.#willDequantize(kB);
        this.#willDequantize(vB);
        add(`${p}self_attn.kv_b_proj.weight`, dtype, [h * (dn + dv), c], async () => {
          this.#note(kB.type);
          this.#note(vB.type);
          const k = await this.#decode(kB);
          const v = await this.#decode(vB);
          // k_b [H, C, Dn] (transposed per head) and v_b [H, Dv, C] → kv_b [H, Dn + Dv, C]
          const kv = new Float32Array(h * (dn + dv) * c);
          for (let head = 0; head < h; head++) {
            const base = head * (dn + dv) * c;
            for (let j = 0; j < dn; j++)
              for (let x = 0; x < c; x++) kv[base + j * c + x] = k[(head * c + x) * dn + j]!;
            kv.set(v.subarray(head * dv * c, (head + 1) * dv * c), base + dn * c);
          }
          this.#cache.delete(`f32:${kB.name}`);
          this.#cache.delete(`f32:${vB.name}`);
          return encodeAs(kv, dtype);
        });
      }

      for (const [projection, ggufSuffix] of Object.entries(EXPERT_TENSOR_NAMES) as [
        ExpertProjection,
        string,
      ][]) {
        const t = file.tensors.get(b + ggufSuffix);
        if (t === undefined) continue;
        if (t.shape.length !== 3 || t.shape[0] !== config.nRoutedExperts) {
          throw new CheckpointError(
            `${file.path}: tensor "${t.name}" has shape [${t.shape.join(', ')}]; expected [${config.nRoutedExperts}, rows, cols] (one matrix per routed expert)`,
            { file: file.path, tensor: t.name },
          );
        }
        const [, rows, cols] = t.shape as [number, number, number];
        const native = NATIVE[t.type.name];
        const expertBytes = t.byteLength / config.nRoutedExperts;
        for (let e = 0; e < config.nRoutedExperts; e++) {
          const name = `${p}mlp.experts.${e}.${projection}.weight`;
          if (this.#nativeQ8_0 && t.type.name === 'Q8_0') {
            q8(name, t, rows, cols, { index: e, of: config.nRoutedExperts });
          } else if (native !== undefined) {
            add(name, native, [rows, cols], async () => {
              const all = await this.#raw(t);
              return all.slice(e * expertBytes, (e + 1) * expertBytes);
            });
          } else {
            this.#willDequantize(t);
            add(name, 'f32', [rows, cols], async () => {
              this.#note(t.type);
              const all = await this.#decode(t);
              return new Uint8Array(all.slice(e * rows * cols, (e + 1) * rows * cols).buffer);
            });
          }
        }
      }
    }
  }

  /** The raw bytes of a stacked tensor, cached while its experts are read. */
  #raw(t: GgufTensorInfo): Promise<Uint8Array> {
    const key = `raw:${t.name}`;
    let cached = this.#cache.get(key) as Promise<Uint8Array> | undefined;
    if (cached === undefined) {
      cached = this.file.read(t.name);
      if (this.#cache.size >= 4) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(key, cached);
    }
    return cached;
  }
}

/** Q8_0 blocks (an f16 scale, then 32 int8) split into the quants and one f32 scale per block. */
function splitQ8_0(bytes: Uint8Array, elements: number): { quants: Int8Array; scales: Float32Array } {
  const blocks = elements / 32;
  const quants = new Int8Array(elements);
  const scales = new Float32Array(blocks);
  const signed = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    scales[b] = f16ToFloat(bytes[b * 34]! | (bytes[b * 34 + 1]! << 8));
    quants.set(signed.subarray(b * 34 + 2, b * 34 + 34), b * 32);
  }
  return { quants, scales };
}

/** True when every value keeps only the upper 16 bits of its float32 pattern (a bf16 value). */
function bf16Exact(values: Float32Array): boolean {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  return bits.every((b) => (b & 0xffff) === 0);
}

function expectShape(path: string, t: GgufTensorInfo, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new CheckpointError(
      `${path}: tensor "${t.name}" has shape [${t.shape.join(', ')}]; the metadata implies [${shape.join(', ')}]`,
      { file: path, tensor: t.name },
    );
  }
}
