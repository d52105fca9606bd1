"""DiT velocity estimator of the flow-matching decoder (docs/engine/vocoder.md#dit-estimator;
UP:.../flow/decoder_dit.py).

Input channels x | mu | speaker (broadcast over time) | prompt mel, each 80 → 320; 16 adaLN blocks whose
modulation is driven only by the time step; each block runs attention, then a causal conv branch, then an MLP.
Attention is fully bidirectional (every frame valid at batch size ≤ 2 with equal lengths).
Attribute names follow the released keys under `decoder.estimator.` (docs/engine/vocoder.md#state-dicts).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import DiTConfig


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class TimestepEmbedder(nn.Module):
    """t ∈ [0, 1] → sinusoid of t·1000 (cos half then sin half, 256 dims) → Linear → SiLU → Linear."""

    def __init__(self, hidden: int, freq_dim: int = 256, scale: float = 1000.0) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.scale = scale
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def sinusoid(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = (t * self.scale)[:, None] * freqs.to(t.dtype)[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.sinusoid(t))


class Attention(nn.Module):
    """Multi-head attention with per-head LayerNorm on q and k (scale 1/√head_dim)."""

    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = head_dim
        inner = heads * head_dim
        self.to_q = nn.Linear(dim, inner)
        self.to_k = nn.Linear(dim, inner)
        self.to_v = nn.Linear(dim, inner)
        self.q_norm = nn.LayerNorm(head_dim, eps=1e-5)
        self.k_norm = nn.LayerNorm(head_dim, eps=1e-5)
        self.proj = nn.Linear(inner, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_norm(self._split(self.to_q(x)))
        k = self.k_norm(self._split(self.to_k(x)))
        v = self._split(self.to_v(x))
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, t, -1))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class CausalConv1d(nn.Conv1d):
    """Conv1d that sees only the past: left-pad kernel_size-1 zeros."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.kernel_size[0] - 1, 0)))


class _ToChannels(nn.Module):
    """(B, T, C) ↔ (B, C, T); holds no weights but keeps the Sequential indices of the checkpoint."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class ConvBranch(nn.Module):
    """Causal conv → LayerNorm → Mish → causal conv on (B, T, C).

    `block` indices 1 (conv1), 3 (LayerNorm) and 6 (conv2) are fixed by the checkpoint keys.
    """

    def __init__(self, channels: int, kernel: int = 3) -> None:
        super().__init__()
        self.block = nn.Sequential(
            _ToChannels(), CausalConv1d(channels, channels, kernel), _ToChannels(),
            nn.LayerNorm(channels, eps=1e-5), nn.Mish(),
            _ToChannels(), CausalConv1d(channels, channels, kernel), _ToChannels(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DiTBlock(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(d, cfg.num_heads, cfg.head_dim)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(d, int(d * cfg.mlp_ratio))
        self.norm3 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.conv = ConvBranch(d, 3)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 9 * d))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp,
         shift_conv, scale_conv, gate_conv) = self.adaLN_modulation(c).chunk(9, dim=-1)
        x = x + gate_msa * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + gate_conv * self.conv(modulate(self.norm3(x), shift_conv, scale_conv))
        return x + gate_mlp * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


class FinalLayer(nn.Module):
    def __init__(self, hidden: int, out_channels: int) -> None:
        super().__init__()
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden, out_channels)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class DiT(nn.Module):
    """Velocity v(x, t | mu, spk, cond); all (B, 80, T) except t (B,) and spk (B, 80)."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.t_embedder = TimestepEmbedder(cfg.hidden_size)
        self.in_proj = nn.Linear(cfg.in_channels, cfg.hidden_size)
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.depth))
        self.final_layer = FinalLayer(cfg.hidden_size, cfg.out_channels)

    def forward(self, x: torch.Tensor, mu: torch.Tensor, t: torch.Tensor, spks: torch.Tensor,
                cond: torch.Tensor) -> torch.Tensor:
        c = self.t_embedder(t)[:, None, :]  # (B, 1, hidden)
        spk = spks[:, :, None].expand(-1, -1, x.shape[-1])
        h = self.in_proj(torch.cat([x, mu, spk, cond], dim=1).transpose(1, 2))
        for block in self.blocks:
            h = block(h, c)
        return self.final_layer(h, c).transpose(1, 2)
