"""CIF predictor (continuous integrate-and-fire), streaming form: encoder frames -> one embedding per token.

Facts (FunASR 1.4.16 funasr/models/paraformer/cif_predictor.py `CifPredictorV2.forward_chunk`, released
config `predictor_conf`: idim 512, l_order 1, r_order 1, threshold 1.0, tail_threshold 0.45):

* weight per frame: alpha = relu(sigmoid(Linear(relu(Conv1d_k3(pad(h))))) * smooth_factor - noise_threshold), the
  convolution zero-padded per call (not across calls);
* in a non-final call only the first `left + frames` rows carry weight (the look-ahead rows are seen again as
  the next call's overlap); the final call also appends a zero frame of weight `tail_threshold`;
* integrate-and-fire: accumulate alpha * h; when the running sum reaches the threshold the token embedding is
  emitted with the part of alpha that completes it and the rest starts the next token;
* the unfinished remainder is carried to the next call as one frame (mean hidden, weight = remainder).
Key names `predictor.cif_conv1d.*`, `predictor.cif_output.*` are fixed by the checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn


@dataclass(frozen=True)
class CifConfig:
    dim: int = 512
    l_order: int = 1
    r_order: int = 1
    threshold: float = 1.0
    tail_threshold: float = 0.45
    smooth_factor: float = 1.0
    noise_threshold: float = 0.0


@dataclass
class CifState:
    """The unfinished token carried between calls: mean hidden (1, D) and its accumulated weight."""

    hidden: Optional[torch.Tensor] = None
    weight: Optional[torch.Tensor] = None   # float32 scalar tensor


class CifPredictor(nn.Module):
    def __init__(self, cfg: CifConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.cif_conv1d = nn.Conv1d(cfg.dim, cfg.dim, cfg.l_order + cfg.r_order + 1)
        self.cif_output = nn.Linear(cfg.dim, 1)

    def alphas(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (1, R, D) -> per-frame weights (R,)."""
        x = nn.functional.pad(hidden.transpose(1, 2), (self.cfg.l_order, self.cfg.r_order))
        x = torch.relu(self.cif_conv1d(x)).transpose(1, 2)
        weights = torch.sigmoid(self.cif_output(x))
        weights = torch.relu(weights * self.cfg.smooth_factor - self.cfg.noise_threshold)
        return weights[0, :, 0]

    @torch.no_grad()
    def fire_chunk(self, hidden: torch.Tensor, state: CifState, weighted: Optional[tuple[int, int]],
                   is_final: bool) -> torch.Tensor:
        """hidden (1, R, D) of one encoder call -> token embeddings (N, D), N >= 0; updates state.

        weighted: (left, left + frames), the rows that carry weight (the tail too when final); None for all.
        """
        alphas = self.alphas(hidden)
        rows = hidden[0]
        if weighted is not None:
            alphas = alphas.clone()
            alphas[:weighted[0]] = 0.0
            if not is_final:
                alphas[weighted[1]:] = 0.0
        if state.hidden is not None:
            rows = torch.cat((state.hidden, rows))
            alphas = torch.cat((state.weight.reshape(1), alphas))
        if is_final:
            rows = torch.cat((rows, rows.new_zeros(1, rows.shape[1])))
            alphas = torch.cat((alphas, alphas.new_tensor([self.cfg.tail_threshold])))
        return self._integrate(rows, alphas, state)

    def _integrate(self, rows: torch.Tensor, alphas: torch.Tensor, state: CifState) -> torch.Tensor:
        threshold = self.cfg.threshold
        total = rows.new_zeros(())           # weight accumulated for the current token (on the rows' device)
        acc = rows.new_zeros(rows.shape[1])
        fired = []
        for t in range(rows.shape[0]):
            alpha = alphas[t]
            if alpha + total < threshold:
                total = total + alpha
                acc = acc + alpha * rows[t]
            else:   # the token completes inside this frame: split alpha between this token and the next
                fired.append(acc + (threshold - total) * rows[t])
                total = total + alpha - threshold
                acc = total * rows[t]
        # carry the remainder as one averaged frame of weight `total` (what FunASR's cache holds)
        state.weight = total
        state.hidden = (acc / total if total > 0.0 else acc).reshape(1, -1)
        return torch.stack(fired) if fired else rows.new_zeros(0, rows.shape[1])
