"""Our numpy statements of librosa's Slaney mel filters and silence trim (stepaudio_engine/dsp.py) against
librosa itself: exact equality, on the configurations the engine uses and on random signals."""
from __future__ import annotations

import numpy as np
import pytest

from stepaudio_engine.dsp import frame_db, nonsilent_span, slaney_mel_filters

librosa = pytest.importorskip("librosa", reason="librosa is the reference (test extra)")


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", [
    (16000, 400, 128, 0.0, None),        # vq06 (whisper's mel_filters.npz)
    (16000, 400, 80, 0.0, None),
    (24000, 1920, 80, 0.0, 8000.0),      # prompt mel (CosyVoice matcha front end)
    (22050, 1024, 40, 300.0, 9000.0),    # a log-region-only lower edge
])
def test_mel_filters_equal_librosa_bit_for_bit(sr, n_fft, n_mels, fmin, fmax):
    ours = slaney_mel_filters(sr, n_fft, n_mels, fmin, fmax)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


def _signals():
    rng = np.random.default_rng(7)
    sr = 16000
    for n in (600, 4000, 16000, 16000 * 3 + 77):
        t = np.arange(n) / sr
        burst = np.zeros(n, np.float32)
        a, b = sorted(rng.integers(0, n, 2))
        burst[a:b + 1] = 0.5 * np.sin(2 * np.pi * rng.uniform(100, 900) * t[a:b + 1])
        yield burst + 1e-3 * rng.standard_normal(n).astype(np.float32)
        yield (rng.standard_normal(n) * np.linspace(0, 1, n) ** 4).astype(np.float32)  # slow fade-in
    yield np.zeros(5000, np.float32)


@pytest.mark.parametrize("i, x", list(enumerate(_signals())))
def test_nonsilent_span_equals_librosa_trim(i, x):
    for top_db, frame, hop in ((20, 512, 128), (60, 2048, 512)):
        _, (start, end) = librosa.effects.trim(x, top_db=top_db, frame_length=frame, hop_length=hop)
        assert nonsilent_span(x, top_db, frame, hop) == (int(start), int(end))


def test_frame_db_is_relative_to_the_loudest_frame():
    x = np.concatenate([np.zeros(1024), 0.1 * np.ones(2048), np.ones(2048)]).astype(np.float32)
    db = frame_db(x, 512, 256)
    assert db.max() == 0.0
    np.testing.assert_allclose(db[8], -20.0, atol=1e-4)   # inside the 0.1 part: 20 dB below the 1.0 part
    assert db[0] <= -80.0                                   # zero padding + zeros: at the amin floor
