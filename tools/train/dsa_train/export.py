"""Export in the Hugging Face hub layout: config.json + model.safetensors with the checkpoint's tensor names.

dtype 'f32' (exact), 'bf16', or 'fp8': DeepSeek's layout (spec §6.2-6.3), where every linear weight of
attention, the indexer's wq_b/wk and the MLPs/experts is e4m3 with one power-of-two `weight_scale_inv` per 128×128
block, while embeddings, lm_head, norms, the router, and the indexer's weights_proj stay bf16 and
`e_score_correction_bias` and `k_norm` stay f32. torch 1.13 has no float8, so e4m3 is encoded here by hand.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Iterable, Optional

import numpy as np
import torch

from .config import ModelArgs

FP8_MAX = 448.0


def _e4m3_table() -> np.ndarray:
    """Values of e4m3fn codes 0..126 (positive, increasing; 127 is NaN)."""
    out = np.zeros(127, dtype=np.float64)
    for code in range(127):
        e, m = code >> 3, code & 7
        out[code] = (m / 8) * 2.0**-6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
    return out


_E4M3 = _e4m3_table()


def encode_e4m3(x: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even e4m3fn codes (uint8) of x, saturating at ±448."""
    a = np.minimum(np.abs(x.astype(np.float64)), FP8_MAX)
    hi = np.clip(np.searchsorted(_E4M3, a), 0, 126)
    lo = np.clip(hi - 1, 0, 126)
    d_hi, d_lo = _E4M3[hi] - a, a - _E4M3[lo]
    code = np.where(d_lo < d_hi, lo, hi)
    code = np.where((d_lo == d_hi) & (lo % 2 == 0), lo, code)
    return (code | np.where(np.signbit(x), 0x80, 0)).astype(np.uint8)


def decode_e4m3(codes: np.ndarray) -> np.ndarray:
    mag = _E4M3[np.minimum(codes & 0x7F, 126)]
    return np.where(codes & 0x80, -mag, mag).astype(np.float32)


