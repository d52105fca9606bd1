"""HiFT vocoder: 80-bin mel at 50 Hz → 24 kHz waveform (docs/engine/vocoder.md#hift; UP:.../hifigan/generator.py).

F0 predictor → harmonic-plus-noise source (9 harmonics) → its STFT is injected at every upsampling stage of a
HiFi-GAN style decoder whose head predicts a 16-point magnitude/phase spectrum, inverted with iSTFT (hop 4).
Weight norm is a parametrization (weight_norm.py, equal to torch's), so keys read
`X.parametrizations.weight.original0/1` (spec §7.9).
Randomness (initial harmonic phases, source noise) comes from an explicit torch.Generator, or is replayed from
recorded draws (hift_noise.HiftNoise) to compare implementations on the same randomness.
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import HiftConfig
from .hift_noise import HiftNoise, NoiseDraws
from .weight_norm import weight_norm

Randomness = Union[torch.Generator, HiftNoise, NoiseDraws]


def _draws(source: Randomness) -> NoiseDraws:
    return source if isinstance(source, NoiseDraws) else NoiseDraws(source)


def _wn_conv(cin: int, cout: int, k: int, dilation: int = 1, padding: Optional[int] = None) -> nn.Module:
    pad = (k * dilation - dilation) // 2 if padding is None else padding
    return weight_norm(nn.Conv1d(cin, cout, k, dilation=dilation, padding=pad))


class Snake(nn.Module):
    """x + sin²(αx)/α per channel (linear α, upstream alpha_logscale=False)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha[None, :, None]
        return x + (1.0 / (a + 1e-9)) * torch.sin(x * a).pow(2)


