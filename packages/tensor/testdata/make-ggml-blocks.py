#!/usr/bin/env python3
"""Writes ggml-blocks.json: random GGML blocks of every type gguf-py can dequantize, with gguf-py's
dequantization of them (the reference our decoders are checked against, block by block, bit for bit), plus
gguf-py's decoding of every MXFP4 / NVFP4 scale byte, the block layout of every type, and gguf-py's Q8_0
quantization of random rows.

Usage (from packages/tensor):
  python3 testdata/make-ggml-blocks.py GGUF_PY_DIR > testdata/ggml-blocks.json && pnpm exec biome format --write testdata/ggml-blocks.json

GGUF_PY_DIR is llama.cpp's gguf-py folder. The goldens come from the llama.cpp that node-llama-cpp 3.22.1
bundles (release tag v0.5.0; gguf-py 0.19.0); numpy 1.24.2 and 2.4.6 write the same file:
  (cd tools/peers/llama-cpp && npm install --omit=optional --ignore-scripts)   # the locked node-llama-cpp
  git clone tools/peers/llama-cpp/node_modules/node-llama-cpp/llama/gitRelease.bundle /tmp/llama-src
  python3 testdata/make-ggml-blocks.py /tmp/llama-src/gguf-py > testdata/ggml-blocks.json
Needs numpy only.

Every byte of a block is random (any pattern is valid: grid indices, signs, codes, sub-scales) except the scale
fields, which are set per block: blocks 0..4 moderate (f16 scales ~ N(0, 0.05); tests that load whole tensors
build them from these), block 5 the largest magnitude (f16 ±65504), block 6 subnormal, block 7 −0.
"""
import json
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
from gguf import quants  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T  # noqa: E402

N_BLOCKS = 8
MODERATE = 5  # blocks 0..4

# byte offsets of the f16 scale fields of one block (set per block as the docstring says)
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ2_XXS: [0], T.IQ2_XS: [0], T.IQ2_S: [0], T.IQ3_XXS: [0], T.IQ3_S: [0], T.IQ1_S: [0],
    T.IQ1_M: [], T.IQ4_NL: [0], T.IQ4_XS: [0], T.TQ1_0: [52], T.TQ2_0: [64], T.MXFP4: [], T.NVFP4: [],
}

rng = np.random.default_rng(14)


def f16_scales():
    """One f16 scale per block: moderate, then ±65504, a subnormal, −0."""
    halves = (rng.standard_normal(N_BLOCKS) * 0.05).astype(np.float16)
    halves[MODERATE] = np.float16(65504) * rng.choice([-1, 1])
    halves[MODERATE + 1] = np.float16(rng.integers(1, 1024) * 2.0**-24) * rng.choice([-1, 1])
    halves[MODERATE + 2] = np.float16(-0.0)
    return halves


def set_scales(qtype, raw):
    for f in HALF_FIELDS[qtype]:
        raw[:, f:f + 2] = f16_scales().view(np.uint8).reshape(N_BLOCKS, 2)
    if qtype == T.IQ1_M:
        # d's f16 bits are the top nibbles of the 4 uint16 at bytes 48..55 (bits 0..3 in the first)
        d = f16_scales().view(np.uint16)
        sc = raw[:, 48:56].copy().view("<u2")
        for i in range(4):
            sc[:, i] = (sc[:, i] & 0x0FFF) | (((d >> (4 * i)) & 0xF) << 12)
        raw[:, 48:56] = sc.view(np.uint8)
    elif qtype == T.MXFP4:
        # E8M0 exponent: moderate 2^-8 .. 2^3, then 255 (overflows to inf for the larger codes), 0 and 1
        # (subnormal halves), 254
        raw[:MODERATE, 0] = rng.integers(120, 132, size=MODERATE)
        raw[MODERATE:, 0] = [255, 0, 254]
    elif qtype == T.NVFP4:
        # UE4M3 scales: moderate 1/16 .. 2, then 0x7f (read as 0), 0xff (bit 7 ignored), the largest 0x7e and
        # 0x80; 0, the smallest and largest subnormals, the smallest normal; all random
        raw[:MODERATE, 0:4] = rng.integers(0x20, 0x48, size=(MODERATE, 4))
        raw[MODERATE, 0:4] = [0x7F, 0xFF, 0x7E, 0x80]
        raw[MODERATE + 1, 0:4] = [0x00, 0x01, 0x07, 0x08]


out = {
    "source": "gguf-py quants.py (node-llama-cpp 3.22.1's llama.cpp, release tag v0.5.0; testdata/make-ggml-blocks.py)",
    "blocks": {},
    "q8_0": {},
}
for qtype in HALF_FIELDS:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(N_BLOCKS, type_size), dtype=np.uint8)
    set_scales(qtype, raw)
    with np.errstate(over="ignore"):  # MXFP4's largest exponent overflows to inf, as in ggml
        values = quants.dequantize(raw.reshape(-1), qtype).astype(np.float32)
    assert not np.isnan(values).any(), qtype.name
    out["blocks"][qtype.name] = {
        "bytes": raw.tobytes().hex(),
        "values_f32_bits": values.view(np.uint32).reshape(-1).tolist(),
    }

# every type's (block size, bytes per block), to check ggml-type.ts
out["type_sizes"] = {t.name: list(GGML_QUANT_SIZES[t]) for t in T}

# the fp4 scale decodings for every byte (the blocks above meet only a few)
every_byte = np.arange(256, dtype=np.uint8)
e8m0 = quants._type_traits[T.MXFP4].e8m0_to_fp32_half(every_byte).astype(np.float32)
ue4m3 = quants._type_traits[T.NVFP4].ue4m3_to_fp32(every_byte).astype(np.float32)
out["fp4_scales"] = {
    "e8m0_half_f32_bits": e8m0.view(np.uint32).tolist(),
    "ue4m3_half_f32_bits": ue4m3.view(np.uint32).tolist(),
}

rows = (rng.standard_normal(8 * 32) * rng.uniform(0.01, 3, size=8 * 32)).astype(np.float32)
rows[:32] = 0  # an all-zero block
rows[40] = 2.5 * 127 / 127  # exact ties exercise the rounding
q = quants.quantize(rows, T.Q8_0)
out["q8_0"] = {"values_f32_bits": rows.view(np.uint32).tolist(), "bytes": q.tobytes().hex()}
json.dump(out, sys.stdout)