def quantize_blocks(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """w f32 [out, in] → (e4m3 codes [out, in], scale_inv f32 [ceil(out/128), ceil(in/128)]), W ≈ q · scale_inv."""
    rows, cols = w.shape
    br, bc = -(-rows // 128), -(-cols // 128)
    q = np.zeros((rows, cols), dtype=np.uint8)
    scale_inv = np.zeros((br, bc), dtype=np.float32)
    for i in range(br):
        for j in range(bc):
            block = w[i * 128 : (i + 1) * 128, j * 128 : (j + 1) * 128]
            amax = max(float(np.abs(block).max()), 1e-4)
            scale = 2.0 ** np.ceil(np.log2(amax / FP8_MAX))
            scale_inv[i, j] = scale
            q[i * 128 : (i + 1) * 128, j * 128 : (j + 1) * 128] = encode_e4m3(block / scale)
    return q, scale_inv


def dequantize_blocks(q: np.ndarray, scale_inv: np.ndarray) -> np.ndarray:
    s = np.repeat(np.repeat(scale_inv, 128, 0), 128, 1)[: q.shape[0], : q.shape[1]]
    return decode_e4m3(q) * s


FP8_LINEAR_SUFFIXES = (
    "q_a_proj.weight",
    "q_b_proj.weight",
    "kv_a_proj_with_mqa.weight",
    "kv_b_proj.weight",
    "o_proj.weight",
    "indexer.wq_b.weight",
    "indexer.wk.weight",
    "gate_proj.weight",
    "up_proj.weight",
    "down_proj.weight",
)
F32_SUFFIXES = ("e_score_correction_bias", "k_norm.weight", "k_norm.bias")


def bf16_round(t: torch.Tensor) -> torch.Tensor:
    return t.detach().float().to(torch.bfloat16).float()


def export_tensors(state: dict[str, torch.Tensor], dtype: str) -> list[tuple[str, str, np.ndarray]]:
    """(name, safetensors dtype, raw array) for each tensor, in checkpoint order."""
    out = []
    for name, t in state.items():
        w = t.detach().float().cpu()
        if dtype == "f32" or name.endswith(F32_SUFFIXES):
            out.append((name, "F32", w.numpy().astype("<f4")))
        elif dtype == "fp8" and name.endswith(FP8_LINEAR_SUFFIXES) and ".mlp.gate." not in name:
            q, s = quantize_blocks(w.numpy())
            out.append((name, "F8_E4M3", q))
            out.append((name.replace(".weight", ".weight_scale_inv"), "F32", s.astype("<f4")))
        else:
            out.append((name, "BF16", w.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2")))
    return out


def rounded_state(state: dict[str, torch.Tensor], dtype: str) -> dict[str, torch.Tensor]:
    """The weights as the exported file holds them (for goldens that the engine must reproduce exactly)."""
    out = {}
    for name, t in state.items():
        w = t.detach().float()
        if dtype == "f32" or name.endswith(F32_SUFFIXES):
            out[name] = w
        elif dtype == "fp8" and name.endswith(FP8_LINEAR_SUFFIXES) and ".mlp.gate." not in name:
            out[name] = torch.from_numpy(dequantize_blocks(*quantize_blocks(w.numpy())))
        else:
            out[name] = bf16_round(w)
    return out


def write_safetensors(path: str, tensors: Iterable[tuple[str, str, np.ndarray]], metadata: dict[str, str]) -> None:
    """Writes a safetensors file through a temporary name, fsync and rename (never a half file at `path`)."""
    tensors = list(tensors)
    header: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for name, dt, arr in tensors:
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(blob)))
            f.write(blob)
            for _, _, arr in tensors:
                f.write(np.ascontiguousarray(arr).tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: str, obj: object) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


HEADER_BYTES_PER_TENSOR = 256  # a safetensors header entry (name, dtype, shape, offsets) is shorter than this


def shard(tensors: list[tuple[str, str, np.ndarray]], max_bytes: int) -> list[list[tuple[str, str, np.ndarray]]]:
    """Splits tensors, in order, into groups whose files (data plus header) stay within max_bytes (a tensor is
    never split; one larger than max_bytes gets a shard of its own)."""
    shards: list[list[tuple[str, str, np.ndarray]]] = [[]]
    size = 64  # the header's length prefix and metadata
    for t in tensors:
        need = t[2].nbytes + HEADER_BYTES_PER_TENSOR
        if shards[-1] and size + need > max_bytes:
            shards.append([])
            size = 64
        shards[-1].append(t)
        size += need
    return shards


def export_checkpoint(
    model: torch.nn.Module, args: ModelArgs, out_dir: str, dtype: str = "bf16", max_shard_bytes: Optional[int] = None
) -> list[str]:
    """Writes `config.json`, `generation_config.json` and the weights (dtype f32 | bf16 | fp8) into out_dir:
    `model.safetensors`, or with max_shard_bytes `model-0000N-of-0000M.safetensors` shards of at most that many bytes
    each plus `model.safetensors.index.json` (the hub's sharded layout). Returns the weight file names."""
    if dtype not in ("f32", "bf16", "fp8"):
        raise ValueError(f"dtype {dtype!r}: expected f32, bf16 or fp8")
    os.makedirs(out_dir, exist_ok=True)
    state = {k: v for k, v in model.state_dict().items()}
    config = args.hf_config()
    config["torch_dtype"] = "float32" if dtype == "f32" else "bfloat16"
    if dtype == "fp8":
        config["quantization_config"] = {
            "quant_method": "fp8",
            "fmt": "e4m3",
            "activation_scheme": "dynamic",
            "weight_block_size": [128, 128],
            "scale_fmt": "ue8m0",
        }
    tensors = export_tensors(state, dtype)
    if max_shard_bytes is None:
        files = ["model.safetensors"]
        write_safetensors(os.path.join(out_dir, files[0]), tensors, {"format": "pt"})
    else:
        groups = shard(tensors, max_shard_bytes)
        files = [f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors" for i in range(len(groups))]
        weight_map = {}
        for name, group in zip(files, groups):
            write_safetensors(os.path.join(out_dir, name), group, {"format": "pt"})
            weight_map.update({t[0]: name for t in group})
        total = sum(t[2].nbytes for t in tensors)
        write_json(os.path.join(out_dir, "model.safetensors.index.json"), {"metadata": {"total_size": total}, "weight_map": weight_map})
    write_json(os.path.join(out_dir, "config.json"), config)
    generation = {"bos_token_id": args.bos_token_id, "eos_token_id": args.eos_token_id, "do_sample": False}
    write_json(os.path.join(out_dir, "generation_config.json"), generation)
    return files
