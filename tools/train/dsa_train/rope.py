"""Rotary position embeddings (spec §3.2): frequencies with optional YaRN, and the two pair layouts.

MLA rotates interleaved pairs (x[2i], x[2i+1]); the indexer rotates half-split pairs (x[i], x[i+R/2]).
"""
from __future__ import annotations

import math
from typing import Optional

import torch


def _yarn_mscale(scale: float, mscale: float) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def rope_frequencies(dim: int, theta: float, scaling: Optional[dict]) -> tuple[torch.Tensor, float]:
    """Inverse frequencies f32 [dim/2] and the attention factor multiplying cos/sin (transformers' yarn)."""
    pos_freqs = theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    extrapolation = 1.0 / pos_freqs
    if not scaling:
        return extrapolation, 1.0
    factor = float(scaling["factor"])
    original = float(scaling["original_max_position_embeddings"])
    beta_fast = float(scaling.get("beta_fast", 32))
    beta_slow = float(scaling.get("beta_slow", 1))
    interpolation = 1.0 / (factor * pos_freqs)

    def correction_dim(rotations: float) -> float:
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(theta))

    low = max(math.floor(correction_dim(beta_fast)), 0)
    high = min(math.ceil(correction_dim(beta_slow)), dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    extrapolation_factor = 1 - ramp
    inv_freq = interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor
    mscale, mscale_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
    if mscale and mscale_all:
        attention_factor = _yarn_mscale(factor, mscale) / _yarn_mscale(factor, mscale_all)
    else:
        attention_factor = _yarn_mscale(factor, 1.0)
    return inv_freq, attention_factor


def rope_cos_sin(inv_freq: torch.Tensor, positions: torch.Tensor, factor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [S, R/2] for integer positions [S]."""
    angles = positions.float()[:, None] * inv_freq[None, :]
    return angles.cos() * factor, angles.sin() * factor


def rope_interleaved(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotates pairs (x[2i], x[2i+1]) of the last dim. cos/sin broadcast against x[..., R/2]
    ([S, R/2] for x [B, S, R]; [S, 1, R/2] for x [B, S, H, R])."""
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)


def rope_half(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotates pairs (x[i], x[i+R/2]) of the last dim (NeoX layout)."""
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)
