"""The Paraformer streaming encoder (SAN-M, "SANMEncoderChunkOpt") run chunk by chunk, as upstream's vq02 does.

Our own torch module. Attribute names follow the released `model.pt` keys (prefix `encoder.`) so that the
encoder part loads strictly: `encoders0.0.*` (first block, input 560), `encoders.{i}.*`, `after_norm.*`
#vq02-encoder-parameters). The streaming semantics are docs/engine/tokenizer.md#vq02-encoder-chunk-forward
# (UP:funasr_detach/models/scama/encoder.py,
(docs/engine/tokenizer.md
sanm/attention.py; identical in PyPI funasr 1.4.16, which we read to confirm them):

* input x sqrt(d_model), then a sinusoidal position code over the *input* width, positions counted from 1 at
  the start of the utterance (sin half then cos half, timescale 10000^(k/(D/2-1)));
* the previous call's last 5 (post-PE) input frames are prepended (zeros before the first call);
* in every block, attention keys/values = [cached k/v of up to 16 earlier frames] + [this call's frames]; the
  cache then grows by this call's k/v minus its last 5 frames and keeps the newest 16 (4 chunks x 4 frames);
  the first call has no cache and attends only to itself;
* SAN-M = softmax attention + FSMN memory (depthwise conv, kernel 11, over this call's v) + v.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

LAYER_NORM_EPS = 1e-12  # FunASR's LayerNorm default (transformer/layer_norm.py)


@dataclass(frozen=True)
class SanmConfig:
    input_size: int = 560
    output_size: int = 512
    attention_heads: int = 4
    linear_units: int = 2048
    num_blocks: int = 50
    kernel_size: int = 11


@dataclass(frozen=True)
class ChunkConfig:
    """Upstream's call: chunk_size=[0, 4, 5], encoder_chunk_look_back=4 (UP:tokenizer.py `get_vq02_code`)."""

    left: int = 0            # chunk_size[0]
    frames: int = 4          # chunk_size[1]: LFR frames per 240 ms chunk
    overlap: int = 5         # chunk_size[2]: frames carried over to the next call
    look_back: int = 4       # encoder_chunk_look_back, in chunks

    @property
    def cache_frames(self) -> int:
        return self.look_back * self.frames


