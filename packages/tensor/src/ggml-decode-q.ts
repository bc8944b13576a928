// Block decoders of ggml's legacy quants (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: 32 values per block) and K-quants
// (Q2_K .. Q6_K: 256-value super-blocks), following gguf-py's quants.py and ggml-quants.c's dequantize_row_*.
import { type BlockDecoder, half, int8, u32 } from './ggml-block-bits.js';
import { QK_K } from './ggml-type.js';

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

const q5_0: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  const qh = u32(src, at + 2);
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
  const qh = u32(src, at + 4);
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

/** The 16 signed scales of the Q3_K block being decoded (reused: no allocation per block). */
const Q3_K_SCALES = new Int8Array(16);

const q3_k: BlockDecoder = (src, at, out, o) => {
  // hmask[32], qs[64], scales[12], d
  const hmask = at;
  const qs = at + QK_K / 8;
  const sc = at + QK_K / 8 + QK_K / 4;
  const d = half(src, sc + 12);
  const scale = Q3_K_SCALES;
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

/**
 * The 6-bit scale (`which` 0) or min (`which` 4) of sub-block `j` (0..7) of a Q4_K/Q5_K block, whose 12 scale
 * bytes start at `scales` (ggml's `get_scale_min_k4`).
 */
function scaleMinK4(src: Uint8Array, scales: number, j: number, which: 0 | 4): number {
  if (j < 4) return src[scales + j + which]! & 63;
  return ((src[scales + j + 4]! >> which) & 0x0f) | ((src[scales + j - 4 + which]! >> 6) << 4);
}

/**
 * A Q4_K or Q5_K block: d, dmin, scales[12], then for Q5_K qh[32] (the fifth bits, at `qh`; -1 for Q4_K),
 * then qs[128] at `qs`; 8 sub-blocks of 32 values d·scale·q − dmin·min.
 */
function decodeK4K5(src: Uint8Array, at: number, out: Float32Array, o: number, qh: number, qs: number): void {
  const d = half(src, at);
  const dmin = half(src, at + 2);
  for (let j = 0; j < 8; j++) {
    const dl = d * scaleMinK4(src, at + 4, j, 0);
    const ml = dmin * scaleMinK4(src, at + 4, j, 4);
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

/** Block decoders of the legacy quants (Q4_0 .. Q8_0) and the K-quants (Q2_K .. Q6_K), by GGML type name. */
export const Q_DECODERS: Readonly<Record<string, BlockDecoder>> = {
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
