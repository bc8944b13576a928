"""Reads a hub-layout checkpoint (config.json, model.safetensors or shards with model.safetensors.index.json;
bf16, f32 or DeepSeek's fp8 with 128×128 `weight_scale_inv` blocks) into a DeepseekV32 with f32 weights.

Stdlib and numpy only (no `safetensors` package), so the CPU trainer can recompute references on exported models.
"""
from __future__ import annotations

import json
import os
import struct

import numpy as np
import torch

from .config import ModelArgs
from .export import decode_e4m3
from .model import DeepseekV32

_DTYPES = {"F32": np.float32, "I32": np.int32, "I64": np.int64, "BF16": np.uint16, "F8_E4M3": np.uint8}


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    """Every tensor of one safetensors file, as f32 (BF16 widened, F8_E4M3 decoded) or its integer dtype."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = info["dtype"]
            if dtype not in _DTYPES:
                raise ValueError(f"{path}: tensor {name}: dtype {dtype} is not supported")
            start, end = info["data_offsets"]
            f.seek(base + start)
            raw = np.frombuffer(f.read(end - start), dtype=_DTYPES[dtype]).reshape(info["shape"])
            if dtype == "BF16":
                raw = (raw.astype(np.uint32) << 16).view(np.float32)
            elif dtype == "F8_E4M3":
                raw = decode_e4m3(raw)
            out[name] = raw
        return out


def load_checkpoint(model_dir: str) -> DeepseekV32:
    """The model of `model_dir` with f32 weights (fp8 linears dequantized with their block scales)."""
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        args = ModelArgs.from_hf(json.load(f))
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors: dict[str, np.ndarray] = {}
    for file in files:
        tensors.update(read_safetensors(os.path.join(model_dir, file)))
    state = {}
    for name, value in tensors.items():
        if name.endswith(".weight_scale_inv"):
            continue
        scale = tensors.get(name + "_scale_inv")
        if scale is not None:  # fp8 codes were decoded to e4m3 values; apply the block scales
            value = value * np.repeat(np.repeat(scale, 128, 0), 128, 1)[: value.shape[0], : value.shape[1]]
        state[name] = torch.from_numpy(np.array(value, dtype=np.float32))
    model = DeepseekV32(args)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{model_dir}: missing tensors {missing[:5]}, unexpected {unexpected[:5]}")
    return model


