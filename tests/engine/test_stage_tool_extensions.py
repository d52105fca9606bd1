"""The stage tool's additions for upstream parity checks (docs/engine/*.md "Stage tool"): the reference
chunk-loop vq02 encoder and the raw decoded audio in `tokenize`, per-call encoder lengths, the projected speaker
embedding, the flow conditioning and first estimator output and ready-made prompt features in `vocode`, HiFT
noise under upstream's names, per-step top-k logits and the release's sampling profile in `generate`."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from stepaudio_engine.stages.__main__ import main


def test_tokenize_loop_encoder_raw_audio_and_call_lengths(tmp_path, tiny_models):
    rng = np.random.default_rng(0)
    stereo = (rng.standard_normal((16000 * 2, 2)) * 0.4).astype(np.float32)
    sf.write(tmp_path / "in.wav", stereo, 16000, subtype="FLOAT")
    outs = {}
    for form in ("batched", "loop"):
        out = outs[form] = tmp_path / form
        assert main(["tokenize", "--models", str(tiny_models), "--audio", str(tmp_path / "in.wav"), "--out", str(out),
                     "--vq02-encoder", form]) == 0
        assert json.loads((out / "meta.json").read_text())["vq02_encoder"] == form
    loaded = np.load(outs["loop"] / "00_loaded.npy")
    assert loaded.shape == (2, 32000) and np.array_equal(loaded, stereo.T)   # before mixing and the 0.6 cap
    calls = np.load(outs["loop"] / "06_vq02_calls.npy")
    assert calls.dtype == np.int64 and calls.shape[1] == 2
    assert calls[:, 0].sum() == np.load(outs["loop"] / "05_vq02_feats.npy").shape[0]
    assert (calls[:, 1] >= calls[:, 0]).all()                         # cache + overlap + the chunk's rows
    assert np.array_equal(calls, np.load(outs["batched"] / "06_vq02_calls.npy"))
    np.testing.assert_allclose(np.load(outs["loop"] / "06_vq02_encoder.npy"),
                               np.load(outs["batched"] / "06_vq02_encoder.npy"), atol=1e-4)


@pytest.fixture(scope="module")
def vocode_run(tmp_path_factory, tiny_models) -> dict:
    work = tmp_path_factory.mktemp("voc")
    llm = tiny_models / "Step-Audio-EditX"
    t = np.arange(16000) / 16000
    sf.write(work / "p.wav", 0.5 * np.sin(2 * np.pi * 220 * t), 16000)
    rng = np.random.default_rng(0)
    mixed = lambda n: np.array([rng.integers(0, 1024) if i % 5 < 2 else rng.integers(1024, 5120)  # noqa: E731
                                for i in range(n)], dtype=np.int64)
    np.save(work / "t.npy", mixed(10))
    np.save(work / "pt.npy", mixed(10))
    common = ["vocode", "--model-dir", str(llm), "--tokens", str(work / "t.npy"), "--prompt-tokens",
              str(work / "pt.npy"), "--seed", "3"]
    assert main([*common, "--prompt-wav", str(work / "p.wav"), "--out", str(work / "a")]) == 0
    return {"work": work, "common": common}


def test_vocode_writes_speaker_projection_cond_and_first_estimate(vocode_run):
    out = vocode_run["work"] / "a"
    frames = np.load(out / "encoder_out.npy").shape[0]
    assert np.load(out / "speaker_projected.npy").shape == (80,)
    cond = np.load(out / "flow_cond.npy")
    prompt = np.load(out / "prompt_feat_aligned.npy")
    assert cond.shape == (80, frames) and np.array_equal(cond[:, :prompt.shape[0]], prompt.T)
    assert not cond[:, prompt.shape[0]:].any()
    first = np.load(out / "first_estimate.npy")
    assert first.shape == (2, 80, frames) and np.isfinite(first).all()


def test_vocode_takes_ready_made_prompt_features_and_upstream_noise_names(vocode_run):
    work, common = vocode_run["work"], vocode_run["common"]
    a = work / "a"
    noise = np.load(a / "hift_noise.npz")
    np.savez(work / "upstream_names.npz", rand_ini=noise["phase"], sine_randn=noise["sine_noise"],
             source_randn=noise["extra_noise"])
    # features from the folder the first run wrote, noise under upstream's names: the same waveform
    assert main([*common, "--prompt-features", str(a), "--hift-noise", str(work / "upstream_names.npz"),
                 "--out", str(work / "b")]) == 0
    assert np.array_equal(np.load(work / "b" / "wav.npy"), np.load(a / "wav.npy"))
    assert not (work / "b" / "campplus_fbank.npy").exists()
    np.savez(work / "feats.npz", speech_feat=np.load(a / "prompt_mel.npy"),
             embedding=np.load(a / "speaker_embedding.npy"))
    assert main([*common, "--prompt-features", str(work / "feats.npz"), "--out", str(work / "c")]) == 0
    assert np.array_equal(np.load(work / "c" / "wav.npy"), np.load(a / "wav.npy"))
    np.savez(work / "bad.npz", speech_feat=np.zeros((5, 80), np.float32))
    assert main([*common, "--prompt-features", str(work / "bad.npz"), "--out", str(work / "d")]) == 1


def test_generate_writes_per_step_top_k_and_uses_the_release_profile(tmp_path, tiny_models):
    llm = tiny_models / "Step-Audio-EditX"
    np.save(tmp_path / "audio.npy", np.asarray([1, 2, 1034, 1035, 1036], dtype=np.int64))
    assert main(["prompt", "--llm-dir", str(llm), "--mode", "clone", "--audio-tokens", str(tmp_path / "audio.npy"),
                 "--ref-text", "hi", "--speaker-id", "clone_0", "--text", "はい", "--language", "japanese",
                 "--out", str(tmp_path / "p.npy")]) == 0
    for release in ("2025-11", "2026-01"):
        out = tmp_path / release
        assert main(["generate", "--llm-dir", str(llm), "--prompt", str(tmp_path / "p.npy"), "--sample", "6",
                     "--seed", "1", "--release", release, "--top-k", "5", "--all-logits", "--out", str(out)]) == 0
        ids = np.load(out / "generated_ids.npy")
        top, values = np.load(out / "step_topk_ids.npy"), np.load(out / "step_topk_logits.npy")
        full, lse = np.load(out / "step_logits.npy"), np.load(out / "step_logsumexp.npy")
        assert top.shape == values.shape == (len(ids), 5) and full.shape == (len(ids), 74752)
        assert np.array_equal(np.argsort(-full, axis=1, kind="stable")[:, 0], top[:, 0])
        np.testing.assert_allclose(np.take_along_axis(full, top, 1), values)
        np.testing.assert_allclose(lse, np.log(np.exp(full - full.max(1, keepdims=True)).sum(1)) + full.max(1),
                                   rtol=1e-5)
        meta = json.loads((out / "meta.json").read_text())
        assert meta["release"] == release and meta["top_k"] == (50 if release == "2025-11" else 0)
        assert meta["repetition_ban"] == (release == "2025-11")
    assert json.loads((tmp_path / "2025-11" / "meta.json").read_text())["drop_last"] == "always"