class SanmAttention(nn.Module):
    """Multi-head self-attention with an FSMN memory block (MultiHeadedAttentionSANM)."""

    def __init__(self, heads: int, in_dim: int, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.heads, self.d_k = heads, dim // heads
        self.linear_q_k_v = nn.Linear(in_dim, 3 * dim)
        self.linear_out = nn.Linear(dim, dim)
        self.fsmn_block = nn.Conv1d(dim, dim, kernel_size, groups=dim, bias=False)
        left = (kernel_size - 1) // 2          # sanm_shfit = 0 in the released config
        self.pad = (left, kernel_size - 1 - left)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.reshape(b, t, self.heads, self.d_k).transpose(1, 2)

    def forward_chunk(self, x: torch.Tensor, cache: Optional[tuple[torch.Tensor, torch.Tensor]],
                      chunk: ChunkConfig) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        q, k, v = torch.split(self.linear_q_k_v(x), self.heads * self.d_k, dim=-1)
        q_h, k_h, v_h = self._split_heads(q), self._split_heads(k), self._split_heads(v)
        hold = chunk.overlap  # the last `overlap` frames are seen again next call, so they are not cached
        if cache is None:
            new_cache = (k_h[:, :, :-hold], v_h[:, :, :-hold])
        else:
            new_cache = (torch.cat((cache[0], k_h[:, :, :-hold]), dim=2)[:, :, -chunk.cache_frames:],
                         torch.cat((cache[1], v_h[:, :, :-hold]), dim=2)[:, :, -chunk.cache_frames:])
            k_h = torch.cat((cache[0], k_h), dim=2)
            v_h = torch.cat((cache[1], v_h), dim=2)
        memory = self.fsmn_block(nn.functional.pad(v.transpose(1, 2), self.pad)).transpose(1, 2) + v
        scores = torch.matmul(q_h * self.d_k ** (-0.5), k_h.transpose(-2, -1))
        attn = torch.matmul(torch.softmax(scores, dim=-1), v_h)
        attn = attn.transpose(1, 2).reshape(x.shape[0], -1, self.heads * self.d_k)
        return self.linear_out(attn) + memory, new_cache


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w_1 = nn.Linear(dim, hidden)
        self.w_2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(torch.relu(self.w_1(x)))


class SanmLayer(nn.Module):
    """Pre-LN block; the first block changes width (560 -> 512) and so has no attention residual."""

    def __init__(self, in_dim: int, cfg: SanmConfig) -> None:
        super().__init__()
        self.self_attn = SanmAttention(cfg.attention_heads, in_dim, cfg.output_size, cfg.kernel_size)
        self.feed_forward = FeedForward(cfg.output_size, cfg.linear_units)
        self.norm1 = nn.LayerNorm(in_dim, eps=LAYER_NORM_EPS)
        self.norm2 = nn.LayerNorm(cfg.output_size, eps=LAYER_NORM_EPS)
        self.residual = in_dim == cfg.output_size

    def forward_chunk(self, x, cache, chunk: ChunkConfig):
        attn, cache = self.self_attn.forward_chunk(self.norm1(x), cache, chunk)
        x = x + attn if self.residual else attn
        return x + self.feed_forward(self.norm2(x)), cache


@dataclass
class StreamState:
    """Everything the encoder carries from one chunk to the next."""

    start_idx: int = 0                                  # frames seen so far (position code offset)
    overlap: Optional[torch.Tensor] = None              # (1, left + overlap, input_size), post-PE
    kv: list = field(default_factory=list)              # per block: None or (k, v) (1, heads, <=16, d_k)


def position_code(start: int, count: int, depth: int) -> torch.Tensor:
    """Streaming sinusoidal code for positions start+1 .. start+count, float32 (1, count, depth)."""
    positions = torch.arange(start + 1, start + count + 1, dtype=torch.float32)
    increment = torch.log(torch.tensor([10000.0])) / (depth / 2 - 1)
    inv = torch.exp(torch.arange(depth // 2, dtype=torch.float32) * (-increment))
    scaled = positions.reshape(1, -1, 1) * inv.reshape(1, 1, -1)
    return torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=2)


class SanmEncoder(nn.Module):
    def __init__(self, cfg: SanmConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoders0 = nn.ModuleList([SanmLayer(cfg.input_size, cfg)])
        self.encoders = nn.ModuleList([SanmLayer(cfg.output_size, cfg) for _ in range(cfg.num_blocks - 1)])
        self.after_norm = nn.LayerNorm(cfg.output_size, eps=LAYER_NORM_EPS)

    def new_state(self, chunk: ChunkConfig) -> StreamState:
        device = self.after_norm.weight.device
        overlap = torch.zeros(1, chunk.left + chunk.overlap, self.cfg.input_size, device=device)
        return StreamState(overlap=overlap, kv=[None] * self.cfg.num_blocks)

    @torch.no_grad()
    def forward_chunk(self, feats: torch.Tensor, state: StreamState, chunk: ChunkConfig) -> torch.Tensor:
        """feats (1, T, input_size) -> (1, overlap + T, output_size); the caller keeps the last T rows."""
        x = feats * math.sqrt(self.cfg.output_size)   # scaled by the output width, as upstream
        x = x + position_code(state.start_idx, x.shape[1], x.shape[2]).to(x.device)
        state.start_idx += feats.shape[1]
        x = torch.cat((state.overlap, x), dim=1)
        state.overlap = x[:, -(chunk.left + chunk.overlap):, :]
        layers = list(self.encoders0) + list(self.encoders)
        for i, layer in enumerate(layers):
            x, state.kv[i] = layer.forward_chunk(x, state.kv[i], chunk)
        return self.after_norm(x)
