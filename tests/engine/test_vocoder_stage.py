"""Stage tool `vocode` on the tiny model: every documented file is written with the documented shape."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from stepaudio_engine.stages.__main__ import main
from stepaudio_engine.tiny.vocoder import write_tiny_vocoder
from stepaudio_engine.vocoder.config import HiftConfig
from stepaudio_engine.vocoder.hift import HarmonicSource
from stepaudio_engine.vocoder.hift_noise import HiftNoise, NoiseDraws, load_hift_noise


def test_vocode_stage_writes_documented_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    llm = tmp_path / "Step-Audio-EditX"
    write_tiny_vocoder(llm, seed=1)
    sr = 16000
    t = np.arange(sr) / sr
    sf.write(tmp_path / "p.wav", 0.9 * np.sin(2 * np.pi * 200 * t), sr)
    rng = np.random.default_rng(0)
    mixed = lambda n: np.array([rng.integers(0, 1024) if i % 5 < 2 else rng.integers(1024, 5120)  # noqa: E731
                                for i in range(n)], dtype=np.int64)
    np.save(tmp_path / "t.npy", mixed(12))   # G = 3 (last group padded)
    np.save(tmp_path / "pt.npy", mixed(10))  # Gp = 2
    out = tmp_path / "out"
    rc = main(["vocode", "--model-dir", str(llm), "--tokens", str(tmp_path / "t.npy"),
               "--prompt-wav", str(tmp_path / "p.wav"), "--prompt-tokens", str(tmp_path / "pt.npy"),
               "--out", str(out), "--seed", "3"])
    assert rc == 0
    G, Gp = 3, 2
    expected = {
        "prompt_mel": ((50, 80), np.float32),
        "campplus_fbank": ((98, 80), np.float32),
        "speaker_embedding": ((192,), np.float32),
        "flow_tokens": ((3 * G, 2), np.int64),
        "flow_prompt_tokens": ((3 * Gp, 2), np.int64),
        "prompt_feat_aligned": ((6 * Gp, 80), np.float32),
        "encoder_out": ((6 * Gp + 6 * G, 80), np.float32),
        "mel": ((80, 6 * G), np.float32),
        "f0": ((6 * G,), np.float32),
        "hift_source": ((2880 * G,), np.float32),
        "wav": ((2880 * G,), np.float32),
    }
    for name, (shape, dtype) in expected.items():
        arr = np.load(out / f"{name}.npy")
        assert arr.shape == shape and arr.dtype == dtype, name
    audio, rate = sf.read(out / "output.wav")
    assert rate == 24000 and audio.shape == (2880 * G,)


# ---- noise injection (--flow-noise, --hift-noise) ------------------------------------------------------------

@pytest.fixture(scope="module")
def stage_inputs(tmp_path_factory) -> dict:
    """Tiny vocoder, a prompt WAV, token files (G = 2 generated groups, Gp = 2 prompt groups) and one
    reference run with --seed 3 whose recorded noise the tests inject."""
    root = tmp_path_factory.mktemp("noise")
    llm = root / "Step-Audio-EditX"
    write_tiny_vocoder(llm, seed=2)
    sr = 16000
    t = np.arange(sr) / sr
    sf.write(root / "p.wav", 0.5 * np.sin(2 * np.pi * 150 * t), sr)
    rng = np.random.default_rng(1)
    mixed = lambda n: np.array([rng.integers(0, 1024) if i % 5 < 2 else rng.integers(1024, 5120)  # noqa: E731
                                for i in range(n)], dtype=np.int64)
    np.save(root / "t.npy", mixed(10))
    np.save(root / "pt.npy", mixed(10))
    inputs = {"root": root, "llm": llm}
    rc, inputs["ref"] = _vocode(inputs, "ref", "--seed", "3")
    assert rc == 0
    return inputs


def _vocode(inputs: dict, out: str, *extra: str) -> tuple[int, Path]:
    root = inputs["root"]
    rc = main(["vocode", "--model-dir", str(inputs["llm"]), "--tokens", str(root / "t.npy"),
               "--prompt-wav", str(root / "p.wav"), "--prompt-tokens", str(root / "pt.npy"),
               "--out", str(root / out), *extra])
    return rc, root / out


def _same(a: Path, b: Path, name: str) -> bool:
    return np.array_equal(np.load(a / f"{name}.npy"), np.load(b / f"{name}.npy"))


def test_recorded_noise_files_have_the_documented_shapes_and_replay_the_seed(stage_inputs: dict) -> None:
    out, n = stage_inputs["ref"], 2880 * 2
    assert np.load(out / "flow_noise.npy").shape == (1, 80, 6 * 2 + 6 * 2)
    with np.load(out / "hift_noise.npz") as draws:
        assert draws["phase"].shape == (1, 9) and draws["sine_noise"].shape == (1, n, 9)
        assert draws["extra_noise"].shape == (1, n, 1)
        # what a torch.Generator seeded 3 yields in HiFT's draw order (hift_noise.py docstring)
        gen = torch.Generator().manual_seed(3)
        np.testing.assert_array_equal(draws["phase"], torch.rand(1, 9, generator=gen).numpy())
        sine = torch.empty(1, 9, n).transpose(1, 2).normal_(generator=gen)
        np.testing.assert_array_equal(draws["sine_noise"], sine.numpy())
        np.testing.assert_array_equal(draws["extra_noise"], torch.randn(1, n, 1, generator=gen).numpy())


def test_noise_file_forms_load_to_the_same_draws(stage_inputs: dict, tmp_path: Path) -> None:
    named = load_hift_noise(stage_inputs["ref"] / "hift_noise.npz")
    phase, sine = named.phase.numpy(), named.sine_noise.numpy()
    folder = tmp_path / "draws"
    folder.mkdir()
    np.save(folder / "phase.npy", phase)
    np.save(folder / "sine_noise.npy", sine)
    np.savez(tmp_path / "positional.npz", phase[0], sine[0])  # draw order, batch axis left out
    for source in (folder, tmp_path / "positional.npz"):
        other = load_hift_noise(source)
        assert torch.equal(other.phase, named.phase) and torch.equal(other.sine_noise, named.sine_noise)
        assert other.extra_noise is None


def test_same_injected_hift_noise_gives_identical_output_and_different_noise_differs(
        stage_inputs: dict, tmp_path: Path) -> None:
    ref = stage_inputs["ref"]
    # the seed is ignored when noise is injected: another seed with the recorded draws reproduces the run
    rc, replay = _vocode(stage_inputs, "h_replay", "--seed", "99", "--hift-noise", str(ref / "hift_noise.npz"))
    assert rc == 0
    for name in ("mel", "f0", "hift_source", "wav"):
        assert _same(ref, replay, name), name
    # a folder of .npy files without the (unused) extra draw works the same way
    with np.load(ref / "hift_noise.npz") as d:
        phase, sine = d["phase"], d["sine_noise"]
    np.save(tmp_path / "phase.npy", phase)
    np.save(tmp_path / "sine_noise.npy", sine)
    rc, folder = _vocode(stage_inputs, "h_folder", "--seed", "5", "--hift-noise", str(tmp_path))
    assert rc == 0 and _same(ref, folder, "wav")
    # other sine noise: same mel (the flow does not see it), other waveform
    np.savez(tmp_path / "sine.npz", phase=phase, sine_noise=sine[:, ::-1].copy())
    rc, other = _vocode(stage_inputs, "h_sine", "--hift-noise", str(tmp_path / "sine.npz"))
    assert rc == 0 and _same(ref, other, "mel") and not _same(ref, other, "wav")


def test_phase_draw_is_dead_and_sine_noise_is_live_on_a_voiced_source() -> None:
    # The initial phases are added to sample 0 only, and the ×1/480 linear downsampling (align_corners=False)
    # reads samples 239/240, 719/720, …: sample 0 never reaches the output, here as upstream
    # (docs/engine/vocoder.md#hift
    # step 3). The draw still matters for the generator state, so it is kept and recorded.
    src = HarmonicSource(HiftConfig(), upsample=480)
    f0 = torch.full((1, 480 * 4, 1), 220.0)  # voiced: sines carry the phases
    draws = NoiseDraws(torch.Generator().manual_seed(4))
    with torch.no_grad():
        first = src(f0, draws)
        rec = draws.recorded
        again = src(f0, rec)
        shifted = src(f0, HiftNoise((rec.phase + 0.25) % 1, rec.sine_noise))
        other = src(f0, HiftNoise(rec.phase, torch.randn(rec.sine_noise.shape, generator=torch.Generator())))
    assert torch.equal(first, again) and torch.equal(first, shifted) and not torch.allclose(first, other)


def test_same_injected_flow_noise_gives_identical_output_and_different_noise_differs(
        stage_inputs: dict, tmp_path: Path) -> None:
    ref = stage_inputs["ref"]
    # the built-in buffer's prefix, injected, reproduces the default run
    rc, same = _vocode(stage_inputs, "f_same", "--seed", "3", "--flow-noise", str(ref / "flow_noise.npy"))
    assert rc == 0 and _same(ref, same, "mel") and _same(ref, same, "wav")
    noise = np.random.default_rng(7).standard_normal((80, 40)).astype(np.float32)  # 2-D form, longer than needed
    np.save(tmp_path / "other.npy", noise)
    rc, other = _vocode(stage_inputs, "f_other", "--seed", "3", "--flow-noise", str(tmp_path / "other.npy"))
    assert rc == 0 and not _same(ref, other, "mel")
    np.testing.assert_array_equal(np.load(other / "flow_noise.npy")[0], noise[:, :24])  # first 6Gp+6G columns
    assert _same(ref, other, "encoder_out")  # the noise enters after the encoder


def test_bad_injected_noise_is_reported_not_a_traceback(stage_inputs: dict, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    np.save(tmp_path / "short.npy", np.zeros((1, 80, 10), np.float32))
    rc, _ = _vocode(stage_inputs, "bad1", "--flow-noise", str(tmp_path / "short.npy"))
    assert rc == 1 and "F ≥ 24" in capsys.readouterr().err
    np.savez(tmp_path / "wrong.npz", phase=np.zeros((1, 9), np.float32),
             sine_noise=np.zeros((1, 100, 9), np.float32))
    rc, _ = _vocode(stage_inputs, "bad2", "--hift-noise", str(tmp_path / "wrong.npz"))
    err = capsys.readouterr().err
    assert rc == 1 and "sine_noise" in err and "(1, 5760, 9)" in err
    np.savez(tmp_path / "lacking.npz", phase=np.zeros((1, 9), np.float32))
    rc, _ = _vocode(stage_inputs, "bad3", "--hift-noise", str(tmp_path / "lacking.npz"))
    assert rc == 1 and "lacks sine_noise" in capsys.readouterr().err
