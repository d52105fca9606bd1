"""vq02 front-end options, low frame rate (LFR) stacking and CMVN (docs/engine/tokenizer.md#vq02-front-end).

The Kaldi filterbank itself is `stepaudio_engine.kaldi_fbank` (preset VQ02_FBANK: x 32768, Hamming window, float32,
dither 0), shared with the CAM++ speaker input. Here: LFR stacks 7 fbank frames every 6 and CMVN applies the
<AddShift>/<Rescale> vectors of FunASR's `am.mvn` (UP:funasr_detach/frontends/wav_frontend.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.kaldi_fbank import VQ02_FBANK, FbankOptions


@dataclass(frozen=True)
class FrontendOptions:
    """The Paraformer front end: a Kaldi fbank followed by LFR (m frames stacked, stride n)."""

    fbank: FbankOptions = field(default=VQ02_FBANK)
    lfr_m: int = 7       # frames stacked per LFR frame
    lfr_n: int = 6       # LFR stride

    @property
    def sample_rate(self) -> int:
        return self.fbank.sample_rate

    @property
    def n_mels(self) -> int:
        return self.fbank.n_mels

    @property
    def window_size(self) -> int:
        return self.fbank.window_size

    @property
    def window_shift(self) -> int:
        return self.fbank.window_shift


def load_cmvn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse FunASR's Kaldi-nnet text `am.mvn`: the <AddShift> and <Rescale> vectors
    (docs/engine/tokenizer.md#vq02-front-end)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"cannot read {path}: {exc}", "re-download the tokenizer")
    found: dict[str, np.ndarray] = {}
    for i, line in enumerate(lines[:-1]):
        head = line.split()[:1]
        if head and head[0] in ("<AddShift>", "<Rescale>"):
            values = lines[i + 1].split()
            # "<LearnRateCoef> 0 [ v1 v2 ... ]": numbers between the brackets
            if values and values[0] == "<LearnRateCoef>":
                try:
                    found[head[0]] = np.array(values[3:-1], dtype=np.float32)
                except ValueError as exc:
                    raise EngineError(Reason.MODEL_CORRUPT, f"{path}: bad number in {head[0]}: {exc}",
                                      "re-download the tokenizer")
    if "<AddShift>" not in found or "<Rescale>" not in found:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: no <AddShift>/<Rescale> vectors",
                          "re-download the tokenizer")
    shift, scale = found["<AddShift>"], found["<Rescale>"]
    if shift.shape != scale.shape:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: shift {shift.shape} and scale {scale.shape} differ",
                          "re-download the tokenizer")
    return shift, scale


def stack_lfr(frames: torch.Tensor, count: int, m: int, n: int) -> torch.Tensor:
    """Stack `count` windows of m frames with stride n; windows past the end repeat the last frame."""
    need = (count - 1) * n + m if count > 0 else 0
    if need > frames.shape[0]:
        pad = frames[-1:].expand(need - frames.shape[0], -1)
        frames = torch.cat([frames, pad], dim=0)
    rows = [frames[i * n: i * n + m].reshape(1, -1) for i in range(count)]
    return torch.cat(rows, dim=0) if rows else frames.new_zeros(0, m * frames.shape[1])
