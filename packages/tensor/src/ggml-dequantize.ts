import { bf16ToFloat } from './bf16.js';
import { f16ToFloat, floatToF16 } from './f16.js';
import { type GgmlTypeInfo, QK_K } from './ggml-type.js';

/** Names of the GGML types {@link dequantizeGgml} can decode. */
export const DEQUANTIZABLE_GGML_TYPES: readonly string[] = [
  'F32',
  'F16',
  'BF16',
  'F64',
  'Q4_0',
  'Q4_1',
  'Q5_0',
  'Q5_1',
  'Q8_0',
  'Q2_K',
  'Q3_K',
  'Q4_K',
  'Q5_K',
  'Q6_K',
];

type BlockDecoder = (src: Uint8Array, at: number, out: Float32Array, o: number) => void;

/** f16 at byte `at` (little-endian). */
function half(src: Uint8Array, at: number): number {
  return f16ToFloat(src[at]! | (src[at + 1]! << 8));
}

function int8(byte: number): number {
  return byte >= 128 ? byte - 256 : byte;
}

// Each decoder follows gguf-py's `quants.py` (and ggml-quants.c `dequantize_row_*`): the products it forms
// are exact in float32, and storing into the Float32Array rounds the final value once, as numpy does.

const q4_0: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  for (let j = 0; j < 16; j++) {
    const b = src[at + 2 + j]!;
    out[o + j] = d * ((b & 0x0f) - 8);
    out[o + j + 16] = d * ((b >> 4) - 8);
  }
};

const q4_1: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  const m = half(src, at + 2);
  for (let j = 0; j < 16; j++) {
    const b = src[at + 4 + j]!;
    out[o + j] = d * (b & 0x0f) + m;
    out[o + j + 16] = d * (b >> 4) + m;
  }
};

function highBits(src: Uint8Array, at: number): number {
  return (src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16) | (src[at + 3]! << 24)) >>> 0;
}

const q5_0: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  const qh = highBits(src, at + 2);
  for (let j = 0; j < 16; j++) {
    const b = src[at + 6 + j]!;
    const lo = (b & 0x0f) | (((qh >>> j) & 1) << 4);
    const hi = (b >> 4) | (((qh >>> (j + 16)) & 1) << 4);
    out[o + j] = d * (lo - 16);
    out[o + j + 16] = d * (hi - 16);
  }
};

const q5_1: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  const m = half(src, at + 2);
  const qh = highBits(src, at + 4);
  for (let j = 0; j < 16; j++) {
    const b = src[at + 8 + j]!;
    const lo = (b & 0x0f) | (((qh >>> j) & 1) << 4);
    const hi = (b >> 4) | (((qh >>> (j + 16)) & 1) << 4);
    out[o + j] = d * lo + m;
    out[o + j + 16] = d * hi + m;
  }
};

const q8_0: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  for (let j = 0; j < 32; j++) out[o + j] = d * int8(src[at + 2 + j]!);
};

const q2_k: BlockDecoder = (src, at, out, o) => {
  // scales[16], qs[64], d, dmin
  const scales = at;
  const qs = at + QK_K / 16;
  const d = half(src, at + QK_K / 16 + QK_K / 4);
  const dmin = half(src, at + QK_K / 16 + QK_K / 4 + 2);
  // Element e: half n = e / 128, shift s = (e % 128) / 32, l = e % 32, q = (qs[n*32 + l] >> 2s) & 3,
  // scale index (e / 16).
  for (let e = 0; e < QK_K; e++) {
    const n = e >> 7;
    const shift = ((e & 127) >> 5) * 2;
    const l = e & 31;
    const q = (src[qs + n * 32 + l]! >> shift) & 3;
    const sc = src[scales + (e >> 4)]!;
    out[o + e] = d * (sc & 0x0f) * q - dmin * (sc >> 4);
  }
};

