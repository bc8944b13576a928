import { bf16ToFloat } from './bf16.js';
import { f16ToFloat, floatToF16 } from './f16.js';
import type { BlockDecoder } from './ggml-block-bits.js';
import { FP4_DECODERS } from './ggml-decode-fp4.js';
import { IQ_DECODERS } from './ggml-decode-iq.js';
import { Q_DECODERS } from './ggml-decode-q.js';
import { TQ_DECODERS } from './ggml-decode-tq.js';
import { type GgmlTypeInfo, ggmlTypeByName } from './ggml-type.js';

/** The block-quantized types, each checked bit for bit against gguf-py (testdata/make-ggml-blocks.py). */
const DECODERS: Readonly<Record<string, BlockDecoder>> = {
  ...Q_DECODERS,
  ...IQ_DECODERS,
  ...TQ_DECODERS,
  ...FP4_DECODERS,
};

/** Types stored one value per element, decoded without blocks. */
const PLAIN = ['F32', 'F16', 'BF16', 'F64'];

const NO_REFERENCE = 'gguf-py (the reference our decoders are checked against) cannot dequantize it';
const INTEGER = 'an integer type, not quantized weights';

/** Why a type ggml knows is not decoded (any other: {@link NO_REFERENCE}). */
const REFUSED: Readonly<Record<string, string>> = {
  Q8_1: `an activation type of ggml's dot products; ${NO_REFERENCE}`,
  Q8_K: `an activation type of ggml's dot products; ${NO_REFERENCE}`,
  I8: INTEGER,
  I16: INTEGER,
  I32: INTEGER,
  I64: INTEGER,
};

/**
 * Names of the GGML types {@link dequantizeGgml} can decode, sorted by ggml's type number: F32, F16, BF16, F64,
 * the legacy quants Q4_0 .. Q8_0, the K-quants Q2_K .. Q6_K, the i-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS,
 * IQ2_S, IQ3_XXS, IQ3_S, IQ4_NL, IQ4_XS), the ternary TQ1_0 and TQ2_0, and MXFP4 and NVFP4: every type
 * gguf-py's `quants.py` can dequantize.
 */
export const DEQUANTIZABLE_GGML_TYPES: readonly string[] = [...PLAIN, ...Object.keys(DECODERS)].sort(
  (a, b) => ggmlTypeByName(a)!.id - ggmlTypeByName(b)!.id,
);

/**
 * Why {@link dequantizeGgml} refuses GGML type `type` (`cannot dequantize GGML type Q8_K: ...; supported:
 * ...`), or undefined when it decodes it: lets a loader refuse a file before reading any tensor.
 */
export function ggmlDequantizeRefusal(type: GgmlTypeInfo): string | undefined {
  if (PLAIN.includes(type.name) || DECODERS[type.name] !== undefined) return undefined;
  const why = REFUSED[type.name] ?? NO_REFERENCE;
  return `cannot dequantize GGML type ${type.name}: ${why}; supported: ${DEQUANTIZABLE_GGML_TYPES.join(', ')}`;
}

/**
 * Decodes `elements` values of GGML type `type` from `source` (raw little-endian bytes, as a GGUF file
 * stores them) into `destination` (float32, at least `elements` long). `elements` must be a multiple of the
 * type's block size. The results equal gguf-py's `quants.dequantize` bit for bit.
 *
 * @throws Error naming the type when it is not one of {@link DEQUANTIZABLE_GGML_TYPES} (the message of
 *   {@link ggmlDequantizeRefusal}), or when the sizes do not fit.
 */
export function dequantizeGgml(
  type: GgmlTypeInfo,
  source: Uint8Array,
  destination: Float32Array,
  elements: number,
): void {
  if (elements % type.blockSize !== 0) {
    throw new Error(
      `${type.name}: ${elements} elements is not a multiple of the block size ${type.blockSize}`,
    );
  }
  const blocks = elements / type.blockSize;
  if (source.byteLength < blocks * type.typeSize) {
    throw new Error(
      `${type.name}: ${elements} elements need ${blocks * type.typeSize} bytes, found ${source.byteLength}`,
    );
  }
  if (destination.length < elements) {
    throw new Error(`${type.name}: destination holds ${destination.length} values, expected ${elements}`);
  }
  const view = new DataView(source.buffer, source.byteOffset, source.byteLength);
  switch (type.name) {
    case 'F32':
      for (let i = 0; i < elements; i++) destination[i] = view.getFloat32(i * 4, true);
      return;
    case 'F64':
      for (let i = 0; i < elements; i++) destination[i] = view.getFloat64(i * 8, true);
      return;
    case 'F16':
      for (let i = 0; i < elements; i++) destination[i] = f16ToFloat(view.getUint16(i * 2, true));
      return;
    case 'BF16':
      for (let i = 0; i < elements; i++) destination[i] = bf16ToFloat(view.getUint16(i * 2, true));
      return;
  }
  const decode = DECODERS[type.name];
  if (decode === undefined) throw new Error(ggmlDequantizeRefusal(type));
  for (let b = 0; b < blocks; b++) decode(source, b * type.typeSize, destination, b * type.blockSize);
}

/**
 * Quantizes `source` (float32, length a multiple of 32) to GGML Q8_0 blocks in `destination`
 * (34 bytes per 32 values: an f16 scale `d = max|x| / 127`, then 32 int8 `round(x / d)`, rounding half
 * away from zero), bit for bit as ggml's `quantize_row_q8_0_ref` and gguf-py do.
 */
export function quantizeQ8_0(source: Float32Array, destination: Uint8Array): void {
  if (source.length % 32 !== 0) throw new Error(`Q8_0: ${source.length} values is not a multiple of 32`);
  const blocks = source.length / 32;
  if (destination.byteLength < blocks * 34) {
    throw new Error(
      `Q8_0: ${source.length} values need ${blocks * 34} bytes, found ${destination.byteLength}`,
    );
  }
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(source[b * 32 + j]!));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    const bits = floatToF16(d);
    const at = b * 34;
    destination[at] = bits & 0xff;
    destination[at + 1] = bits >> 8;
    for (let j = 0; j < 32; j++) {
      const x = Math.fround(source[b * 32 + j]! * id);
      const q = Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
      destination[at + 2 + j] = q & 0xff;
    }
  }
}
