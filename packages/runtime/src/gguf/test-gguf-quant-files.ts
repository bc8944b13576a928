// Test helper (not built into dist): GGUF models whose tensors are stored in a chosen GGML type, built from
// gguf-py's golden blocks (packages/tensor/testdata/ggml-blocks.json), so what a loader makes of them can be
// compared with gguf-py's dequantization.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Backend } from '@dsa/backend';
import { ggmlTypeByName } from '@dsa/tensor';
import { DeepseekModel } from '../model/deepseek-model.js';
import { forcedLogitsAndGreedy } from '../model/test-model-outputs.js';
import { DSA_BF16_TENSORS_KEY } from './gguf-export.js';
import { GgufFile } from './gguf-file.js';
import { type GgufTensorData, writeGguf } from './gguf-writer.js';

/** Blocks 0..4 of each type in the goldens have moderate scales (make-ggml-blocks.py): weights a model runs on. */
const MODERATE_BLOCKS = 5;

const GOLDEN = resolve(import.meta.dirname, '../../../tensor/testdata/ggml-blocks.json');

/** One type's golden blocks: their bytes and gguf-py's values of them. */
interface GoldenBlocks {
  readonly bytes: Uint8Array;
  readonly values: Float32Array;
}

let golden: Record<string, GoldenBlocks> | undefined;

/** gguf-py's golden blocks of every type it dequantizes, by GGML type name. */
export function goldenBlocks(): Record<string, GoldenBlocks> {
  if (golden === undefined) {
    const json = JSON.parse(readFileSync(GOLDEN, 'utf8')) as {
      blocks: Record<string, { bytes: string; values_f32_bits: number[] }>;
    };
    golden = Object.fromEntries(
      Object.entries(json.blocks).map(([name, b]) => [
        name,
        {
          bytes: Uint8Array.from(Buffer.from(b.bytes, 'hex')),
          values: new Float32Array(Uint32Array.from(b.values_f32_bits).buffer),
        },
      ]),
    );
  }
  return golden;
}

/** `elements` values of GGML type `type`: the moderate golden blocks repeated, and gguf-py's values of them. */
export function goldenTensor(type: string, elements: number): GoldenBlocks {
  const info = ggmlTypeByName(type)!;
  const { bytes, values } = goldenBlocks()[type]!;
  const blocks = elements / info.blockSize;
  const out = { bytes: new Uint8Array(blocks * info.typeSize), values: new Float32Array(elements) };
  for (let b = 0; b < blocks; b++) {
    const g = b % MODERATE_BLOCKS;
    out.bytes.set(bytes.subarray(g * info.typeSize, (g + 1) * info.typeSize), b * info.typeSize);
    out.values.set(values.subarray(g * info.blockSize, (g + 1) * info.blockSize), b * info.blockSize);
  }
  return out;
}

/**
 * Writes a copy of the GGUF file `base` to `out` with the tensors of `types` (GGUF tensor name → GGML type
 * name) stored in those types, from {@link goldenTensor}; with `asF32`, stores gguf-py's values of those same
 * blocks as F32 instead (the twin that must load identically). A type without goldens gets zero blocks. Leaves
 * out `dsa.bf16_tensors`. Returns gguf-py's values of each replaced tensor that has goldens.
 */
export async function writeQuantGguf(
  base: string,
  out: string,
  types: Readonly<Record<string, string>>,
  options: { asF32?: boolean } = {},
): Promise<Map<string, Float32Array>> {
  await using file = await GgufFile.open(base);
  const expected = new Map<string, Float32Array>();
  const tensors: GgufTensorData[] = [...file.tensors.values()].map((t) => {
    const type = types[t.name];
    if (type === undefined)
      return { name: t.name, type: t.type, shape: t.shape, data: () => file.read(t.name) };
    const info = ggmlTypeByName(type)!;
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (goldenBlocks()[type] === undefined) {
      // A type gguf-py cannot dequantize: zero blocks, no expected values.
      const zeros = new Uint8Array((elements / info.blockSize) * info.typeSize);
      return { name: t.name, type: info, shape: t.shape, data: async () => zeros };
    }
    const { bytes, values } = goldenTensor(type, elements);
    expected.set(t.name, values);
    const f32 = ggmlTypeByName('F32')!;
    return options.asF32
      ? { name: t.name, type: f32, shape: t.shape, data: async () => new Uint8Array(values.buffer) }
      : { name: t.name, type: info, shape: t.shape, data: async () => bytes };
  });
  for (const name of Object.keys(types)) {
    if (!file.tensors.has(name)) throw new Error(`${base} has no tensor ${name}`);
  }
  const metadata = new Map(file.metadata);
  metadata.delete(DSA_BF16_TENSORS_KEY);
  await writeGguf(out, metadata, tensors);
  return expected;
}

/**
 * Tensors of the tiny fixture model (`dsa convert --type f32` of fixtures/tiny-chat) stored in new GGML types
 * for whole-model runs: layer 0's dense down_proj (rows of 256) as IQ2_XXS, stacked experts (rows of 128) as
 * IQ4_NL, MXFP4 and NVFP4.
 */
export const MIXED_TYPES: Readonly<Record<string, string>> = {
  'blk.0.ffn_down.weight': 'IQ2_XXS',
  'blk.1.ffn_up_exps.weight': 'IQ4_NL',
  'blk.2.ffn_gate_exps.weight': 'MXFP4',
  'blk.3.ffn_up_exps.weight': 'NVFP4',
};

/**
 * Writes `mixed.gguf` (the tensors of {@link MIXED_TYPES} in their types) and `mixed-f32.gguf` (its f32 twin)
 * from `base` into `dir`; returns both paths.
 */
export async function writeMixedGgufs(base: string, dir: string): Promise<{ quant: string; twin: string }> {
  const quant = join(dir, 'mixed.gguf');
  const twin = join(dir, 'mixed-f32.gguf');
  await writeQuantGguf(base, quant, MIXED_TYPES);
  await writeQuantGguf(base, twin, MIXED_TYPES, { asF32: true });
  return { quant, twin };
}

/** 40 prompt ids: longer than the tiny model's index_topk 32, so the indexer's selection is exercised. */
const PROMPT = Array.from({ length: 40 }, (_, i) => (i * 37 + 5) % 1000);

/**
 * Loads the model at `path` on `backend` (left to the caller to dispose) and returns the logits of every prompt
 * position and 8 greedy tokens after the prompt.
 */
export async function runModel(
  backend: Backend,
  path: string,
  log?: (line: string) => void,
): Promise<{ logits: Float32Array; tokens: number[] }> {
  const model = await DeepseekModel.load(backend, path, { cacheTokens: 256, ...(log ? { log } : {}) });
  try {
    return await forcedLogitsAndGreedy(model, PROMPT, PROMPT, 8);
  } finally {
    model.dispose();
  }
}
