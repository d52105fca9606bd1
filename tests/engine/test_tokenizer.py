"""Dual audio tokenizer: front ends, interleaving rules, the tiny folder end to end, errors
(docs/engine/tokenizer.md#upstream-facts-we-rely-on-with-sources)."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from stepaudio_engine.api import CancelToken, EngineError, Reason
from stepaudio_engine.tiny.tokenizer import TINY_DIM, write_tiny_tokenizer
from stepaudio_engine.tokenizer import AudioTokens, DualTokenizer
from stepaudio_engine.tokenizer.interleave import (interleave, parse_audio_str, split_prompt_tokens, to_audio_str,
                                                   to_llm_ids)



@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_tiny_tokenizer(root, seed=0)
    return root


@pytest.fixture(scope="module")
def tokenizer(tiny_root) -> DualTokenizer:
    return DualTokenizer(tiny_root / "Step-Audio-Tokenizer")


def _speechlike(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Amplitude-modulated harmonics with noise, silence at both ends; peak <= 0.6 like load_audio output."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f * t + rng.random() * 6) / k for k, f in enumerate((180, 360, 540, 900), 1))
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(len(t))
    x[: sr // 4] = 0
    x[-sr // 4:] = 0
    return (0.6 * x / np.abs(x).max()).astype(np.float32)


# --- interleaving (exact) ---------------------------------------------------------------------------------


def test_interleave_spec_example():
    tokens = interleave([1, 2, 3, 4], [10, 11, 12, 13, 14, 15])
    assert tokens == [1, 2, 1034, 1035, 1036, 3, 4, 1037, 1038, 1039]
    assert to_audio_str(tokens) == ("<audio_1><audio_2><audio_1034><audio_1035><audio_1036>"
                                    "<audio_3><audio_4><audio_1037><audio_1038><audio_1039>")
    assert to_llm_ids(tokens)[:3] == [65537, 65538, 66570]


@pytest.mark.parametrize("n02,n06,groups", [(5, 9, 2), (6, 7, 2), (0, 9, 0), (4, 2, 0), (10, 15, 5)])
def test_interleave_truncates_to_whole_groups(n02, n06, groups):
    tokens = interleave(list(range(n02)), list(range(n06)))
    assert len(tokens) == 5 * groups


def test_interleave_round_trip():
    rng = np.random.default_rng(3)
    vq02, vq06 = rng.integers(0, 1024, 8).tolist(), rng.integers(0, 4096, 12).tolist()
    tokens = interleave(vq02, vq06)
    assert parse_audio_str(to_audio_str(tokens)) == tokens
    assert split_prompt_tokens(tokens) == (vq02, vq06)
    assert max(tokens) < 5120 and min(to_llm_ids(tokens)) >= 65536


def test_audio_tokens_dict_round_trip():
    tokens = AudioTokens.from_codes(np.array([5, 6, 7]), np.array([1, 2, 3, 4]))
    data = json.loads(json.dumps(tokens.to_dict()))
    back = AudioTokens.from_dict(data)
    assert back.prompt_tokens == tokens.prompt_tokens == [5, 6, 1025, 1026, 1027]
    assert back.audio_str == tokens.audio_str and back.llm_ids == tokens.llm_ids
    assert back.vq02.dtype == np.int64 and back.vq06.tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError):
        AudioTokens.from_dict({**data, "format": 999})


# --- vq06 log-mel against whisper's definition ------------------------------------------------------------


def _whisper_log_mel_numpy(x: np.ndarray) -> np.ndarray:
    """Direct numpy statement of whisper.log_mel_spectrogram(n_mels=128) in float64."""
    import librosa

    n_fft, hop = 400, 160
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)      # periodic Hann
    padded = np.pad(x.astype(np.float64), n_fft // 2, mode="reflect")
    n_frames = 1 + (len(padded) - n_fft) // hop
    frames = np.stack([padded[i * hop:i * hop + n_fft] for i in range(n_frames)])
    power = np.abs(np.fft.rfft(frames * window, axis=1)).T ** 2
    power = power[:, :-1]                                                      # drop the last frame
    mel = librosa.filters.mel(sr=16000, n_fft=400, n_mels=128).astype(np.float64) @ power
    logs = np.log10(np.maximum(mel, 1e-10))
    logs = np.maximum(logs, logs.max() - 8.0)
    return (logs + 4.0) / 4.0


@pytest.mark.parametrize("n", [479 * 3, 16000, 16000 + 77])
def test_vq06_log_mel_matches_whisper_definition(n):
    from stepaudio_engine.tokenizer.vq06 import log_mel

    x = _speechlike(n / 16000 + 0.6, 16000, seed=n)[:n]
    ours = log_mel(x)
    ref = _whisper_log_mel_numpy(x)
    assert ours.shape == (128, n // 160) == ref.shape
    assert ours.dtype == np.float32
    assert np.max(np.abs(ours - ref)) < 1e-4


# --- vq02 front end ---------------------------------------------------------------------------------------


def test_kaldi_fbank_matches_kaldi_native_fbank():
    knf = pytest.importorskip("kaldi_native_fbank")
    import torch

    from stepaudio_engine.kaldi_fbank import kaldi_fbank

    x = _speechlike(1.0, 16000, seed=7)
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.window_type = "hamming"
    opts.frame_opts.samp_freq = 16000
    opts.mel_opts.num_bins = 80
    opts.energy_floor = 0.0
    online = knf.OnlineFbank(opts)
    online.accept_waveform(16000, (x * 32768).tolist())
    online.input_finished()
    ref = np.stack([online.get_frame(i) for i in range(online.num_frames_ready)])
    ours = kaldi_fbank(torch.from_numpy(x)).numpy()
    assert ours.shape == ref.shape == (1 + (len(x) - 400) // 160, 80)
    assert np.max(np.abs(ours - ref)) < 1e-3


def _offline_lfr(fbank: np.ndarray, m: int = 7, n: int = 6) -> np.ndarray:
    """LFR of a whole utterance: 3 copies of frame 0 in front, windows of 7 with stride 6, edge replication."""
    padded = np.concatenate([np.repeat(fbank[:1], (m - 1) // 2, 0), fbank])
    count = math.ceil(fbank.shape[0] / n)
    rows = []
    for i in range(count):
        window = padded[i * n:i * n + m]
        if len(window) < m:
            window = np.concatenate([window, np.repeat(padded[-1:], m - len(window), 0)])
        rows.append(window.reshape(-1))
    return np.stack(rows)


@pytest.mark.parametrize("n_samples", [3840 * 3 + 1000, 3840 * 5 + 200, 3840 * 2 + 3000])
def test_streaming_frontend_equals_offline_lfr(n_samples):
    import torch

    from stepaudio_engine.kaldi_fbank import kaldi_fbank
    from stepaudio_engine.tokenizer.fbank import FrontendOptions
    from stepaudio_engine.tokenizer.vq02 import StreamingFrontend

    x = torch.from_numpy(_speechlike(n_samples / 16000 + 0.6, 16000, seed=n_samples)[:n_samples])
    shift, scale = np.zeros(560, np.float32), np.ones(560, np.float32)
    frontend = StreamingFrontend(FrontendOptions(), shift, scale)
    n_chunks = n_samples // 3840 + 1
    pieces = [frontend.feed(x[i * 3840:(i + 1) * 3840], i == n_chunks - 1) for i in range(n_chunks)]
    streamed = torch.cat(pieces).numpy()
    offline = _offline_lfr(kaldi_fbank(x).numpy())
    assert streamed.shape == offline.shape
    np.testing.assert_allclose(streamed, offline, atol=1e-4)
    assert [p.shape[0] for p in pieces[:-1]] == [4] * (n_chunks - 1)   # 240 ms -> 4 LFR frames


@settings(max_examples=25, deadline=None)
@given(n_samples=st.integers(min_value=400, max_value=3840 * 6))
def test_streaming_frontend_is_a_prefix_of_offline_lfr(n_samples):
    """For any length, the streamed features equal offline LFR except that the short-final-chunk rule may
    drop the last window (never more than one)."""
    import torch

    from stepaudio_engine.kaldi_fbank import kaldi_fbank
    from stepaudio_engine.tokenizer.fbank import FrontendOptions
    from stepaudio_engine.tokenizer.vq02 import StreamingFrontend

    x = torch.from_numpy(_speechlike(3840 * 6 / 16000 + 0.6, 16000, seed=1)[:n_samples] + np.float32(0.01))
    frontend = StreamingFrontend(FrontendOptions(), np.zeros(560, np.float32), np.ones(560, np.float32))
    n_chunks = n_samples // 3840 + 1
    pieces = []
    for i in range(n_chunks):
        piece = x[i * 3840:(i + 1) * 3840]
        if i == n_chunks - 1 and piece.numel() == 0:
            break
        pieces.append(frontend.feed(piece, i == n_chunks - 1))
    streamed = torch.cat(pieces).numpy()
    offline = _offline_lfr(kaldi_fbank(x).numpy())
    assert offline.shape[0] - 1 <= streamed.shape[0] <= offline.shape[0]
    np.testing.assert_allclose(streamed, offline[:streamed.shape[0]], atol=1e-4)


def test_streaming_frontend_drops_a_short_final_window():
    """Upstream quirk: a final chunk that leaves fewer than 7 frames in the splice cache emits nothing
    (WavFrontendOnline.forward lacks `is_final or` in its size test), so one LFR frame is lost."""
    import torch

    from stepaudio_engine.kaldi_fbank import kaldi_fbank
    from stepaudio_engine.tokenizer.fbank import FrontendOptions
    from stepaudio_engine.tokenizer.vq02 import StreamingFrontend

    n_samples = 3840 * 4 + 500
    x = torch.from_numpy(_speechlike(1.5, 16000, seed=9)[:n_samples])
    frontend = StreamingFrontend(FrontendOptions(), np.zeros(560, np.float32), np.ones(560, np.float32))
    streamed = torch.cat([frontend.feed(x[i * 3840:(i + 1) * 3840], i == 4) for i in range(5)]).numpy()
    offline = _offline_lfr(kaldi_fbank(x).numpy())
    assert offline.shape[0] == 17 and streamed.shape[0] == 16
    np.testing.assert_allclose(streamed, offline[:16], atol=1e-4)


def test_vq02_length_rule_and_streaming_causality(tokenizer):
    """N = 3840k ends on an empty final chunk (no flush) but loses nothing: T_fbank = 24k - 2 = 4 (mod 6)."""
    x = _speechlike(1.5, 16000)[:3840 * 4]
    full = tokenizer.vq02.encode(x)
    t_fbank = 1 + (len(x) - 400) // 160
    assert full.codes.shape[0] == math.ceil(t_fbank / 6) == 16
    extra = np.concatenate([x, _speechlike(1.0, 16000, seed=4)[4000:6000]])
    longer = tokenizer.vq02.encode(extra)
    assert longer.codes.shape[0] == math.ceil((1 + (len(extra) - 400) // 160) / 6) == 18
    np.testing.assert_array_equal(longer.encoded[:16], full.encoded)   # streaming: later audio changes nothing


@pytest.mark.parametrize("n_samples", [400, 3000, 3840 * 4, 3840 * 4 + 500, 3840 * 7 + 2000, 3840 * 12])
def test_vq02_batched_encoder_gives_the_chunk_loop_codes(tokenizer, n_samples):
    """Layer-at-a-time encoding (the default) = the chunk loop: same codes, rows equal up to rounding. Lengths
    include N = 0 mod 3840 (empty final chunk, no flush) and a final chunk leaving < 7 frames (nothing emitted)."""
    x = _speechlike(n_samples / 16000 + 0.6, 16000, seed=n_samples)[:n_samples] + np.float32(0.01)
    batched = tokenizer.vq02.encode(x)
    loop = tokenizer.vq02.encode(x, batched=False)
    np.testing.assert_array_equal(batched.feats, loop.feats)
    assert batched.encoded.shape == loop.encoded.shape
    np.testing.assert_allclose(batched.encoded, loop.encoded, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(batched.codes, loop.codes)


@pytest.mark.parametrize("max_batch", [1, 3, 5])
def test_batched_encoder_continues_from_a_state(tokenizer, max_batch):
    """Groups of at most `max_batch` calls, each continuing the previous group's StreamState, then a short final
    call through forward_chunk: every call's rows equal the chunk loop's."""
    import torch

    from stepaudio_engine.tokenizer.sanm_batched import encode_calls

    enc, chunk = tokenizer.vq02.encoder, tokenizer.vq02.chunk
    gen = torch.Generator().manual_seed(max_batch)
    calls = [torch.randn(4, enc.cfg.input_size, generator=gen) for _ in range(11)]
    calls.append(torch.randn(2, enc.cfg.input_size, generator=gen))
    state = enc.new_state(chunk)
    loop = [enc.forward_chunk(c[None], state, chunk) for c in calls]
    grouped = encode_calls(enc, calls, chunk, max_batch=max_batch)
    assert [g.shape for g in grouped] == [r.shape for r in loop]
    for g, r in zip(grouped, loop):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=0)


# --- DualTokenizer on the tiny folder ---------------------------------------------------------------------


def test_tiny_folder_layout_and_size(tiny_root):
    folder = tiny_root / "Step-Audio-Tokenizer"
    para = folder / "dengcunqin" / "speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online"
    for name in ("config.yaml", "configuration.json", "model.pt", "am.mvn", "tokens.json"):
        assert (para / name).is_file(), name
    assert np.load(folder / "linguistic_tokenizer.npy").shape == (1024, TINY_DIM)
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert total < 20 * 1024 * 1024


def test_tiny_onnx_signature(tiny_root):
    import onnxruntime as ort

    session = ort.InferenceSession(str(tiny_root / "Step-Audio-Tokenizer" / "speech_tokenizer_v1.onnx"),
                                   providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    assert [i.type for i in inputs] == ["tensor(float)", "tensor(int32)"]
    out = session.run(None, {inputs[0].name: np.zeros((1, 128, 101), np.float32),
                             inputs[1].name: np.array([101], np.int32)})[0]
    assert out.dtype == np.int64 and out.shape == (1, 26)


def test_tokenize_rates_ranges_and_determinism(tokenizer):
    wav = _speechlike(4.0, 24000)
    first = tokenizer.tokenize(wav, 24000)
    again = tokenizer.tokenize(wav.copy(), 24000)
    assert first.prompt_tokens == again.prompt_tokens and first.audio_str == again.audio_str
    trimmed_s = len(tokenizer.trace(wav, 24000).trimmed) / 16000
    assert abs(len(first.vq02) / trimmed_s - 16.67) < 0.5
    assert abs(len(first.vq06) / trimmed_s - 25.0) < 0.5
    assert first.vq02.dtype == np.int64 and first.vq06.dtype == np.int64
    assert 0 <= first.vq02.min() and first.vq02.max() < 1024 and first.vq06.max() < 4096
    assert len(set(first.vq02.tolist())) > 3     # random weights still give varied codes
    assert first.prompt_tokens == interleave(first.vq02.tolist(), first.vq06.tolist())
    assert first.llm_ids == [t + 65536 for t in first.prompt_tokens]


def test_tokenize_other_audio_gives_other_codes(tokenizer):
    a = tokenizer.tokenize(_speechlike(2.0, 16000, seed=1), 16000)
    b = tokenizer.tokenize(_speechlike(2.0, 16000, seed=2), 16000)
    assert a.prompt_tokens != b.prompt_tokens


def test_same_seed_same_model_other_seed_other_model(tmp_path, tiny_root):
    write_tiny_tokenizer(tmp_path / "a", seed=0)
    write_tiny_tokenizer(tmp_path / "b", seed=1)
    wav = _speechlike(1.5, 16000, seed=5)
    ref = DualTokenizer(tiny_root).tokenize(wav, 16000)   # models root is accepted too
    same = DualTokenizer(tmp_path / "a" / "Step-Audio-Tokenizer").tokenize(wav, 16000)
    other = DualTokenizer(tmp_path / "b" / "Step-Audio-Tokenizer").tokenize(wav, 16000)
    assert same.prompt_tokens == ref.prompt_tokens
    assert other.prompt_tokens != ref.prompt_tokens
    for path in (tiny_root / "Step-Audio-Tokenizer").rglob("*"):   # seeded writer: byte-identical files
        if path.is_file():
            twin = tmp_path / "a" / path.relative_to(tiny_root)
            assert twin.read_bytes() == path.read_bytes(), path.name


def test_cancel_memory_and_close(tiny_root):
    tok = DualTokenizer(tiny_root / "Step-Audio-Tokenizer", ort_threads=1)
    assert tok.memory_bytes() > 100_000
    cancel = CancelToken()
    cancel.set()
    with pytest.raises(EngineError) as info:
        tok.tokenize(_speechlike(1.0, 16000), 16000, cancel)
    assert info.value.reason == Reason.CANCELLED
    tok.close()
    with pytest.raises(EngineError):
        tok.tokenize(_speechlike(1.0, 16000), 16000)


# --- errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [
    "linguistic_tokenizer.npy",
    "speech_tokenizer_v1.onnx",
    "dengcunqin/speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online/model.pt",
    "dengcunqin/speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online/am.mvn",
    "dengcunqin/speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online/config.yaml",
])
def test_missing_file_is_named(tmp_path, tiny_root, relative):
    folder = tmp_path / "Step-Audio-Tokenizer"
    shutil.copytree(tiny_root / "Step-Audio-Tokenizer", folder)
    (folder / relative).unlink()
    with pytest.raises(EngineError) as info:
        DualTokenizer(folder)
    assert info.value.reason == Reason.MODEL_MISSING
    assert relative.split("/")[-1] in info.value.message
    assert "huggingface-cli download stepfun-ai/Step-Audio-Tokenizer" in info.value.hint


def test_missing_folder(tmp_path):
    with pytest.raises(EngineError) as info:
        DualTokenizer(tmp_path / "nowhere")
    assert info.value.reason == Reason.MODEL_MISSING


@pytest.mark.parametrize("relative,content", [
    ("speech_tokenizer_v1.onnx", b"not an onnx model"),
    ("dengcunqin/speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online/model.pt", b"garbage"),
    ("linguistic_tokenizer.npy", b"garbage"),
])
def test_corrupt_file_is_named(tmp_path, tiny_root, relative, content):
    folder = tmp_path / "Step-Audio-Tokenizer"
    shutil.copytree(tiny_root / "Step-Audio-Tokenizer", folder)
    (folder / relative).write_bytes(content)
    with pytest.raises(EngineError) as info:
        DualTokenizer(folder)
    assert info.value.reason == Reason.MODEL_CORRUPT
    assert relative.split("/")[-1] in info.value.message


def test_encoder_key_mismatch_is_reported(tmp_path, tiny_root):
    import torch

    folder = tmp_path / "Step-Audio-Tokenizer"
    shutil.copytree(tiny_root / "Step-Audio-Tokenizer", folder)
    weights = next(folder.rglob("model.pt"))
    state = torch.load(weights, weights_only=True)
    state["encoder.after_norm.extra"] = torch.zeros(1)
    torch.save(state, weights)
    with pytest.raises(EngineError) as info:
        DualTokenizer(folder)
    assert info.value.reason == Reason.MODEL_CORRUPT and "after_norm.extra" in info.value.message


def test_wrong_codebook_width(tmp_path, tiny_root):
    folder = tmp_path / "Step-Audio-Tokenizer"
    shutil.copytree(tiny_root / "Step-Audio-Tokenizer", folder)
    np.save(folder / "linguistic_tokenizer.npy", np.zeros((1024, TINY_DIM + 1), np.float32))
    with pytest.raises(EngineError) as info:
        DualTokenizer(folder)
    assert info.value.reason == Reason.MODEL_CORRUPT and "codebook shape" in info.value.message


# --- the released codebook --------------------------------------------------------------------------------


def test_released_codebook_shape(released_files):
    path = released_files / "linguistic_tokenizer.npy"
    from stepaudio_engine.tokenizer.vq02 import load_codebook

    book = load_codebook(path, 512)
    assert book.shape == (1024, 512) and book.dtype == np.float32
    assert np.all(np.isfinite(book)) and len(np.unique(book, axis=0)) == 1024


# --- stage tool -------------------------------------------------------------------------------------------


def test_stage_tool_end_to_end(tmp_path, tiny_root, capsys):
    from stepaudio_engine.stages.__main__ import main

    audio = tmp_path / "in.wav"
    sf.write(str(audio), np.stack([_speechlike(2.0, 22050)] * 2, 1), 22050, subtype="PCM_16")
    out = tmp_path / "out"
    assert main(["tokenize", "--models", str(tiny_root), "--audio", str(audio), "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["sample_rate"] == 22050
    assert np.load(out / "01_mono_capped.npy").shape == (44100,)
    assert np.load(out / "02_audio_16k.npy").shape == (32000,)
    trimmed = np.load(out / "04_trimmed.npy")
    assert (len(trimmed) - 4320) % 240 == 0
    feats, enc, codes = (np.load(out / f) for f in ("05_vq02_feats.npy", "06_vq02_encoder.npy", "07_vq02_codes.npy"))
    assert feats.shape[1] == 560 and enc.shape == (feats.shape[0], TINY_DIM) and codes.shape == (feats.shape[0],)
    assert codes.dtype == np.int64 and feats.dtype == np.float32
    mel = np.load(out / "08_vq06_mel_0.npy")
    assert mel.shape == (128, len(trimmed) // 160)
    ids = np.load(out / "11_llm_ids.npy")
    assert np.array_equal(ids, np.load(out / "10_prompt_tokens.npy") + 65536)
    assert meta["audio_str"].count("<audio_") == len(ids)
    printed = capsys.readouterr().out.split()
    assert str(out / "meta.json") in printed


def test_stage_tool_reports_bad_input(tmp_path, tiny_root, capsys):
    from stepaudio_engine.stages.__main__ import main

    code = main(["tokenize", "--models", str(tiny_root), "--audio", str(tmp_path / "x.wav"),
                 "--out", str(tmp_path / "o")])
    assert code == 1
    assert "error:" in capsys.readouterr().err
