"""Our step1 decoder in torch (docs/engine/llm.md#configuration, docs/engine/llm.md#model-maths).

Pre-norm decoder blocks: RMSNorm -> grouped-KV attention with the square-root ALiBi bias (no RoPE)
-> residual, RMSNorm -> SwiGLU MLP -> residual; final RMSNorm and an untied lm_head.
Module attribute names follow the released checkpoint's state-dict keys (`model.layers.{i}.self_attn.q_proj.weight`,
...), which is the only thing taken over from upstream: the structure and code are ours.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .config import Step1Config


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """Per-head slopes m_h, float32 (docs/engine/llm.md#model-maths).

    With n = the largest power of two <= num_heads: heads 0..n-1 get (2^(-8/n))^k for k = 1..n; the remaining
    heads get (2^(-4/n))^k for odd k = 1, 3, 5, ... (for 48 heads: 2^(-k/4), k=1..32, then 2^(-k/8), odd k<32).
    Computed as float32 powers like the reference (M1 build_alibi_cache) so the rounding matches.
    """
    cpu = torch.device("cpu")    # explicit: the model may be built under a meta-device context
    n = 2 ** math.floor(math.log2(num_heads))
    powers = torch.arange(1, n + 1, dtype=torch.float32, device=cpu)
    slopes = torch.pow(torch.tensor(2.0 ** (-8.0 / n), device=cpu), powers)
    if n < num_heads:
        odd = torch.arange(1, 1 + 2 * (num_heads - n), 2, dtype=torch.float32, device=cpu)
        slopes = torch.cat([slopes, torch.pow(torch.tensor(2.0 ** (-4.0 / n), device=cpu), odd)])
    return slopes


# float32 elements per multiplication step of sqrt_alibi_bias (16 MB)
_BIAS_CHUNK_ELEMENTS = 1 << 22


def sqrt_alibi_bias(slopes: torch.Tensor, q_start: int, q_len: int, kv_len: int,
                    dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Additive attention bias (1, heads, q_len, kv_len): -m_h * sqrt(i - j) for j <= i, -inf for j > i.

    Queries sit at absolute positions q_start .. q_start+q_len-1, keys at 0 .. kv_len-1. Computed in float32 and
    #model-maths: the bias is in the query dtype). Only the
    rounded to the query dtype, as the reference does (docs/engine/llm.md
    q_len rows needed are built (upstream builds the full kv_len square on every step). The product is written
    into the output tensor a few heads at a time, so no float32 (heads, q_len, kv_len) copy exists for bf16 (same
    values as building in float32 and casting: the multiplication runs in float32 and is rounded on store).
    """
    i = torch.arange(q_start, q_start + q_len, device=device, dtype=torch.float32).view(-1, 1)
    j = torch.arange(kv_len, device=device, dtype=torch.float32).view(1, -1)
    dist = i - j
    future = dist < 0
    root = dist.clamp_(min=0).sqrt_()
    if kv_len > q_start + 1:     # some key lies after the first query (never in a one-token decode step)
        root.masked_fill_(future, float("inf"))      # -m_h * inf = -inf: every slope is positive
    factors = slopes.to(device=device, dtype=torch.float32).neg().view(-1, 1, 1)
    bias = torch.empty(1, factors.shape[0], q_len, kv_len, dtype=dtype, device=device)
    # a product stored into a narrower dtype goes through a float32 temporary: keep it to ~16 MB per step
    step = max(1, _BIAS_CHUNK_ELEMENTS // (q_len * kv_len))
    for h in range(0, factors.shape[0], step):
        torch.mul(root, factors[h:h + step], out=bias[0, h:h + step])
    return bias


@dataclass
class KVCache:
    """Per-layer keys/values (batch, groups, time, head_dim), grown in place by doubling capacity."""

    keys: list[Optional[torch.Tensor]] = field(default_factory=list)
    values: list[Optional[torch.Tensor]] = field(default_factory=list)
    length: int = 0          # tokens stored (same for every layer after a full forward)

    @classmethod
    def empty(cls, num_layers: int) -> "KVCache":
        return cls(keys=[None] * num_layers, values=[None] * num_layers, length=0)

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k/v of new positions for `layer`; return views over all positions so far."""
        new = k.shape[2]
        start = self.length
        end = start + new
        buf_k, buf_v = self.keys[layer], self.values[layer]
        if buf_k is None or buf_k.shape[2] < end:
            capacity = max(end, 2 * (buf_k.shape[2] if buf_k is not None else 0), 64)
            grown_k = k.new_empty(k.shape[0], k.shape[1], capacity, k.shape[3])
            grown_v = v.new_empty(v.shape[0], v.shape[1], capacity, v.shape[3])
            if buf_k is not None:
                grown_k[:, :, :start] = buf_k[:, :, :start]
                grown_v[:, :, :start] = buf_v[:, :, :start]
            self.keys[layer], self.values[layer] = buf_k, buf_v = grown_k, grown_v
        buf_k[:, :, start:end] = k
        buf_v[:, :, start:end] = v
        return buf_k[:, :, :end], buf_v[:, :, :end]

    def advance(self, new_tokens: int) -> None:
        self.length += new_tokens


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight, the mean taken in float32 and the factor cast back to x's dtype."""

    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.float().pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps).to(x.dtype) * self.weight


class GroupedAttention(nn.Module):
    """48 query heads sharing 4 K/V groups as contiguous blocks of 12 (query head h -> group h // 12)."""

    def __init__(self, config: Step1Config, layer_index: int) -> None:
        super().__init__()
        self.layer_index = layer_index
        self.heads = config.num_attention_heads
        self.groups = config.num_attention_groups
        self.head_dim = config.head_dim
        self.q_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.k_proj = nn.Linear(config.hidden_size, config.kv_dim, bias=False)
        self.v_proj = nn.Linear(config.hidden_size, config.kv_dim, bias=False)
        self.o_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, cache: Optional[KVCache]) -> torch.Tensor:
        batch, length, _ = x.shape
        q = self.q_proj(x).view(batch, length, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, length, self.groups, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, length, self.groups, self.head_dim).transpose(1, 2)
        if cache is not None:
            k, v = cache.append(self.layer_index, k, v)
        k, v = k.to(q.dtype), v.to(q.dtype)
        if length == 1 and self.groups != self.heads:
            out = self._attend_one_position(q, k, v, bias)
        else:
            # enable_gqa repeats K/V contiguously (repeat_interleave on the head axis), the grouping step1 uses.
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, enable_gqa=self.groups != self.heads)
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, -1))

    def _attend_one_position(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                             bias: torch.Tensor) -> torch.Tensor:
        """Decode step (one query position): fold each group's query heads into the query axis, so the
        (batch, heads, 1, d) query becomes (batch, groups, heads/groups, d) against the groups' own K/V.

        Same result as enable_gqa (head h still meets group h // (heads/groups), its own bias row riding along),
        but SDPA runs as plain multi-query attention: K/V are read once per group and never repeated, and no
        kernel falls back to the math path (with enable_gqa and a float mask, bf16 on the CPU took ~20 ms per
        layer at 1000 keys; this takes ~0.4 ms; docs/engine/llm.md "Performance")."""
        batch, per_group = q.shape[0], self.heads // self.groups
        q = q.reshape(batch, self.groups, per_group, self.head_dim)
        bias = bias.reshape(bias.shape[0], self.groups, per_group, bias.shape[-1])
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return out.reshape(batch, self.heads, 1, self.head_dim)


