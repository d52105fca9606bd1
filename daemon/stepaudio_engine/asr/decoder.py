"""The Paraformer SAN-M decoder, streaming form: token embeddings from CIF + encoder memory -> logits.

Facts (FunASR 1.4.16 funasr/models/paraformer/decoder.py `ParaformerSANMDecoder.forward_chunk`,
`DecoderLayerSANM.forward_chunk`; funasr/models/sanm/attention.py `MultiHeadedAttentionSANMDecoder`,
`MultiHeadedAttentionCrossAtt.forward_chunk`; sanm/positionwise_feed_forward.py; released `decoder_conf`:
16 blocks, 4 heads, FFN 2048, kernel 11, sanm_shfit 5 -> a causal FSMN with 10 frames of left context):

* block: x = x + FSMN(LN2(FFN(LN1(x)))), then x = x + CrossAttn(LN3(x), memory). The FFN is
  w_2(LN(relu(w_1 x))) with w_2 bias-free; FSMN(y) = depthwise Conv1d(y over the previous 10 + current
  tokens) + y. The FSMN history carries across calls (the token stream is continuous);
* cross attention: q from the tokens, k/v from one fused `linear_k_v` over the memory (all rows of this encoder
  call) prepended with the k/v kept from earlier calls (the last look_back x frames rows), no mask;
* a last block `decoders3.0` = FFN(LN1(x)) *without* residual, then `after_norm` and `output_layer`.
LayerNorm eps 1e-12 (FunASR LayerNorm). `decoder.embed` (token embedding used only by the training sampler)
is not needed for inference and is ignored at load.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

LAYER_NORM_EPS = 1e-12


@dataclass(frozen=True)
class DecoderConfig:
    dim: int = 512
    vocab: int = 8501
    heads: int = 4
    linear_units: int = 2048
    num_blocks: int = 16
    kernel_size: int = 11
    sanm_shift: int = 5


@dataclass
class DecoderState:
    fsmn: list = field(default_factory=list)    # per block: None or (1, D, kernel-1) earlier FSMN inputs
    kv: list = field(default_factory=list)      # per block: None or (k, v) (1, heads, <=look_back*frames, d_k)


class DecoderFeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w_1 = nn.Linear(dim, hidden)
        self.w_2 = nn.Linear(hidden, dim, bias=False)
        self.norm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(self.norm(torch.relu(self.w_1(x))))


class CausalFsmn(nn.Module):
    """Depthwise convolution over the token stream; only earlier tokens and the current one are seen."""

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.fsmn_block = nn.Conv1d(dim, dim, kernel_size, groups=dim, bias=False)
        self.history = kernel_size - 1

    def forward(self, y: torch.Tensor, past: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = y.transpose(1, 2)
        if past is None:
            past = x.new_zeros(x.shape[0], x.shape[1], self.history)
        x = torch.cat((past, x), dim=2)
        return self.fsmn_block(x).transpose(1, 2) + y, x[:, :, -self.history:]


class CrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.d_k = heads, dim // heads
        self.linear_q = nn.Linear(dim, dim)
        self.linear_k_v = nn.Linear(dim, 2 * dim)
        self.linear_out = nn.Linear(dim, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1, self.heads, self.d_k).transpose(1, 2)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, cache: Optional[tuple], keep: int):
        q = self._split(self.linear_q(x))
        k, v = torch.split(self.linear_k_v(memory), self.heads * self.d_k, dim=-1)
        k, v = self._split(k), self._split(v)
        if keep > 0:
            if cache is not None:
                k, v = torch.cat((cache[0], k), dim=2), torch.cat((cache[1], v), dim=2)
            cache = (k[:, :, -keep:], v[:, :, -keep:])
        scores = torch.matmul(q * self.d_k ** (-0.5), k.transpose(-2, -1))
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        out = out.transpose(1, 2).reshape(x.shape[0], -1, self.heads * self.d_k)
        return self.linear_out(out), cache


class DecoderBlock(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.self_attn = CausalFsmn(cfg.dim, cfg.kernel_size)
        self.src_attn = CrossAttention(cfg.dim, cfg.heads)
        self.feed_forward = DecoderFeedForward(cfg.dim, cfg.linear_units)
        self.norm1 = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)
        self.norm3 = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)

    def forward(self, x, memory, fsmn_past, kv_cache, keep: int):
        memory_out, fsmn_past = self.self_attn(self.norm2(self.feed_forward(self.norm1(x))), fsmn_past)
        x = x + memory_out
        attn, kv_cache = self.src_attn(self.norm3(x), memory, kv_cache, keep)
        return x + attn, fsmn_past, kv_cache


class FinalBlock(nn.Module):
    """`decoders3.0`: feed-forward only, and no residual connection."""

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.feed_forward = DecoderFeedForward(cfg.dim, cfg.linear_units)
        self.norm1 = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feed_forward(self.norm1(x))


class SanmDecoder(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        if cfg.kernel_size - 1 != (cfg.kernel_size - 1) // 2 + cfg.sanm_shift:
            raise ValueError(f"streaming decoding needs a causal FSMN (sanm_shfit = (kernel - 1) / 2), got "
                             f"kernel {cfg.kernel_size}, shift {cfg.sanm_shift}")
        self.cfg = cfg
        self.decoders = nn.ModuleList([DecoderBlock(cfg) for _ in range(cfg.num_blocks)])
        self.decoders3 = nn.ModuleList([FinalBlock(cfg)])
        self.after_norm = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)
        self.output_layer = nn.Linear(cfg.dim, cfg.vocab)

    def new_state(self) -> DecoderState:
        return DecoderState(fsmn=[None] * len(self.decoders), kv=[None] * len(self.decoders))

    @torch.no_grad()
    def forward_chunk(self, tokens: torch.Tensor, memory: torch.Tensor, state: DecoderState,
                      keep: int) -> torch.Tensor:
        """tokens (1, N, D) CIF embeddings, memory (1, R, D) this call's encoder rows -> logits (1, N, vocab).

        keep: encoder rows of k/v kept for the next call (decoder_chunk_look_back x frames; 0 = none).
        """
        x = tokens
        for i, block in enumerate(self.decoders):
            x, state.fsmn[i], state.kv[i] = block(x, memory, state.fsmn[i], state.kv[i], keep)
        x = self.decoders3[0](x)
        return self.output_layer(self.after_norm(x))
