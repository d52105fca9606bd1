"""Flow model: vocoder tokens + prompt → 80-bin mel at 50 Hz (docs/engine/vocoder.md#vocoder-inputs,
docs/engine/vocoder.md#flow).

Token form at the interface: "mixed 0-based prompt tokens" (spec §0.2): groups of 5 = 2 vq02 (0…1023) then
3 vq06 (raw + 1024 → 1024…5119). `reshape_tokens` turns them into the flow's (3·G, 2) pairs; the embedding
table has 5121 rows (vq02 as is, 1024 = vq02 pad, vq06 raw + 1025).
Module attribute names equal the released `flow.pt` keys (spec §7.9).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .cfm import FlowMatchingDecoder, StepHook
from .config import FlowConfig
from .flow_encoder import UpsampleConformerEncoder

VQ02_PAD = 1024
GROUP = 5           # mixed tokens per 120 ms group (2 vq02 + 3 vq06)
STEPS_PER_GROUP = 3  # flow time steps per group (25 Hz)
_PAD_TAIL = [0, 0, 0, 1024, 1024, 1024]  # upstream's padding source: the last (5 - len % 5) items are appended


def reshape_tokens(tokens: Sequence[int]) -> np.ndarray:
    """Mixed 0-based tokens → int64 (3·G, 2) (vq02 column, vq06 column) pairs (spec §7.4 step 2).

    Group [a, b, c, d, e] → (a, c+1), (b, d+1), (1024, e+1). An incomplete last group is padded with the
    tail of [0, 0, 0, 1024, 1024, 1024] as upstream does; positions are not checked (positional grouping).
    """
    seq = [int(t) for t in tokens]
    rem = len(seq) % GROUP
    if rem:
        seq += _PAD_TAIL[-(GROUP - rem):]
    arr = np.asarray(seq, dtype=np.int64).reshape(-1, GROUP)
    out = np.empty((arr.shape[0], STEPS_PER_GROUP, 2), dtype=np.int64)
    out[:, 0, 0], out[:, 0, 1] = arr[:, 0], arr[:, 2] + 1
    out[:, 1, 0], out[:, 1, 1] = arr[:, 1], arr[:, 3] + 1
    out[:, 2, 0], out[:, 2, 1] = VQ02_PAD, arr[:, 4] + 1
    return out.reshape(-1, 2)


def align_prompt_mel(prompt_mel: torch.Tensor, prompt_steps: int, up: int = 2) -> torch.Tensor:
    """Stretch (1, T_mel, 80) onto the prompt token grid: nearest to up·prompt_steps frames (spec §7.4 step 3)."""
    x = F.interpolate(prompt_mel.transpose(1, 2), size=up * prompt_steps, mode="nearest")
    return x.transpose(1, 2)


class DualCodebookEmbedding(nn.Module):
    """One table, looked up for the vq02 and the vq06 column; the two halves are concatenated."""

    def __init__(self, vocab_size: int, width: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, width // 2)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:  # (B, T, 2) → (B, T, width)
        return torch.cat([self.embedding(pairs[..., 0]), self.embedding(pairs[..., 1])], dim=-1)


@dataclass
class FlowTrace:
    """Intermediate tensors of one flow run (for the stage tool and parity checks)."""

    encoder_out: torch.Tensor   # (1, 2T, 80) after encoder_proj (T = prompt + generated steps)
    cond: torch.Tensor          # (1, 80, 2T) prompt mel in the first 2·T_p frames, zeros after
    speaker: torch.Tensor       # (1, 80) projected speaker embedding
    # (2, 80, 2T) the estimator's first output, conditional then unconditional branch (None if not recorded)
    first_estimate: Optional[torch.Tensor] = None


class FlowModel(nn.Module):
    def __init__(self, cfg: FlowConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.input_embedding = DualCodebookEmbedding(cfg.vocab_size, cfg.input_size)
        self.spk_embed_affine_layer = nn.Linear(cfg.spk_embed_dim, cfg.output_size)
        self.encoder = UpsampleConformerEncoder(cfg.encoder)
        self.encoder_proj = nn.Linear(cfg.encoder.output_size, cfg.output_size)
        self.decoder = FlowMatchingDecoder(cfg.estimator, cfg.cfm, cfg.output_size)

    @torch.inference_mode()
    def infer(self, tokens: torch.Tensor, prompt_tokens: torch.Tensor, prompt_feat: torch.Tensor,
              embedding: torch.Tensor, on_step: Optional[StepHook] = None) -> tuple[torch.Tensor, FlowTrace]:
        """tokens (1, T_g, 2), prompt_tokens (1, T_p, 2) int64; prompt_feat (1, 2·T_p, 80) aligned prompt mel;
        embedding (1, 192). Returns mel (1, 80, 2·T_g) and the trace."""
        spk = self.spk_embed_affine_layer(F.normalize(embedding, dim=1))
        pairs = torch.cat([prompt_tokens, tokens], dim=1).clamp(min=0)
        h = self.encoder(self.input_embedding(pairs))
        h = self.encoder_proj(h)
        n_prompt = prompt_feat.shape[1]
        cond = torch.zeros_like(h)
        cond[:, :n_prompt] = prompt_feat
        cond = cond.transpose(1, 2).contiguous()
        record: dict = {}
        mel = self.decoder(h.transpose(1, 2).contiguous(), spk, cond, on_step, record)
        return mel[:, :, n_prompt:], FlowTrace(encoder_out=h, cond=cond, speaker=spk,
                                               first_estimate=record.get("first_estimate"))