class SwiGLU(nn.Module):
    def __init__(self, config: Step1Config) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: Step1Config, layer_index: int) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = GroupedAttention(config, layer_index)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = SwiGLU(config)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, cache: Optional[KVCache]) -> torch.Tensor:
        h = x + self.self_attn(self.input_layernorm(x), bias, cache)
        return h + self.mlp(self.post_attention_layernorm(h))


class Step1Decoder(nn.Module):
    """The `model.` part of the checkpoint: embeddings, layers, final norm."""

    def __init__(self, config: Step1Config) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class Step1ForCausalLM(nn.Module):
    """step1 with an untied output head. forward(ids (B, L) int64, cache) -> logits (B, L, vocab) in the
    parameter dtype; positions continue from cache.length (0 without a cache)."""

    def __init__(self, config: Step1Config) -> None:
        super().__init__()
        self.config = config
        self.model = Step1Decoder(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        # a plain CPU tensor, not a buffer: it is no checkpoint tensor and survives meta-device construction
        self.alibi_slopes = alibi_slopes(config.num_attention_heads)
        # copies per device, so a CUDA forward does not copy (and synchronize) the slopes host-to-device each time
        self._slopes_on: dict[torch.device, torch.Tensor] = {}

    def _slopes(self, device: torch.device) -> torch.Tensor:
        if device not in self._slopes_on:
            self._slopes_on[device] = self.alibi_slopes.to(device)
        return self._slopes_on[device]

    def new_cache(self) -> KVCache:
        return KVCache.empty(self.config.num_hidden_layers)

    def hidden_states(self, input_ids: torch.Tensor, cache: Optional[KVCache] = None) -> torch.Tensor:
        """Final-norm hidden states (B, L, hidden) for new tokens `input_ids`, appending to `cache`."""
        past = cache.length if cache is not None else 0
        x = self.model.embed_tokens(input_ids)
        length = input_ids.shape[1]
        bias = sqrt_alibi_bias(self._slopes(x.device), past, length, past + length, x.dtype, x.device)
        for layer in self.model.layers:
            x = layer(x, bias, cache)
        if cache is not None:
            cache.advance(length)
        return self.model.norm(x)

    def forward(self, input_ids: torch.Tensor, cache: Optional[KVCache] = None,
                last_only: bool = False) -> torch.Tensor:
        h = self.hidden_states(input_ids, cache)
        if last_only:
            # 2-D on purpose: the (B, 1, hidden) slice h[:, -1:] keeps the row stride of the full sequence, so
            # matmul cannot fold it into one mm and (weights not requiring grad, as loaded) runs a bmm over the
            # expanded, transposed 74752x3072 head -- a copy of the whole head per prefill chunk, seconds on the
            # CPU (docs/engine/llm.md "Performance").
            return self.lm_head(h[:, -1]).unsqueeze(1)
        return self.lm_head(h)
