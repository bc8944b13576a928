#!/usr/bin/env python3
"""Writes ggml-blocks.json: random GGML blocks and gguf-py's dequantization of them (the reference our
dequantizers are checked against, block by block), plus gguf-py's Q8_0 quantization of random rows.

Usage: python3 make-ggml-blocks.py GGUF_PY_DIR > ggml-blocks.json
GGUF_PY_DIR is llama.cpp's gguf-py folder, e.g. the one in node-llama-cpp's source bundle
(`git clone node_modules/node-llama-cpp/llama/gitRelease.bundle llama.cpp` -> llama.cpp/gguf-py).
Needs numpy only.
"""
import json
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
from gguf import quants  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T  # noqa: E402

# byte offsets of the f16 fields of one block, set to finite values so no block decodes to NaN/inf
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}

rng = np.random.default_rng(14)
out = {"source": "gguf-py quants.py (llama.cpp v0.5.0 via node-llama-cpp 3.22.1)", "blocks": {}, "q8_0": {}}
for qtype, fields in HALF_FIELDS.items():
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n_blocks = 8
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for f in fields:
        halves = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16)
        raw[:, f:f + 2] = halves.view(np.uint8).reshape(n_blocks, 2)
    values = quants.dequantize(raw.reshape(-1), qtype).astype(np.float32)
    out["blocks"][qtype.name] = {
        "bytes": raw.tobytes().hex(),
        "values_f32_bits": values.view(np.uint32).reshape(-1).tolist(),
    }

rows = (rng.standard_normal(8 * 32) * rng.uniform(0.01, 3, size=8 * 32)).astype(np.float32)
rows[:32] = 0  # an all-zero block
rows[40] = 2.5 * 127 / 127  # exact ties exercise the rounding
q = quants.quantize(rows, T.Q8_0)
out["q8_0"] = {"values_f32_bits": rows.view(np.uint32).tolist(), "bytes": q.tobytes().hex()}
json.dump(out, sys.stdout)
