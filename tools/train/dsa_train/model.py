"""A DeepSeek-V3.2 (DSA) model for training, written from shared/docs/dsa-spec.md.

One class per concept, names from the checkpoint (`self_attn.q_a_proj`, `self_attn.indexer.wq_b`, ...), so
`state_dict()` keys are the Hugging Face checkpoint names. Attention is computed in the "MHA" prefill form
(spec §3.4) with explicit probabilities, which the indexer's training losses need.

Shapes: B batch, S query positions, T key positions (T == S: whole sequences), H heads, Hi indexer heads,
Dn/R/Dv the nope/rope/value head dims, C kv_lora_rank.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelArgs
from .rope import rope_cos_sin, rope_frequencies, rope_half, rope_interleaved


def topk_lower_first(x: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k largest entries of the last dim, ties to the lower index (the engine's rule)."""
    return torch.sort(x, dim=-1, descending=True, stable=True).indices[..., :k]


# torch >= 2.1 has scaled_dot_product_attention with `scale=` (Debian's CPU torch 1.13 does not); asked once.
_FUSED_ATTENTION = hasattr(F, "scaled_dot_product_attention") and tuple(
    int(v) for v in torch.__version__.split("+")[0].split(".")[:2]
) >= (2, 1)


def fused_attention_available() -> bool:
    """Whether the dense phases can use the fused causal kernel (scaled_dot_product_attention with `scale=`)."""
    return _FUSED_ATTENTION


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight).type_as(x)


@dataclass
class Rotary:
    """cos/sin [S, R/2] for the step's positions (shared by MLA and the indexer)."""

    cos: torch.Tensor
    sin: torch.Tensor


@dataclass
class AttentionControl:
    """How a forward pass selects and what it records.

    mode: 'dense' (causal), 'sparse' (the indexer's top-k), or 'given' (`selection` masks from the caller).
    index_topk: k for 'sparse' (defaults to the config's).
    score_indexer: compute the indexer's scores even in dense mode (phase B).
    measure_selection: in dense mode, also make the top-k selection (recorded in `selected`, not applied), to
      measure how much of the dense attention it would keep.
    record_probs: keep each layer's head-summed, L1-normalised attention distribution p [B, S, T].
    """

    mode: str = "dense"
    index_topk: Optional[int] = None
    score_indexer: bool = False
    measure_selection: bool = False
    record_probs: bool = False
    selection: Optional[list[torch.Tensor]] = None  # per layer, bool [B, S, T]
    # filled by the forward pass, per layer:
    index_scores: list[torch.Tensor] = field(default_factory=list)  # f32 [B, S, T], -inf where not causal
    selected: list[Optional[torch.Tensor]] = field(default_factory=list)  # bool [B, S, T] or None (dense)
    probs: list[torch.Tensor] = field(default_factory=list)  # f32 [B, S, T]


