"""Paraformer ASR on the tiny folder: loading, decoding loop, CIF, streaming FSMN, text rules, errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from stepaudio_engine.api import CancelToken, EngineError, Reason
from stepaudio_engine.asr import Transcriber, Transcript
from stepaudio_engine.asr.cif import CifConfig, CifPredictor, CifState
from stepaudio_engine.asr.decoder import CausalFsmn
from stepaudio_engine.asr.text import tokens_to_text
from stepaudio_engine.tiny.tokenizer import TINY_TOKENS, write_tiny_tokenizer
from stepaudio_engine.tokenizer import DualTokenizer
from stepaudio_engine.tokenizer.folders import FUNASR_MODEL_ID


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return write_tiny_tokenizer(tmp_path_factory.mktemp("asr"), seed=0)


@pytest.fixture(scope="module")
def transcriber(tiny_dir) -> Transcriber:
    return Transcriber(tiny_dir)


def _voice(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = 150 + 40 * rng.random()
    x = 0.4 * np.sin(2 * np.pi * f0 * t + 3 * np.sin(2 * np.pi * 3 * t)) * (1 + np.sin(2 * np.pi * 2.1 * t))
    return (x + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


# --- end to end on the tiny model -------------------------------------------------------------------------


def test_transcribe_returns_tokens_of_the_vocabulary(transcriber):
    result = transcriber.transcribe(_voice(3.0), 16000)
    assert isinstance(result, Transcript) and isinstance(result.text, str) and result.seconds >= 0
    assert len(result.token_ids) > 3                                # ~0.3 weight per 60 ms frame fires tokens
    assert all(3 <= i < len(TINY_TOKENS) for i in result.token_ids)  # blank, <s>, </s> dropped
    assert result.text == tokens_to_text([TINY_TOKENS[i] for i in result.token_ids])


def test_deterministic_and_audio_dependent(transcriber):
    a = transcriber.transcribe(_voice(2.5, seed=1), 16000)
    again = transcriber.transcribe(_voice(2.5, seed=1).copy(), 16000)
    b = transcriber.transcribe(_voice(2.5, seed=2) * 0.3, 16000)
    assert a.token_ids == again.token_ids
    assert a.token_ids != b.token_ids


@pytest.mark.parametrize("samples", [0, 100, 959, 9600, 9600 * 2 + 500, 19200])
def test_edge_lengths(transcriber, samples):
    """Empty input, shorter than one fbank window, and lengths whose final chunk is empty or tiny."""
    result = transcriber.transcribe(_voice(samples / 16000)[:samples], 16000)
    if samples < 400:
        assert result.token_ids == [] and result.text == ""
    if samples >= 9600:   # the final call re-encodes the overlap rows, so the tail still fires
        assert len(result.token_ids) >= 1


def test_from_tokenizer_shares_the_encoder(tiny_dir, transcriber):
    tok = DualTokenizer(tiny_dir)
    shared = Transcriber.from_tokenizer(tok)
    assert shared.encoder is tok.vq02.encoder
    assert shared.memory_bytes() < transcriber.memory_bytes()
    wav = _voice(1.2, seed=3)
    assert shared.transcribe(wav, 16000).token_ids == transcriber.transcribe(wav, 16000).token_ids
    tok.tokenize(wav, 16000)   # the tokenizer keeps working after ASR used its encoder
    tok.close()
    with pytest.raises(EngineError) as info:
        Transcriber.from_tokenizer(tok)
    assert info.value.reason == Reason.INTERNAL


def test_bad_input_and_cancel(transcriber):
    with pytest.raises(EngineError) as info:
        transcriber.transcribe(_voice(1.0), 24000)
    assert info.value.reason == Reason.BAD_INPUT and "16000" in info.value.message
    with pytest.raises(EngineError) as info:
        transcriber.transcribe(np.zeros((2, 16000), np.float32), 16000)
    assert info.value.reason == Reason.BAD_INPUT
    cancel = CancelToken()
    cancel.set()
    with pytest.raises(EngineError) as info:
        transcriber.transcribe(_voice(1.0), 16000, cancel=cancel)
    assert info.value.reason == Reason.CANCELLED


# --- loading errors ---------------------------------------------------------------------------------------


def _copy(tiny_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "Step-Audio-Tokenizer"
    shutil.copytree(tiny_dir, root)
    return root, root / FUNASR_MODEL_ID


def test_accepts_models_root_and_funasr_folder(tiny_dir):
    assert Transcriber(tiny_dir.parent).files.folder == tiny_dir / FUNASR_MODEL_ID
    assert Transcriber(tiny_dir / FUNASR_MODEL_ID).files.folder == tiny_dir / FUNASR_MODEL_ID


def test_missing_folder_and_files(tmp_path, tiny_dir):
    with pytest.raises(EngineError) as info:
        Transcriber(tmp_path / "nowhere")
    assert info.value.reason == Reason.MODEL_MISSING and "huggingface-cli" in info.value.hint
    root, para = _copy(tiny_dir, tmp_path)
    (para / "tokens.json").unlink()
    (para / "tokens.txt").unlink()
    with pytest.raises(EngineError) as info:
        Transcriber(root)
    assert info.value.reason == Reason.MODEL_MISSING and "tokens.json" in info.value.message


def test_tokens_txt_fallback(tmp_path, tiny_dir):
    root, para = _copy(tiny_dir, tmp_path)
    (para / "tokens.json").unlink()
    assert Transcriber(root).tokens == list(TINY_TOKENS)


def test_corrupt_files(tmp_path, tiny_dir):
    root, para = _copy(tiny_dir, tmp_path)
    (para / "tokens.json").write_text(json.dumps(list(TINY_TOKENS)[:-1]), encoding="utf-8")
    with pytest.raises(EngineError) as info:
        Transcriber(root)
    assert info.value.reason == Reason.MODEL_CORRUPT and "tokens" in info.value.message
    (para / "tokens.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EngineError) as info:
        Transcriber(root)
    assert info.value.reason == Reason.MODEL_CORRUPT
    shutil.copy(tiny_dir / FUNASR_MODEL_ID / "tokens.json", para / "tokens.json")
    (para / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(EngineError) as info:
        Transcriber(root)
    assert info.value.reason == Reason.MODEL_CORRUPT and "model.pt" in info.value.message


def test_encoder_only_checkpoint_is_reported(tmp_path, tiny_dir):
    root, para = _copy(tiny_dir, tmp_path)
    state = torch.load(para / "model.pt", weights_only=True)
    torch.save({k: v for k, v in state.items() if not k.startswith("decoder.")}, para / "model.pt")
    with pytest.raises(EngineError) as info:
        Transcriber(root)
    assert info.value.reason == Reason.MODEL_CORRUPT and "decoder" in info.value.message
    state["decoder.decoders.0.norm1.weight"] = torch.ones(7)
    torch.save(state, para / "model.pt")
    with pytest.raises(EngineError) as info:
        Transcriber(root)
    assert info.value.reason == Reason.MODEL_CORRUPT and "decoders.0.norm1.weight" in info.value.message


# --- CIF and the streaming decoder pieces ------------------------------------------------------------------


def _fixed_alpha_predictor(alphas: list[float]) -> CifPredictor:
    predictor = CifPredictor(CifConfig(dim=2))
    predictor.alphas = lambda hidden: torch.tensor(alphas[: hidden.shape[1]])   # type: ignore[method-assign]
    return predictor


def test_cif_fires_by_hand():
    """alphas .3 .5 .4 .9 (threshold 1): token 1 = .3h0 + .5h1 + .2h2, token 2 = .2h2 + .8h3, .1 left over;
    the final tail (.45) does not complete a third token."""
    h = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]])
    predictor = _fixed_alpha_predictor([0.3, 0.5, 0.4, 0.9])
    state = CifState()
    out = predictor.fire_chunk(h[None], state, None, is_final=True)
    assert out.shape == (2, 2)
    assert torch.allclose(out[0], 0.3 * h[0] + 0.5 * h[1] + 0.2 * h[2])
    assert torch.allclose(out[1], 0.2 * h[2] + 0.8 * h[3])
    assert float(state.weight) == pytest.approx(0.1 + 0.45)


def test_cif_carries_the_remainder_across_calls_and_masks_lookahead():
    h = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]])
    predictor = _fixed_alpha_predictor([0.6, 0.7, 0.9, 0.9])
    state = CifState()
    first = predictor.fire_chunk(h[None, :2], state, (0, 1), is_final=False)   # row 1 is look-ahead: weight 0
    assert first.shape[0] == 0 and float(state.weight) == pytest.approx(0.6)
    second = predictor.fire_chunk(h[None, 2:], state, None, is_final=False)   # .6 carried, then .6 and .7
    assert second.shape[0] == 1
    assert torch.allclose(second[0], 0.6 * h[0] + 0.4 * h[2], atol=1e-6)


def test_causal_fsmn_streaming_equals_one_pass():
    torch.manual_seed(0)
    fsmn = CausalFsmn(dim=3, kernel_size=11)
    y = torch.randn(1, 14, 3)
    whole, _ = fsmn(y, None)
    a, past = fsmn(y[:, :5], None)
    b, past = fsmn(y[:, 5:6], past)
    c, _ = fsmn(y[:, 6:], past)
    assert torch.allclose(torch.cat((a, b, c), dim=1), whole, atol=1e-6)
    # causal: changing a later token leaves earlier outputs alone
    y2 = y.clone()
    y2[:, 10] += 1.0
    assert torch.allclose(fsmn(y2, None)[0][:, :10], whole[:, :10])


# --- FunASR sentence post-processing rules ----------------------------------------------------------------


@pytest.mark.parametrize("tokens, text", [
    (["你", "好", "世", "界"], "你好世界"),
    (["hello", "world"], "hello world"),
    (["wor@@", "ld", "你", "好"], "world你好"),
    (["你", "hello", "好"], "你hello好"),
    (["i", "like", "a", "b", "c"], "i like ABC"),
    (["a", "b"], "AB"),
    (["<s>", "你", "<unk>", "好", "</s>"], "你好"),
    (["it's", "ok", "。"], "it's ok 。"),
    (["1", "2", "点"], "12点"),
    (["sp@@", "eech"], "speech"),
    ([], ""),
])
def test_text_rules(tokens, text):
    """Expected strings as FunASR 1.4.16 `sentence_postprocess` gives them (checked by hand against it)."""
    assert tokens_to_text(tokens) == text


@pytest.mark.parametrize("samples", [9600, 19700, 50000])
def test_batched_encoder_equals_the_chunk_loop(tiny_dir, transcriber, samples):
    """Layer-by-layer over all chunks gives the chunk loop's encoder rows (up to rounding) and the same ids."""
    loop = Transcriber(tiny_dir, batched=False)
    wav = _voice(samples / 16000, seed=4)[:samples]
    batched, plain = transcriber.encode_calls(wav), loop.encode_calls(wav)
    assert [f for _, f in batched] == [f for _, f in plain]
    for (a, _), (b, _) in zip(batched, plain):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
    assert transcriber.decode_ids(wav) == loop.decode_ids(wav)
