"""HiFT's random draws, recordable and replayable, so two implementations can run on the same randomness.

HiFT's harmonic source (hift.HarmonicSource; upstream SineGen2 + SourceModuleHnNSF, docs/engine/vocoder.md#hift) makes
three draws per call, in this order:

1. `phase`       uniform [0, 1)  (B, H+1)     initial phase of each harmonic (column 0 is zeroed before use)
2. `sine_noise`  standard normal (B, N, H+1)  noise added to the sines, scaled by the voiced/unvoiced amplitude
3. `extra_noise` standard normal (B, N, 1)    upstream's SourceModuleHnNSF noise branch: drawn, never used

H+1 = 9 harmonics at the released config, N = 480 · mel frames (the 24 kHz output length), B = 1.
`NoiseDraws` hands these to HarmonicSource either from a torch.Generator (normal runs; the draws are
recorded) or from a given HiftNoise (replay). Files: `.npz` with keys phase / sine_noise / extra_noise or,
positionally, arr_0 / arr_1 / arr_2 (np.savez(*draws) in draw order); or a folder of the three `.npy` files.
`extra_noise` is optional (it cannot change the output).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from ..api import EngineError, Reason

NAMES = ("phase", "sine_noise", "extra_noise")  # draw order


@dataclass
class HiftNoise:
    """The draws of one HiFT call (float32 tensors on CPU, shapes as in the module docstring)."""

    phase: torch.Tensor
    sine_noise: torch.Tensor
    extra_noise: Optional[torch.Tensor] = None

    def to_numpy(self) -> dict[str, np.ndarray]:
        arrays = {"phase": self.phase, "sine_noise": self.sine_noise, "extra_noise": self.extra_noise}
        return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in arrays.items() if v is not None}

    def save(self, path: Path) -> None:
        np.savez(path, **self.to_numpy())

    def check(self, batch: int, samples: int, harmonics: int) -> None:
        """BAD_INPUT unless the shapes fit a call with this many output samples and harmonics."""
        expected = {"phase": (batch, harmonics), "sine_noise": (batch, samples, harmonics),
                    "extra_noise": (batch, samples, 1)}
        for name, shape in expected.items():
            value = getattr(self, name)
            if value is not None and tuple(value.shape) != shape:
                raise EngineError(
                    Reason.BAD_INPUT, f"HiFT noise '{name}' has shape {tuple(value.shape)}, this run needs {shape}",
                    "record the noise from a run with the same tokens (N = 480 × mel frames = 2880 × groups)")


class NoiseDraws:
    """Source of HiFT's draws: a torch.Generator (draws are recorded in `.recorded`) or a HiftNoise to replay."""

    def __init__(self, source: Union[torch.Generator, HiftNoise]) -> None:
        self.source = source
        self.recorded = HiftNoise(torch.zeros(0), torch.zeros(0))

    @property
    def replaying(self) -> bool:
        return isinstance(self.source, HiftNoise)

    def phase(self, batch: int, harmonics: int) -> torch.Tensor:
        if self.replaying:
            value = self.source.phase.float().clone()
        else:
            value = torch.rand(batch, harmonics, generator=self.source, dtype=torch.float32)
        self.recorded.phase = value.clone()
        return value

    def sine_noise(self, batch: int, samples: int, harmonics: int) -> torch.Tensor:
        if self.replaying:
            value = self.source.sine_noise.float()
        else:
            # upstream draws randn_like on a time-transposed (non-contiguous) tensor; torch fills such tensors
            # element by element instead of with its vectorised contiguous path, so the values differ from a
            # plain randn of the same shape. Drawing into the same layout keeps replayed seeds bit-identical.
            value = torch.empty(batch, harmonics, samples).transpose(1, 2).normal_(generator=self.source)
        self.recorded.sine_noise = value
        return value

    def extra_noise(self, batch: int, samples: int) -> None:
        """Upstream's discarded noise branch: drawn only to keep the generator state as upstream leaves it."""
        if self.replaying:
            self.recorded.extra_noise = self.source.extra_noise
        else:
            self.recorded.extra_noise = torch.randn(batch, samples, 1, generator=self.source)


# upstream's names for the same draws (stepvocoder/cosyvoice2/hifigan/generator.py): SineGen2's `rand_ini`,
# SineGen2's randn_like(sine_waves) and SourceModuleHnNSF2's randn_like(uv), both before scaling
ALIASES = {"phase": ("rand_ini",), "sine_noise": ("sine_randn",), "extra_noise": ("source_randn",)}


def load_hift_noise(path: Path) -> HiftNoise:
    """Read a `.npz` (named, upstream-named or positional keys) or a folder of phase/sine_noise[/extra_noise].npy
    (or the upstream names, ALIASES)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        if path.is_dir():
            for name in NAMES:
                hit = next((path / f"{n}.npy" for n in (name, *ALIASES[name]) if (path / f"{n}.npy").is_file()), None)
                if hit is not None:
                    arrays[name] = np.load(hit, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as data:
                for i, name in enumerate(NAMES):
                    key = next((n for n in (name, *ALIASES[name], f"arr_{i}") if n in data.files), None)
                    if key is not None:
                        arrays[name] = data[key]
    except (OSError, ValueError) as exc:
        raise EngineError(Reason.BAD_INPUT, f"cannot read HiFT noise from {path}: {exc}",
                          "pass an .npz or a folder of .npy files") from exc
    missing = [n for n in NAMES[:2] if n not in arrays]
    if missing:
        raise EngineError(Reason.BAD_INPUT, f"HiFT noise in {path} lacks {', '.join(missing)}",
                          "give phase (1, 9) and sine_noise (1, N, 9), optionally extra_noise (1, N, 1)")
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in arrays.items()}
    # a missing batch axis is the only reshaping we allow: anything else is a layout mistake worth reporting
    if tensors["phase"].ndim == 1:
        tensors["phase"] = tensors["phase"][None]
    for name in ("sine_noise", "extra_noise"):
        if name in tensors and tensors[name].ndim == 2:
            tensors[name] = tensors[name][None]
    return HiftNoise(**tensors)
