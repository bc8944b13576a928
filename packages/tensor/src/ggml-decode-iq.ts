// Block decoders of ggml's i-quants (IQ1_S .. IQ4_XS): 256-value super-blocks (IQ4_NL: 32) whose values are
// rows of a fixed lookup grid (ggml-iq-grids.ts) times a scale, with signs stored apart. Layouts and formulas
// follow gguf-py's quants.py (and ggml-quants.c's dequantize_row_iq*); byte offsets are from the block start.
import { f16ToFloat } from './f16.js';
import {
  type BlockDecoder,
  half,
  nibble,
  putNibbleLevels,
  putSignedRow,
  u16,
  u32,
} from './ggml-block-bits.js';
import {
  IQ1S_DELTA,
  IQ1S_GRID,
  IQ2S_GRID,
  IQ2XS_GRID,
  IQ2XXS_GRID,
  IQ3S_GRID,
  IQ3XXS_GRID,
  KSIGNS_IQ2XS,
  KVALUES_IQ4NL,
} from './ggml-iq-grids.js';

/**
 * IQ2_XXS, 66 bytes (2.06 bits per value):
 *   0..1   d (f16)
 *   2..65  8 groups of 32 values, 8 bytes each: a uint32 of 4 grid indices (a byte each, rows of 8 in
 *          iq2xxs_grid), then a uint32 with 4 sign indices of 7 bits (bits 0..27, into ksigns_iq2xs, one per
 *          row) and the group's scale s (bits 28..31).
 * value = d · (0.5 + s) / 4 · grid · sign
 */
const iq2_xxs: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  for (let ib = 0; ib < 8; ib++) {
    const q = at + 2 + 8 * ib;
    const aux = u32(src, q + 4);
    const db = d * (0.5 + (aux >>> 28)) * 0.25;
    for (let l = 0; l < 4; l++) {
      const signs = KSIGNS_IQ2XS[(aux >>> (7 * l)) & 127]!;
      putSignedRow(out, o + 32 * ib + 8 * l, db, IQ2XXS_GRID, 8 * src[q + l]!, 8, signs, 0);
    }
  }
};

/**
 * IQ2_XS, 74 bytes (2.31 bits per value):
 *   0..1    d (f16)
 *   2..65   32 uint16, one per row of 8 values: bits 0..8 the row of iq2xs_grid, bits 9..15 the sign index
 *           (ksigns_iq2xs)
 *   66..73  16 scales s of 4 bits, one per 16 values (byte i: values 32i.. in the low nibble, 32i+16.. high)
 * value = d · (0.5 + s) / 4 · grid · sign
 */
const iq2_xs: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  // Nested 8 × 4 loops (not one over 32 rows): V8 runs this shape over twice as fast.
  for (let ib = 0; ib < 8; ib++) {
    const scales = src[at + 66 + ib]!;
    const db0 = d * (0.5 + (scales & 0x0f)) * 0.25;
    const db1 = d * (0.5 + (scales >> 4)) * 0.25;
    for (let l = 0; l < 4; l++) {
      const k = 4 * ib + l;
      const q = u16(src, at + 2 + 2 * k);
      putSignedRow(out, o + 8 * k, l < 2 ? db0 : db1, IQ2XS_GRID, 8 * (q & 511), 8, KSIGNS_IQ2XS[q >> 9]!, 0);
    }
  }
};

/**
 * IQ2_S, 82 bytes (2.56 bits per value):
 *   0..1    d (f16)
 *   2..33   the low 8 bits of 32 row indices into iq2s_grid (10 bits, rows of 8)
 *   34..65  32 sign bytes, one per row (bit j: value j negative)
 *   66..73  the high 2 bits of the row indices, 4 per byte (row k: bits 2(k mod 4).. of byte k / 4)
 *   74..81  16 scales s of 4 bits, one per 16 values, as in IQ2_XS
 * value = d · (0.5 + s) / 4 · grid · sign
 */
