"""Conditional flow matching: Euler solver with classifier-free guidance (docs/engine/vocoder.md#flow-matching-solver).

Upstream (`CausalConditionalCFM`) starts from a fixed noise buffer randn(1, 80, 30000) drawn once when the
module is built (not stored in flow.pt); its exact values depend on upstream's RNG history and cannot be
reproduced. We draw ours from a dedicated generator with a fixed seed (CFMConfig.noise_seed), so the flow is
deterministic; parity work can install the reference buffer with `set_noise`.
Schedule t_k = 1 - cos(pi/2 · k/n); per step v = (1+w)·v(x|mu,spk,cond) - w·v(x|0,0,0), x += dt·v.
The module attribute `estimator` keeps the checkpoint prefix `decoder.estimator.`.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import nn

from .config import CFMConfig, DiTConfig
from .dit import DiT

StepHook = Callable[[int, int], None]  # (steps done, total steps); may raise to stop (cancel)


class FlowMatchingDecoder(nn.Module):
    def __init__(self, dit_cfg: DiTConfig, cfm_cfg: CFMConfig, n_mels: int = 80) -> None:
        super().__init__()
        self.cfg = cfm_cfg
        self.n_mels = n_mels
        self.estimator = DiT(dit_cfg)
        self._noise: Optional[torch.Tensor] = None  # not a parameter: absent from flow.pt like upstream

    def noise(self, frames: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The first `frames` columns of the fixed noise buffer (1, n_mels, noise_frames)."""
        if frames > self.cfg.noise_frames:
            raise ValueError(f"{frames} mel frames exceed the noise buffer ({self.cfg.noise_frames})")
        if self._noise is None:
            gen = torch.Generator(device="cpu").manual_seed(self.cfg.noise_seed)
            self._noise = torch.randn(1, self.n_mels, self.cfg.noise_frames, generator=gen)
        return self._noise[:, :, :frames].to(device=device, dtype=dtype)

    def set_noise(self, noise: torch.Tensor) -> None:
        """Install a reference noise buffer (1, n_mels, N) for parity runs."""
        self._noise = noise.detach().to("cpu", torch.float32)
        self.cfg.noise_frames = int(noise.shape[-1])

    def schedule(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        n = self.cfg.n_timesteps
        t = torch.linspace(0, 1, n + 1, device=device, dtype=dtype)
        if self.cfg.t_scheduler == "cosine":
            t = 1 - torch.cos(t * 0.5 * math.pi)
        return t

    @torch.inference_mode()
    def forward(self, mu: torch.Tensor, spks: torch.Tensor, cond: torch.Tensor,
                on_step: Optional[StepHook] = None, record: Optional[dict] = None) -> torch.Tensor:
        """mu, cond (1, 80, T); spks (1, 80) → mel (1, 80, T). `record`, if given, receives
        "first_estimate": the estimator's output (2, 80, T) at the first Euler step (for the stage tool)."""
        x = self.noise(mu.shape[-1], mu.device, mu.dtype)
        t_span = self.schedule(mu.device, mu.dtype)
        w = self.cfg.inference_cfg_rate
        # conditional and unconditional branch in one batch of 2; the unconditional one sees zeros
        mu2 = torch.cat([mu, torch.zeros_like(mu)])
        spk2 = torch.cat([spks, torch.zeros_like(spks)])
        cond2 = torch.cat([cond, torch.zeros_like(cond)])
        t, dt = t_span[0], t_span[1] - t_span[0]
        steps = len(t_span) - 1
        for step in range(1, steps + 1):
            v = self.estimator(torch.cat([x, x]), mu2, t.expand(2), spk2, cond2)
            if record is not None and step == 1:
                record["first_estimate"] = v.detach()
            v_cond, v_uncond = v.chunk(2)
            x = x + dt * ((1.0 + w) * v_cond - w * v_uncond)
            t = t + dt
            if step < steps:
                dt = t_span[step + 1] - t
            if on_step is not None:
                on_step(step, steps)
        return x