class Indexer(nn.Module):
    """The lightning indexer (spec §4): I[s, t] = Σ_h w[s, h] · ReLU(q[s, h] · k[t]).

    Its inputs are detached (paper §2.1), so its loss reaches only its own five tensors.
    """

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads, self.head_dim, self.rope_dim = args.index_n_heads, args.index_head_dim, args.qk_rope_head_dim
        self.wq_b = nn.Linear(args.q_lora_rank, self.n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(args.hidden_size, self.head_dim, bias=False)
        self.k_norm = nn.LayerNorm(self.head_dim, eps=1e-6)
        self.weights_proj = nn.Linear(args.hidden_size, self.n_heads, bias=False)

    def forward(self, x: torch.Tensor, qr: torch.Tensor, rotary: Rotary) -> torch.Tensor:
        """x [B, S, D], qr [B, S, qLora] → scores f32 [B, S, T] (not yet masked)."""
        b, s, _ = x.shape
        r = self.rope_dim
        x, qr = x.detach(), qr.detach()
        q = self.wq_b(qr).view(b, s, self.n_heads, self.head_dim)  # [B, S, Hi, Di]
        cdt = q.dtype  # the compute dtype: f32, or bf16 under autocast (RoPE and the norm run in f32, then cast)
        q = torch.cat((rope_half(q[..., :r], rotary.cos[:, None, :], rotary.sin[:, None, :]), q[..., r:]), -1).to(cdt)
        k = self.k_norm(self.wk(x).float())  # [B, T, Di]
        k = torch.cat((rope_half(k[..., :r], rotary.cos, rotary.sin), k[..., r:]), -1).to(cdt)
        w = (self.weights_proj(x) * (self.n_heads**-0.5 * self.head_dim**-0.5)).to(cdt)  # [B, S, Hi]
        logits = torch.einsum("bshd,btd->bsht", q, k).relu()  # [B, S, Hi, T]
        return torch.einsum("bsht,bsh->bst", logits, w).float()


class MLA(nn.Module):
    """Multi-head Latent Attention with decoupled RoPE (spec §3); owns the layer's indexer."""

    def __init__(self, args: ModelArgs, softmax_scale: float):
        super().__init__()
        self.args = args
        h, dn, r, dv, c = (
            args.num_attention_heads,
            args.qk_nope_head_dim,
            args.qk_rope_head_dim,
            args.v_head_dim,
            args.kv_lora_rank,
        )
        self.q_a_proj = nn.Linear(args.hidden_size, args.q_lora_rank, bias=False)
        self.q_a_layernorm = RMSNorm(args.q_lora_rank, args.rms_norm_eps)
        self.q_b_proj = nn.Linear(args.q_lora_rank, h * (dn + r), bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(args.hidden_size, c + r, bias=False)
        self.kv_a_layernorm = RMSNorm(c, args.rms_norm_eps)
        self.kv_b_proj = nn.Linear(c, h * (dn + dv), bias=False)
        self.o_proj = nn.Linear(h * dv, args.hidden_size, bias=False)
        self.indexer = Indexer(args)
        self.softmax_scale = softmax_scale

    def forward(self, x: torch.Tensor, rotary: Rotary, causal: torch.Tensor, control: AttentionControl, layer: int) -> torch.Tensor:
        a = self.args
        b, s, _ = x.shape
        h, dn, r, dv, c = a.num_attention_heads, a.qk_nope_head_dim, a.qk_rope_head_dim, a.v_head_dim, a.kv_lora_rank
        qr = self.q_a_layernorm(self.q_a_proj(x))  # [B, S, qLora]
        q = self.q_b_proj(qr).view(b, s, h, dn + r)
        cdt = q.dtype  # f32, or bf16 under autocast; RoPE runs in f32 (its tables), then back to cdt
        q_nope, q_pe = q[..., :dn], rope_interleaved(q[..., dn:], rotary.cos[:, None, :], rotary.sin[:, None, :]).to(cdt)
        kv = self.kv_a_proj_with_mqa(x)  # [B, T, C+R]
        k_pe = rope_interleaved(kv[..., c:], rotary.cos, rotary.sin).to(cdt)  # [B, T, R], one head
        kvb = self.kv_b_proj(self.kv_a_layernorm(kv[..., :c])).view(b, s, h, dn + dv)
        k_nope, v = kvb[..., :dn], kvb[..., dn:]
        need_scores = control.mode == "sparse" or control.score_indexer or control.measure_selection
        if control.mode == "dense" and not need_scores and not control.record_probs and fused_attention_available():
            # Phase A and plain inference: nothing to record, so the fused causal kernel (flash on a GPU).
            control.selected.append(None)
            qf = torch.cat((q_nope, q_pe), -1).transpose(1, 2)  # [B, H, S, Dn+R]
            kf = torch.cat((k_nope, k_pe[:, :, None, :].expand(b, s, h, r)), -1).transpose(1, 2)  # [B, H, T, Dn+R]
            vf = F.pad(v, (0, dn + r - dv)).transpose(1, 2) if dv < dn + r else v.transpose(1, 2)  # [B, H, T, Dn+R]
            o = F.scaled_dot_product_attention(qf, kf, vf, is_causal=True, scale=self.softmax_scale)
            return self.o_proj(o.transpose(1, 2)[..., :dv].reshape(b, s, h * dv))
        logits = torch.einsum("bshd,bthd->bhst", q_nope, k_nope) + torch.einsum("bshr,btr->bhst", q_pe, k_pe)
        logits = logits.float() * self.softmax_scale  # [B, H, S, T]

        allowed = causal  # bool [S, T] or [B, S, T]
        selected: Optional[torch.Tensor] = None
        if need_scores:
            scores = self.indexer(x, qr, rotary).masked_fill(~causal, float("-inf"))  # [B, S, T]
            control.index_scores.append(scores)
            if control.mode == "sparse" or control.measure_selection:
                k = control.index_topk or a.index_topk
                if k < s:
                    top = topk_lower_first(scores, k)  # [B, S, k]
                    selected = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, top, True)
                    selected &= scores > float("-inf")
        if control.mode == "given":
            selected = control.selection[layer]
        control.selected.append(selected)
        if selected is not None and control.mode != "dense":
            allowed = selected & causal
        logits = logits.masked_fill(~allowed.unsqueeze(-3) if allowed.dim() == 3 else ~allowed, float("-inf"))
        probs = logits.softmax(-1)  # [B, H, S, T]
        if control.record_probs:
            p = probs.detach().sum(1)
            control.probs.append(p / p.sum(-1, keepdim=True))
        o = torch.einsum("bhst,bthd->bshd", probs.type_as(v), v).reshape(b, s, h * dv)
        return self.o_proj(o)


class MLP(nn.Module):
    """SwiGLU: down_proj(silu(gate_proj x) · up_proj x) (dense layers, experts, shared experts)."""

    def __init__(self, dim: int, inter: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, inter, bias=False)
        self.up_proj = nn.Linear(dim, inter, bias=False)
        self.down_proj = nn.Linear(inter, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Gate(nn.Module):
    """DeepSeek's group-limited router (spec §5.1, "noaux_tc"); the bias only chooses, never weighs."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        if args.scoring_func != "sigmoid":
            raise ValueError(f"scoring_func {args.scoring_func!r}: the trainer implements 'sigmoid'")
        self.args = args
        self.weight = nn.Parameter(torch.empty(args.n_routed_experts, args.hidden_size))
        self.register_buffer("e_score_correction_bias", torch.zeros(args.n_routed_experts))
        self.last_load: Optional[torch.Tensor] = None  # tokens per expert in the last forward

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, D] → (expert ids i64 [N, K], weights f32 [N, K])."""
        a = self.args
        with torch.autocast(x.device.type, enabled=False):  # routing in f32 even under mixed precision
            scores = torch.sigmoid(F.linear(x.float(), self.weight.float()))  # [N, E]
        choice = scores.detach() + self.e_score_correction_bias
        n, e, g = scores.shape[0], a.n_routed_experts, a.n_group
        if g > 1:
            grouped = choice.view(n, g, e // g)
            best = min(2, e // g)
            group_score = grouped.topk(best, dim=-1).values.sum(-1)  # [N, G]
            kept = topk_lower_first(group_score, a.topk_group)
            group_mask = torch.full_like(group_score, float("-inf")).scatter_(-1, kept, 0.0)
            choice = (grouped + group_mask.unsqueeze(-1)).view(n, e)
        idx = topk_lower_first(choice, a.num_experts_per_tok)
        weights = scores.gather(-1, idx)
        if a.norm_topk_prob:
            weights = weights / weights.sum(-1, keepdim=True)
        self.last_load = torch.bincount(idx.flatten(), minlength=e).float()
        return idx, weights * a.routed_scaling_factor


class MoE(nn.Module):
    """Routed experts plus shared experts: out = Σ_e w_e · expert_e(x) + shared(x) (spec §5.2)."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.gate = Gate(args)
        self.experts = nn.ModuleList(MLP(args.hidden_size, args.moe_intermediate_size) for _ in range(args.n_routed_experts))
        self.shared_experts = MLP(args.hidden_size, args.n_shared_experts * args.moe_intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        idx, weights = self.gate(x)
        # Accumulated in f32: under mixed precision the experts' outputs are bf16 and the router weights f32.
        out = self.shared_experts(x).float()  # [N, D]
        for e, expert in enumerate(self.experts):
            rows, slot = torch.nonzero(idx == e, as_tuple=True)
            if rows.numel() == 0:
                continue
            out = out.index_add(0, rows, expert(x[rows]).float() * weights[rows, slot, None])
        return out.type_as(x).view(shape)


class DecoderLayer(nn.Module):
    def __init__(self, args: ModelArgs, layer: int, softmax_scale: float):
        super().__init__()
        self.layer = layer
        self.input_layernorm = RMSNorm(args.hidden_size, args.rms_norm_eps)
        self.self_attn = MLA(args, softmax_scale)
        self.post_attention_layernorm = RMSNorm(args.hidden_size, args.rms_norm_eps)
        self.mlp = MLP(args.hidden_size, args.intermediate_size) if layer < args.first_k_dense_replace else MoE(args)

    def forward(self, h: torch.Tensor, rotary: Rotary, causal: torch.Tensor, control: AttentionControl) -> torch.Tensor:
        h = h + self.self_attn(self.input_layernorm(h), rotary, causal, control, self.layer)
        return h + self.mlp(self.post_attention_layernorm(h))


def softmax_scale(args: ModelArgs) -> float:
    """MLA's softmax scale (spec §3.3): (Dn+R)^-½, times mscale² of YaRN's mscale_all_dim when rope_scaling is set."""
    scale = (args.qk_nope_head_dim + args.qk_rope_head_dim) ** -0.5
    if args.rope_scaling and args.rope_scaling.get("mscale_all_dim"):
        m = 0.1 * args.rope_scaling["mscale_all_dim"] * math.log(args.rope_scaling["factor"]) + 1.0
        scale *= m * m
    return scale


class Backbone(nn.Module):
    """`model.*`: embeddings, layers, final norm."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        inv_freq, self.rope_factor = rope_frequencies(args.qk_rope_head_dim, args.rope_theta, args.rope_scaling)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        scale = softmax_scale(args)
        self.embed_tokens = nn.Embedding(args.vocab_size, args.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(args, i, scale) for i in range(args.num_hidden_layers))
        self.norm = RMSNorm(args.hidden_size, args.rms_norm_eps)


class DeepseekV32(nn.Module):
    """The whole model: state_dict keys are the checkpoint's (`model.layers.0.self_attn.q_a_proj.weight`, ...)."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args = dataclasses.replace(args)  # own copy: set_rope_scaling changes it, shared by every module
        self.model = Backbone(args)
        self.lm_head = nn.Linear(args.hidden_size, args.vocab_size, bias=False)
        self.reset_parameters()

    def reset_parameters(self, std: float = 0.02) -> None:
        depth_scale = (2 * self.args.num_hidden_layers) ** -0.5
        for name, p in self.named_parameters():
            if name.endswith("k_norm.bias"):
                nn.init.zeros_(p)
            elif p.dim() == 1:
                nn.init.ones_(p)
            elif name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, std=std * depth_scale)
            else:
                nn.init.normal_(p, std=std)

    def set_rope_scaling(self, scaling: Optional[dict]) -> None:
        """Switches RoPE (None: plain; else a YaRN `rope_scaling` dict) on the existing weights, as a context
        extension does: the config, the inverse frequencies, the cos/sin factor and every layer's softmax scale
        become what a model built with this rope_scaling has."""
        self.args.rope_scaling = dict(scaling) if scaling else None
        inv_freq, self.model.rope_factor = rope_frequencies(self.args.qk_rope_head_dim, self.args.rope_theta, self.args.rope_scaling)
        self.model.inv_freq = inv_freq.to(self.model.inv_freq.device)
        for layer in self.model.layers:
            layer.self_attn.softmax_scale = softmax_scale(self.args)

    def indexer_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if ".indexer." in n]

    def main_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if ".indexer." not in n]

    def gates(self) -> list[Gate]:
        return [m for m in self.modules() if isinstance(m, Gate)]

    def forward(
        self, ids: torch.Tensor, control: Optional[AttentionControl] = None, taps: Optional[list] = None
    ) -> torch.Tensor:
        """ids i64 [B, S] (whole sequences from position 0) → logits f32 [B, S, vocab].

        taps: when given, receives the residual stream after each layer (for training-only auxiliary heads).
        """
        control = control or AttentionControl()
        b, s = ids.shape
        positions = torch.arange(s, device=ids.device)
        cos, sin = rope_cos_sin(self.model.inv_freq, positions, self.model.rope_factor)
        rotary = Rotary(cos, sin)
        causal = torch.ones(s, s, dtype=torch.bool, device=ids.device).tril()
        h = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            h = layer(h, rotary, causal, control)
            if taps is not None:
                taps.append(h)
        return self.lm_head(self.model.norm(h)).float()