const iq2_s: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  for (let ib = 0; ib < 8; ib++) {
    const scales = src[at + 74 + ib]!;
    const db0 = d * (0.5 + (scales & 0x0f)) * 0.25;
    const db1 = d * (0.5 + (scales >> 4)) * 0.25;
    const high = src[at + 66 + ib]!;
    for (let l = 0; l < 4; l++) {
      const k = 4 * ib + l;
      const row = src[at + 2 + k]! | (((high >> (2 * l)) & 3) << 8);
      putSignedRow(out, o + 8 * k, l < 2 ? db0 : db1, IQ2S_GRID, 8 * row, 8, src[at + 34 + k]!, 0);
    }
  }
};

/**
 * IQ3_XXS, 98 bytes (3.06 bits per value):
 *   0..1    d (f16)
 *   2..65   64 row indices into iq3xxs_grid (rows of 4)
 *   66..97  8 uint32, one per 32 values: 4 sign indices of 7 bits (bits 0..27, into ksigns_iq2xs, each for
 *           8 values = 2 rows) and the scale s (bits 28..31)
 * value = d · (0.5 + s) / 2 · grid · sign
 */
const iq3_xxs: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  for (let ib = 0; ib < 8; ib++) {
    const aux = u32(src, at + 66 + 4 * ib);
    const db = d * (0.5 + (aux >>> 28)) * 0.5;
    for (let l = 0; l < 4; l++) {
      const signs = KSIGNS_IQ2XS[(aux >>> (7 * l)) & 127]!;
      const q = at + 2 + 8 * ib + 2 * l;
      const y = o + 32 * ib + 8 * l;
      putSignedRow(out, y, db, IQ3XXS_GRID, 4 * src[q]!, 4, signs, 0);
      putSignedRow(out, y + 4, db, IQ3XXS_GRID, 4 * src[q + 1]!, 4, signs, 4);
    }
  }
};

/**
 * IQ3_S, 110 bytes (3.44 bits per value):
 *   0..1     d (f16)
 *   2..65    the low 8 bits of 64 row indices into iq3s_grid (9 bits, rows of 4)
 *   66..73   the 9th bits, 8 per byte (row k: bit k mod 8 of byte k / 8)
 *   74..105  sign bits, one per value (value e: bit e mod 8 of byte e / 8)
 *   106..109 8 scales s of 4 bits, one per 32 values (nibbles, low first)
 * value = d · (1 + 2s) · grid · sign
 */
const iq3_s: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  for (let ib = 0; ib < 8; ib++) {
    const db = d * (1 + 2 * nibble(src, at + 106, ib));
    const high = src[at + 66 + ib]!;
    for (let r = 0; r < 8; r++) {
      const k = 8 * ib + r;
      const row = src[at + 2 + k]! | (((high >> r) & 1) << 8);
      putSignedRow(out, o + 4 * k, db, IQ3S_GRID, 4 * row, 4, src[at + 74 + (k >> 1)]!, 4 * (k & 1));
    }
  }
};

/** `out[o + j] = scale · (iq1s_grid[row][j] + delta)` for the 8 values of an IQ1_S / IQ1_M grid row. */
function putDeltaRow(out: Float32Array, o: number, scale: number, row: number, delta: number): void {
  const g = 8 * row;
  for (let j = 0; j < 8; j++) out[o + j] = scale * (IQ1S_GRID[g + j]! + delta);
}

/**
 * IQ1_S, 50 bytes (1.56 bits per value):
 *   0..1    d (f16)
 *   2..33   the low 8 bits of 32 row indices into iq1s_grid (11 bits, rows of 8 values −1, 0 or 1)
 *   34..49  8 uint16, one per 32 values: bits 3l..3l+2 the high 3 bits of row l's index (l < 4), bits 12..14
 *           the scale s, bit 15 the sign of delta
 * value = d · (2s + 1) · (grid ± 0.125)
 */
const iq1_s: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  for (let ib = 0; ib < 8; ib++) {
    const h = u16(src, at + 34 + 2 * ib);
    const dl = d * (2 * ((h >> 12) & 7) + 1);
    const delta = h & 0x8000 ? -IQ1S_DELTA : IQ1S_DELTA;
    for (let l = 0; l < 4; l++) {
      const row = src[at + 2 + 4 * ib + l]! | (((h >> (3 * l)) & 7) << 8);
      putDeltaRow(out, o + 32 * ib + 8 * l, dl, row, delta);
    }
  }
};