const q3_k: BlockDecoder = (src, at, out, o) => {
  // hmask[32], qs[64], scales[12], d
  const hmask = at;
  const qs = at + QK_K / 8;
  const sc = at + QK_K / 8 + QK_K / 4;
  const d = half(src, sc + 12);
  const scale = new Int8Array(16);
  for (let i = 0; i < 16; i++) {
    const low = (src[sc + (i & 7)]! >> (4 * (i >> 3))) & 0x0f;
    const high = (src[sc + 8 + (i & 3)]! >> (2 * (i >> 2))) & 0x03;
    scale[i] = (low | (high << 4)) - 32;
  }
  for (let e = 0; e < QK_K; e++) {
    const n = e >> 7;
    const shift = ((e & 127) >> 5) * 2;
    const l = e & 31;
    const ql = (src[qs + n * 32 + l]! >> shift) & 3;
    const hbit = (src[hmask + l]! >> (e >> 5)) & 1;
    out[o + e] = d * scale[e >> 4]! * (ql - (hbit ? 0 : 4));
  }
};

/** The 6-bit scale and min of sub-block `j` (0..7) of a Q4_K/Q5_K block (`get_scale_min_k4`). */
function scaleMinK4(src: Uint8Array, scales: number, j: number): [number, number] {
  if (j < 4) return [src[scales + j]! & 63, src[scales + j + 4]! & 63];
  const b = src[scales + j + 4]!;
  return [(b & 0x0f) | ((src[scales + j - 4]! >> 6) << 4), (b >> 4) | ((src[scales + j]! >> 6) << 4)];
}

/**
 * A Q4_K or Q5_K block: d, dmin, scales[12], then for Q5_K qh[32] (the fifth bits, at `qh`; -1 for Q4_K),
 * then qs[128] at `qs`; 8 sub-blocks of 32 values d·scale·q − dmin·min.
 */
function decodeK4K5(src: Uint8Array, at: number, out: Float32Array, o: number, qh: number, qs: number): void {
  const d = half(src, at);
  const dmin = half(src, at + 2);
  for (let j = 0; j < 8; j++) {
    const [sc, m] = scaleMinK4(src, at + 4, j);
    const dl = d * sc;
    const ml = dmin * m;
    const base = qs + (j >> 1) * 32;
    const shift = (j & 1) * 4;
    for (let l = 0; l < 32; l++) {
      let q = (src[base + l]! >> shift) & 0x0f;
      if (qh >= 0) q |= ((src[qh + l]! >> j) & 1) << 4;
      out[o + j * 32 + l] = dl * q - ml;
    }
  }
}

const q4_k: BlockDecoder = (src, at, out, o) => decodeK4K5(src, at, out, o, -1, at + 4 + 12);

const q5_k: BlockDecoder = (src, at, out, o) =>
  decodeK4K5(src, at, out, o, at + 4 + 12, at + 4 + 12 + QK_K / 8);

const q6_k: BlockDecoder = (src, at, out, o) => {
  // ql[128], qh[64], scales[16] (int8), d
  const ql = at;
  const qh = at + QK_K / 2;
  const scales = qh + QK_K / 4;
  const d = half(src, scales + QK_K / 16);
  for (let e = 0; e < QK_K; e++) {
    const n = e >> 7; // which 128-half
    const r = e & 127;
    const l = r & 63;
    const low = (src[ql + n * 64 + l]! >> ((r >> 6) * 4)) & 0x0f;
    const high = (src[qh + n * 32 + (r & 31)]! >> ((r >> 5) * 2)) & 0x03;
    const q = (low | (high << 4)) - 32;
    out[o + e] = d * int8(src[scales + (e >> 4)]!) * q;
  }
};

const DECODERS: Readonly<Record<string, BlockDecoder>> = {
  Q4_0: q4_0,
  Q4_1: q4_1,
  Q5_0: q5_0,
  Q5_1: q5_1,
  Q8_0: q8_0,
  Q2_K: q2_k,
  Q3_K: q3_k,
  Q4_K: q4_k,
  Q5_K: q5_k,
  Q6_K: q6_k,
};

/**
 * Decodes `elements` values of GGML type `type` from `source` (raw little-endian bytes, as a GGUF file
 * stores them) into `destination` (float32, at least `elements` long). `elements` must be a multiple of the
 * type's block size. The results equal gguf-py's `quants.dequantize` bit for bit.
 *
 * @throws Error naming the type when it is not one of {@link DEQUANTIZABLE_GGML_TYPES}, or when the
 *   sizes do not fit.
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
  if (decode === undefined) {
    throw new Error(
      `cannot dequantize GGML type ${type.name}; supported: ${DEQUANTIZABLE_GGML_TYPES.join(', ')}`,
    );
  }
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
