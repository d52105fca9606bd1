"""The flow's token encoder: a conformer stack that upsamples 25 Hz tokens to 50 Hz frames.

docs/engine/vocoder.md#flow (UP:stepvocoder/cosyvoice2/transformer/upsample_encoder_v2.py, attention.py,
embedding.py, encoder_layer.py, subsampling.py). Batch 1, non-streaming, every frame valid (no masks).
Attribute names follow the released `flow.pt` keys under `encoder.` (docs/engine/vocoder.md#state-dicts).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import EncoderConfig


def rel_position_table(length: int, d_model: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """ESPnet relative positional table for `length` frames: (1, 2*length-1, d_model).

    Row r stands for the relative position p = length-1-r (from +length-1 down to -(length-1)); even
    channels hold sin(p*w), odd channels cos(p*w), w = 10000^(-2i/d). This equals the centre slice of
    upstream's EspnetRelPositionalEncoding table (computed in float32 like upstream).
    """
    pos = torch.arange(length - 1, -length, -1, dtype=torch.float32, device=device)[:, None]
    freqs = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32, device=device) * -(math.log(10000.0) / d_model)
    )
    table = torch.zeros(2 * length - 1, d_model, dtype=torch.float32, device=device)
    table[:, 0::2] = torch.sin(pos * freqs)
    table[:, 1::2] = torch.cos(pos * freqs)
    return table[None].to(dtype)


class LinearInput(nn.Module):
    """Linear → LayerNorm (→ dropout, inactive) then x·√d and the rel-pos table (ESPnet 'linear' input)."""

    def __init__(self, idim: int, odim: int) -> None:
        super().__init__()
        self.out = nn.Sequential(nn.Linear(idim, odim), nn.LayerNorm(odim, eps=1e-5))
        self.odim = odim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.out(x) * math.sqrt(self.odim)
        return x, rel_position_table(x.shape[1], self.odim, x.dtype, x.device)


class PreLookahead(nn.Module):
    """Looks `lookahead` frames ahead: right-pad → conv1 → leaky ReLU → causal conv2 → residual."""

    def __init__(self, channels: int, lookahead: int) -> None:
        super().__init__()
        self.lookahead = lookahead
        self.conv1 = nn.Conv1d(channels, channels, kernel_size=lookahead + 1)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, T, C)
        h = F.pad(x.transpose(1, 2), (0, self.lookahead))
        h = F.leaky_relu(self.conv1(h))  # default slope 0.01
        h = self.conv2(F.pad(h, (2, 0)))
        return h.transpose(1, 2) + x


class RelPosSelfAttention(nn.Module):
    """Multi-head self-attention with Transformer-XL style relative positions (ESPnet 'rel_selfattn')."""

    def __init__(self, n_heads: int, d_model: int, key_bias: bool = True) -> None:
        super().__init__()
        self.h = n_heads
        self.d_k = d_model // n_heads
        self.linear_q = nn.Linear(d_model, d_model)
        self.linear_k = nn.Linear(d_model, d_model, bias=key_bias)
        self.linear_v = nn.Linear(d_model, d_model)
        self.linear_out = nn.Linear(d_model, d_model)
        self.linear_pos = nn.Linear(d_model, d_model, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(n_heads, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(n_heads, self.d_k))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, H, T, d_k)
        return x.view(x.shape[0], x.shape[1], self.h, self.d_k).transpose(1, 2)

    @staticmethod
    def relative_shift(bd: torch.Tensor) -> torch.Tensor:
        """(B, H, T, 2T-1) scores against table rows → (B, H, T, T) with out[i, j] = bd[i, T-1-i+j].

        Row T-1-i+j of the table is relative position i-j: the same selection as ESPnet's pad-and-reshape
        `rel_shift` followed by keeping the first T columns, written as a gather.
        """
        t = bd.shape[2]
        i = torch.arange(t, device=bd.device)[:, None]
        j = torch.arange(t, device=bd.device)[None, :]
        index = (t - 1 - i + j).expand(*bd.shape[:2], t, t)
        return torch.gather(bd, 3, index)

    def forward(self, x: torch.Tensor, pos_table: torch.Tensor) -> torch.Tensor:
        q = self._heads(self.linear_q(x))
        k = self._heads(self.linear_k(x))
        v = self._heads(self.linear_v(x))
        p = self._heads(self.linear_pos(pos_table))  # (1, H, 2T-1, d_k)
        ac = torch.matmul(q + self.pos_bias_u[None, :, None, :], k.transpose(-2, -1))
        bd = torch.matmul(q + self.pos_bias_v[None, :, None, :], p.transpose(-2, -1))
        scores = (ac + self.relative_shift(bd)) / math.sqrt(self.d_k)
        attn = torch.softmax(scores, dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        return self.linear_out(out)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__()
        self.w_1 = nn.Linear(d_model, hidden)
        self.w_2 = nn.Linear(hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(F.silu(self.w_1(x)))


class ConformerLayer(nn.Module):
    """Pre-norm block: attention then feed-forward (no macaron FFN, no conv module); LayerNorm eps 1e-12."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        d = cfg.output_size
        self.self_attn = RelPosSelfAttention(cfg.attention_heads, d, cfg.key_bias)
        self.feed_forward = FeedForward(d, cfg.linear_units)
        self.norm_mha = nn.LayerNorm(d, eps=1e-12)
        self.norm_ff = nn.LayerNorm(d, eps=1e-12)

    def forward(self, x: torch.Tensor, pos_table: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.norm_mha(x), pos_table)
        return x + self.feed_forward(self.norm_ff(x))


class Upsample(nn.Module):
    """Nearest ×stride in time, left-pad 2·stride zeros, Conv1d(k = 2·stride+1)."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(channels, channels, kernel_size=stride * 2 + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, stride*T)
        x = F.interpolate(x, scale_factor=float(self.stride), mode="nearest")
        return self.conv(F.pad(x, (self.stride * 2, 0)))


class UpsampleConformerEncoder(nn.Module):
    """Tokens (B, T, input_size) at 25 Hz → (B, up_stride·T, output_size) at 50 Hz."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        d = cfg.output_size
        self.embed = LinearInput(cfg.input_size, d)
        self.pre_lookahead_layer = PreLookahead(d, cfg.pre_lookahead_len)
        self.encoders = nn.ModuleList(ConformerLayer(cfg) for _ in range(cfg.num_blocks))
        self.up_layer = Upsample(d, cfg.up_stride)
        self.up_embed = LinearInput(d, d)
        self.up_encoders = nn.ModuleList(ConformerLayer(cfg) for _ in range(cfg.num_up_blocks))
        self.after_norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, tokens_embedded: torch.Tensor) -> torch.Tensor:
        x, pos = self.embed(tokens_embedded)
        x = self.pre_lookahead_layer(x)
        for layer in self.encoders:
            x = layer(x, pos)
        x = self.up_layer(x.transpose(1, 2)).transpose(1, 2)
        x, pos = self.up_embed(x)
        for layer in self.up_encoders:
            x = layer(x, pos)
        return self.after_norm(x)