/**
 * IQ1_M, 56 bytes (1.75 bits per value; no f16 field of its own):
 *   0..31   the low 8 bits of 32 row indices into iq1s_grid
 *   32..47  a nibble per row (row k: nibble k, low first): bits 0..2 the index's high 3 bits, bit 3 the sign
 *           of delta
 *   48..55  4 uint16: bits 3i..3i+2 (i < 4) of uint16 u are the scale s of values 16(4u + i) .. +15 (so
 *           uint16 u covers groups 2u and 2u + 1 of 32); their bits 12..15 are d's f16 bits 0..3, 4..7, 8..11,
 *           12..15
 * value = d · (2s + 1) · (grid ± 0.125)
 */
const iq1_m: BlockDecoder = (src, at, out, o) => {
  const sc = at + 48;
  const d = f16ToFloat(
    (u16(src, sc) >> 12) |
      ((u16(src, sc + 2) >> 8) & 0x00f0) |
      ((u16(src, sc + 4) >> 4) & 0x0f00) |
      (u16(src, sc + 6) & 0xf000),
  );
  for (let ib = 0; ib < 8; ib++) {
    const scales = u16(src, sc + 2 * (ib >> 1)) >> (6 * (ib & 1));
    const dl0 = d * (2 * (scales & 7) + 1);
    const dl1 = d * (2 * ((scales >> 3) & 7) + 1);
    for (let l = 0; l < 4; l++) {
      const k = 4 * ib + l;
      const h = nibble(src, at + 32, k);
      const row = src[at + k]! | ((h & 7) << 8);
      putDeltaRow(out, o + 8 * k, l < 2 ? dl0 : dl1, row, h & 8 ? -IQ1S_DELTA : IQ1S_DELTA);
    }
  }
};

/**
 * IQ4_NL, 18 bytes per 32 values (4.5 bits per value):
 *   0..1   d (f16)
 *   2..17  32 codes of 4 bits into kvalues_iq4nl (byte j: value j low nibble, value j + 16 high)
 * value = d · kvalues_iq4nl[code]
 */
const iq4_nl: BlockDecoder = (src, at, out, o) => {
  putNibbleLevels(out, o, half(src, at), KVALUES_IQ4NL, src, at + 2, 16);
};

/**
 * IQ4_XS, 136 bytes (4.25 bits per value):
 *   0..1    d (f16)
 *   2..3    uint16: bits 2i, 2i+1 the high 2 bits of sub-block i's 6-bit scale ls (8 sub-blocks of 32)
 *   4..7    the low 4 bits of the 8 scales (nibbles, low first)
 *   8..135  8 sub-blocks of 16 bytes: 4-bit codes into kvalues_iq4nl as in IQ4_NL
 * value = d · (ls − 32) · kvalues_iq4nl[code]
 */
const iq4_xs: BlockDecoder = (src, at, out, o) => {
  const d = half(src, at);
  const high = u16(src, at + 2);
  for (let ib = 0; ib < 8; ib++) {
    const ls = nibble(src, at + 4, ib) | (((high >> (2 * ib)) & 3) << 4);
    putNibbleLevels(out, o + 32 * ib, d * (ls - 32), KVALUES_IQ4NL, src, at + 8 + 16 * ib, 16);
  }
};

/** Block decoders of the i-quants, by GGML type name. */
export const IQ_DECODERS: Readonly<Record<string, BlockDecoder>> = {
  IQ2_XXS: iq2_xxs,
  IQ2_XS: iq2_xs,
  IQ3_XXS: iq3_xxs,
  IQ1_S: iq1_s,
  IQ4_NL: iq4_nl,
  IQ3_S: iq3_s,
  IQ2_S: iq2_s,
  IQ4_XS: iq4_xs,
  IQ1_M: iq1_m,
};
