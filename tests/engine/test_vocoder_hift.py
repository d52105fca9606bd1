"""HiFT pieces: harmonic source (draw order, phase integration), f0 upsampling, iSTFT head length."""
from __future__ import annotations

import numpy as np
import torch

from stepaudio_engine.vocoder.config import HiftConfig
from stepaudio_engine.vocoder.hift import HarmonicSource, HiFTGenerator


def _source(weight0_only: bool) -> HarmonicSource:
    src = HarmonicSource(HiftConfig(), upsample=480)
    with torch.no_grad():
        src.l_linear.weight.zero_()
        src.l_linear.bias.zero_()
        if weight0_only:
            src.l_linear.weight[0, 0] = 1.0
        else:
            src.l_linear.weight.fill_(0.5)
    return src


def test_unvoiced_source_is_replayable_noise() -> None:
    n = 480 * 6
    src = _source(weight0_only=False)
    with torch.no_grad():
        out = src(torch.zeros(1, n, 1), torch.Generator().manual_seed(5))
    replay = torch.Generator().manual_seed(5)
    torch.rand(1, 9, generator=replay)                      # initial phases
    # upstream's randn_like fills a (1, 9, N)-laid-out tensor element-wise; a plain randn(1, N, 9) differs
    noise = torch.empty(1, 9, n).transpose(1, 2).normal_(generator=replay) * (0.1 / 3)  # sine_amp / 3
    expected = torch.tanh(noise.sum(-1, keepdim=True) * 0.5)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_voiced_fundamental_is_a_sine_at_f0() -> None:
    n, f0 = 480 * 20, 200.0
    src = _source(weight0_only=True)  # keep only the fundamental (its initial phase is forced to 0)
    with torch.no_grad():
        out = src(torch.full((1, n, 1), f0), torch.Generator().manual_seed(0))[0, :, 0].numpy()
    k = np.arange(n)
    # phase summed per frame then linearly interpolated: 2·pi·f0·(k + 240.5)/sr away from the edges
    expected = np.tanh(0.1 * np.sin(2 * np.pi * f0 * (k + 240.5) / 24000))
    inner = slice(480, n - 480)
    assert np.abs(out[inner] - expected[inner]).max() < 0.015  # voiced noise std is 0.003


def test_generator_lengths_and_limit() -> None:
    cfg = HiftConfig(base_channels=16, f0_cond_channels=8)
    torch.manual_seed(0)
    model = HiFTGenerator(cfg).eval()
    mel = torch.randn(1, 80, 7)
    wav, source, f0 = model.infer(mel, torch.Generator().manual_seed(1))
    assert wav.shape == (1, 480 * 7) and source.shape == (1, 1, 480 * 7) and f0.shape == (1, 7)
    assert torch.all(f0 >= 0) and wav.abs().max() <= 0.99


def test_our_weight_norm_equals_torchs_and_builds_on_meta_without_dynamo():
    import subprocess
    import sys

    from torch.nn.utils.parametrizations import weight_norm as torch_weight_norm

    from stepaudio_engine.vocoder.weight_norm import weight_norm as our_weight_norm

    for make in (lambda: torch.nn.Conv1d(6, 4, 3), lambda: torch.nn.ConvTranspose1d(6, 4, 5, 2)):
        torch.manual_seed(0)
        theirs = torch_weight_norm(make())
        torch.manual_seed(0)
        ours = our_weight_norm(make())
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for key, value in theirs.state_dict().items():
            torch.testing.assert_close(ours.state_dict()[key], value, rtol=0, atol=0)
        with torch.no_grad():
            ours.parametrizations.weight.original0.mul_(1.7)
            theirs.parametrizations.weight.original0.mul_(1.7)
        torch.testing.assert_close(ours.weight, theirs.weight, rtol=0, atol=0)
    # building the whole HiFT on meta must not import torch._dynamo (~0.9 s and ~70 MiB per worker load)
    code = ("import sys, torch\n"
            "from stepaudio_engine.meta import build_meta\n"
            "from stepaudio_engine.vocoder.config import HiftConfig\n"
            "from stepaudio_engine.vocoder.hift import HiFTGenerator\n"
            "build_meta(lambda: HiFTGenerator(HiftConfig()))\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