class ResBlock(nn.Module):
    """Three (Snake → dilated conv → Snake → conv) residual units, dilations e.g. 1/3/5."""

    def __init__(self, channels: int, kernel: int, dilations: list[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(_wn_conv(channels, channels, kernel, d) for d in dilations)
        self.convs2 = nn.ModuleList(_wn_conv(channels, channels, kernel, 1) for _ in dilations)
        self.activations1 = nn.ModuleList(Snake(channels) for _ in dilations)
        self.activations2 = nn.ModuleList(Snake(channels) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2, a1, a2 in zip(self.convs1, self.convs2, self.activations1, self.activations2):
            x = x + c2(a2(c1(a1(x))))
        return x


class F0Predictor(nn.Module):
    """5 × (weight-normed conv k3 + ELU) → Linear → |·|: f0 in Hz per mel frame (no RNN despite upstream's name).

    `condnet` indices 0, 2, 4, 6, 8 are the convs (ELUs sit at the odd indices), as in the checkpoint.
    """

    def __init__(self, in_channels: int, cond_channels: int, layers: int = 5) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [_wn_conv(in_channels if i == 0 else cond_channels, cond_channels, 3, padding=1), nn.ELU()]
        self.condnet = nn.Sequential(*mods)
        self.classifier = nn.Linear(cond_channels, 1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:  # (B, 80, T) → (B, T)
        h = self.condnet(mel).transpose(1, 2)
        return torch.abs(self.classifier(h).squeeze(-1))


class HarmonicSource(nn.Module):
    """Neural source filter: sines at f0·(1…H+1) with voiced/unvoiced noise, merged by Linear(H+1→1) + tanh.

    The phase is integrated at the mel-frame rate (linear down/upsampling by `upsample`) like upstream's
    SineGen2, so the cumulative sum is short. Draw order per call (see hift_noise.py): rand (1, H+1), normal
    (1, N, H+1) laid out as (1, H+1, N) transposed, then randn (1, N, 1) which upstream draws and discards
    (kept so the generator state after a call matches).
    """

    def __init__(self, cfg: HiftConfig, upsample: int) -> None:
        super().__init__()
        self.harmonics = cfg.nb_harmonics + 1
        self.sr = cfg.sampling_rate
        self.amp = cfg.nsf_alpha
        self.noise_std = cfg.nsf_sigma
        self.threshold = cfg.nsf_voiced_threshold
        self.upsample = upsample
        self.l_linear = nn.Linear(self.harmonics, 1)

    def forward(self, f0: torch.Tensor, randomness: Randomness) -> torch.Tensor:
        """f0 (1, N, 1) at the audio rate → source (1, N, 1)."""
        draws = _draws(randomness)
        if draws.replaying:
            draws.source.check(f0.shape[0], f0.shape[1], self.harmonics)
        mult = torch.arange(1, self.harmonics + 1, dtype=f0.dtype, device=f0.device)
        rad = (f0 * mult / self.sr) % 1  # (1, N, H+1) cycles per sample
        phase0 = draws.phase(f0.shape[0], self.harmonics).to(f0)
        phase0[:, 0] = 0
        rad = rad.clone()
        rad[:, 0, :] = rad[:, 0, :] + phase0
        low = F.interpolate(rad.transpose(1, 2), scale_factor=1 / self.upsample, mode="linear")
        phase = torch.cumsum(low, dim=2) * 2 * np.pi
        phase = F.interpolate(phase * self.upsample, scale_factor=float(self.upsample), mode="linear")
        sines = torch.sin(phase.transpose(1, 2)) * self.amp
        uv = (f0 > self.threshold).to(f0.dtype)
        noise_amp = uv * self.noise_std + (1 - uv) * self.amp / 3
        b, n, h = sines.shape
        noise = noise_amp * draws.sine_noise(b, n, h).to(f0)
        sines = sines * uv + noise
        draws.extra_noise(b, n)  # upstream's discarded noise branch; keeps the draw order
        return torch.tanh(self.l_linear(sines))


class HiFTGenerator(nn.Module):
    def __init__(self, cfg: HiftConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n_bins = cfg.istft_n_fft // 2 + 1
        self.n_bins = n_bins
        ch = cfg.base_channels
        self.m_source = HarmonicSource(cfg, cfg.samples_per_frame)
        self.conv_pre = _wn_conv(cfg.in_channels, ch, 7, padding=3)
        self.ups = nn.ModuleList()
        for i, (u, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes)):
            conv = nn.ConvTranspose1d(ch // 2 ** i, ch // 2 ** (i + 1), k, u, padding=(k - u) // 2)
            self.ups.append(weight_norm(conv))
        # source injection: downsample the source spectrogram to each stage's rate
        rates = [1] + list(cfg.upsample_rates[::-1][:-1])
        cum = list(np.cumprod(rates))[::-1]
        self.source_downs = nn.ModuleList()
        self.source_resblocks = nn.ModuleList()
        for i, (u, k, d) in enumerate(zip(cum, cfg.source_resblock_kernel_sizes,
                                          cfg.source_resblock_dilation_sizes)):
            cout = ch // 2 ** (i + 1)
            if u == 1:
                self.source_downs.append(nn.Conv1d(2 * n_bins, cout, 1, 1))
            else:
                self.source_downs.append(nn.Conv1d(2 * n_bins, cout, int(u) * 2, int(u), padding=int(u) // 2))
            self.source_resblocks.append(ResBlock(cout, k, list(d)))
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            c = ch // 2 ** (i + 1)
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
                self.resblocks.append(ResBlock(c, k, list(d)))
        self.conv_post = _wn_conv(ch // 2 ** len(self.ups), 2 * n_bins, 7, padding=3)
        self.f0_predictor = F0Predictor(cfg.in_channels, cfg.f0_cond_channels)

    def window(self, like: torch.Tensor) -> torch.Tensor:
        """Periodic Hann = scipy get_window('hann', n, fftbins=True); not a parameter, so built on demand."""
        n = self.cfg.istft_n_fft
        win = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)  # float64 like scipy, then float32
        return torch.from_numpy(win.astype(np.float32)).to(like.device)

    def _stft(self, x: torch.Tensor) -> torch.Tensor:
        n = self.cfg.istft_n_fft
        spec = torch.stft(x, n, self.cfg.istft_hop, n, window=self.window(x).to(x.dtype), return_complex=True)
        spec = torch.view_as_real(spec)
        return torch.cat([spec[..., 0], spec[..., 1]], dim=1)

    def decode(self, mel: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """mel (1, 80, T), source (1, 1, N) → waveform (1, N) clamped to ±audio_limit."""
        s = self._stft(source.squeeze(1))
        x = self.conv_pre(mel)
        n_kernels = len(self.cfg.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, self.cfg.lrelu_slope))
            if i == len(self.ups) - 1:
                x = F.pad(x, (1, 0), mode="reflect")
            x = x + self.source_resblocks[i](self.source_downs[i](s))
            acc = self.resblocks[i * n_kernels](x)
            for j in range(1, n_kernels):
                acc = acc + self.resblocks[i * n_kernels + j](x)
            x = acc / n_kernels
        x = self.conv_post(F.leaky_relu(x))  # default slope 0.01 here (spec §7.8 step 5)
        x = x.float()  # upstream casts magnitude and phase to fp32 before the iSTFT (spec §7.11)
        magnitude = torch.exp(x[:, : self.n_bins]).clamp(max=1e2)
        phase = torch.sin(x[:, self.n_bins:])  # upstream applies sin before using it as a phase
        spec = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        n = self.cfg.istft_n_fft
        wav = torch.istft(spec, n, self.cfg.istft_hop, n, window=self.window(spec))
        return wav.clamp(-self.cfg.audio_limit, self.cfg.audio_limit)

    def source(self, mel: torch.Tensor, randomness: Randomness) -> tuple[torch.Tensor, torch.Tensor]:
        """f0 (1, T) and the harmonic source (1, 1, N) for a mel (1, 80, T)."""
        f0 = self.f0_predictor(mel)
        f0_up = f0[:, :, None].repeat_interleave(self.cfg.samples_per_frame, dim=1)  # nearest ×480
        return f0, self.m_source(f0_up, randomness).transpose(1, 2)

    @torch.inference_mode()
    def infer(self, mel: torch.Tensor, randomness: Randomness) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """mel (1, 80, T) → (waveform (1, 480·T), source (1, 1, 480·T), f0 (1, T)).

        `randomness`: a torch.Generator, a HiftNoise to replay, or a NoiseDraws (which records the draws)."""
        f0, src = self.source(mel, randomness)
        return self.decode(mel, src), src, f0
