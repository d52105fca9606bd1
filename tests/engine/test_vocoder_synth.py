"""End to end on the tiny vocoder folder: lengths, finiteness, determinism, cancel, progress, errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stepaudio_engine.api import CancelToken, EngineError, Reason
from stepaudio_engine.tiny.vocoder import write_tiny_vocoder
from stepaudio_engine.vocoder import PromptFeatures, Vocoder


def _tokens(groups: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for _ in range(groups):
        out += rng.integers(0, 1024, 2).tolist() + rng.integers(1024, 5120, 3).tolist()
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_vocoder(tmp_path_factory.mktemp("tiny"), seed=0)


@pytest.fixture(scope="module")
def vocoder(folder: Path) -> Vocoder:
    return Vocoder(folder)


@pytest.fixture(scope="module")
def features(vocoder: Vocoder) -> PromptFeatures:
    sr = 22050
    t = np.arange(int(sr * 1.5)) / sr
    wav = (0.5 * np.sin(2 * np.pi * 160 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t)) / 1.3).astype(np.float32)
    return vocoder.prompt_features(wav, sr)


def test_prompt_features_shapes(features: PromptFeatures) -> None:
    assert features.speech_feat.dtype == np.float32 and features.embedding.dtype == np.float32
    assert features.speech_feat.shape == (int(22050 * 1.5) * 24000 // 22050 // 480, 80)
    assert features.embedding.shape == (192,)
    back = PromptFeatures.from_dict({k: v.tolist() for k, v in features.to_dict().items()})  # JSON-able form
    np.testing.assert_array_equal(back.speech_feat, features.speech_feat)
    np.testing.assert_array_equal(back.embedding, features.embedding)


@pytest.mark.parametrize("n_tokens", [5, 23, 24])
def test_output_length_and_range(vocoder: Vocoder, features: PromptFeatures, n_tokens: int) -> None:
    wav = vocoder.synthesize(_tokens(5, 1)[:n_tokens], _tokens(6, 2), features, seed=0)
    groups = -(-n_tokens // 5)
    assert wav.dtype == np.float32 and wav.shape == (2880 * groups,)  # docs/engine/audio.md#input-length-and-rates
    assert np.all(np.isfinite(wav))
    assert np.abs(wav).max() <= 0.99 + 1e-6
    assert np.sqrt(np.mean(wav ** 2)) > 1e-4  # noise, but not silence


def test_deterministic_under_seed(vocoder: Vocoder, features: PromptFeatures) -> None:
    toks, prompt = _tokens(4, 3), _tokens(5, 4)
    a = vocoder.synthesize(toks, prompt, features, seed=7)
    b = vocoder.synthesize(toks, prompt, features, seed=7)
    c = vocoder.synthesize(toks, prompt, features, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)  # HiFT's source noise follows the seed


def test_prompt_conditions_the_output(vocoder: Vocoder, features: PromptFeatures) -> None:
    toks = _tokens(3, 5)
    a = vocoder.run(toks, _tokens(4, 6), features, seed=0)
    b = vocoder.run(toks, _tokens(4, 9), features, seed=0)
    assert a.mel.shape == (80, 18) and a.encoder_out.shape == (2 * (12 + 9), 80)
    assert not np.allclose(a.mel, b.mel)
    c = vocoder.run(toks, [], features, seed=0)  # no prompt tokens: unconditioned prompt part
    assert c.wav.shape == (3 * 2880,) and np.all(np.isfinite(c.wav))


def test_progress_per_euler_step(vocoder: Vocoder, features: PromptFeatures) -> None:
    seen: list[tuple[str, float]] = []
    vocoder.synthesize(_tokens(2, 1), _tokens(2, 2), features, progress=lambda s, f, d: seen.append((s, f)), seed=0)
    assert [s for s, _ in seen] == ["vocoding"] * 10
    np.testing.assert_allclose([f for _, f in seen], np.arange(1, 11) / 10)


def test_cancel_between_euler_steps(vocoder: Vocoder, features: PromptFeatures) -> None:
    cancel = CancelToken()
    steps: list[float] = []

    def progress(stage: str, fraction: float, detail: dict) -> None:
        steps.append(fraction)
        if len(steps) == 3:
            cancel.set()

    with pytest.raises(EngineError) as err:
        vocoder.synthesize(_tokens(2, 1), _tokens(2, 2), features, cancel=cancel, progress=progress, seed=0)
    assert err.value.reason == Reason.CANCELLED
    assert len(steps) == 3  # stopped right after the step that saw the flag


def test_bad_inputs(vocoder: Vocoder, features: PromptFeatures) -> None:
    for tokens in ([], [1, 2, 1024, 1025, 99999]):
        with pytest.raises(EngineError) as err:
            vocoder.synthesize(tokens, _tokens(1, 0), features)
        assert err.value.reason == Reason.BAD_INPUT
    with pytest.raises(EngineError) as err:
        vocoder.prompt_features(np.zeros(0, np.float32), 16000)
    assert err.value.reason == Reason.BAD_INPUT


def test_missing_files_are_named(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "cosyvoice.yaml").write_text((folder / "cosyvoice.yaml").read_text())
    with pytest.raises(EngineError) as err:
        Vocoder(tmp_path)
    assert err.value.reason == Reason.MODEL_MISSING
    assert "flow.pt, hift.pt, campplus.onnx" in err.value.message


def test_memory_and_to(vocoder: Vocoder) -> None:
    assert vocoder.memory_bytes() > 0
    assert vocoder.to("cpu") is vocoder


def test_tiny_writer_is_deterministic_and_small(folder: Path, tmp_path: Path) -> None:
    import torch

    other = write_tiny_vocoder(tmp_path, seed=0)
    for name in ("flow.pt", "hift.pt"):
        a = torch.load(folder / name, weights_only=True)
        b = torch.load(other / name, weights_only=True)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (folder / "campplus.onnx").read_bytes() == (other / "campplus.onnx").read_bytes()
    assert (folder / "cosyvoice.yaml").read_text() == (other / "cosyvoice.yaml").read_text()
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total < 30 * 2 ** 20


def test_bad_features_are_rejected(vocoder: Vocoder, features: PromptFeatures) -> None:
    bad = [PromptFeatures(features.speech_feat, features.embedding[:100]),
           PromptFeatures(features.speech_feat[:, :40], features.embedding)]
    for feats in bad:
        with pytest.raises(EngineError) as err:
            vocoder.synthesize(_tokens(1, 0), _tokens(1, 1), feats)
        assert err.value.reason == Reason.BAD_INPUT
