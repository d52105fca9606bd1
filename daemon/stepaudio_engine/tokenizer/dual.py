"""DualTokenizer: audio -> vq02 + vq06 codes -> interleaved prompt tokens (upstream's `wav2token`)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from stepaudio_engine.api import CancelToken, EngineError, Reason
from stepaudio_engine.tokenizer.folders import find_tokenizer_files
from stepaudio_engine.tokenizer.interleave import interleave, to_audio_str, to_llm_ids

log = logging.getLogger(__name__)

CACHE_FORMAT = 1   # bump when the meaning of the cached fields changes


@dataclass
class AudioTokens:
    vq02: np.ndarray                 # int64 (T02,), raw codes 0..1023, ~16.67 per second
    vq06: np.ndarray                 # int64 (T06,), raw codes 0..4095, 25 per second
    prompt_tokens: list[int]         # interleaved 2:3, vq06 + 1024 (docs/engine/tokenizer.md#interleaving)
    llm_ids: list[int]               # prompt_tokens + 65536
    audio_str: str                   # "<audio_N>..." for the LLM prompt

    @classmethod
    def from_codes(cls, vq02: np.ndarray, vq06: np.ndarray) -> "AudioTokens":
        vq02 = np.asarray(vq02, dtype=np.int64)
        vq06 = np.asarray(vq06, dtype=np.int64)
        tokens = interleave(vq02.tolist(), vq06.tolist())
        return cls(vq02=vq02, vq06=vq06, prompt_tokens=tokens, llm_ids=to_llm_ids(tokens),
                   audio_str=to_audio_str(tokens))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the prompt cache; the derived fields are rebuilt on load."""
        return {"format": CACHE_FORMAT, "vq02": self.vq02.tolist(), "vq06": self.vq06.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AudioTokens":
        if data.get("format") != CACHE_FORMAT:
            raise ValueError(f"audio token cache format {data.get('format')!r}, expected {CACHE_FORMAT}")
        return cls.from_codes(np.array(data["vq02"], dtype=np.int64), np.array(data["vq06"], dtype=np.int64))


@dataclass
class TokenizeTrace:
    """Every stage of one tokenize call (the stage tool writes these)."""

    at_16k: np.ndarray
    normed: np.ndarray
    trimmed: np.ndarray
    vq02_feats: np.ndarray
    vq02_encoded: np.ndarray
    vq06_mels: list[np.ndarray] = field(default_factory=list)
    tokens: Optional[AudioTokens] = None
    vq02_call_lengths: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))


class DualTokenizer:
    """Loads the vq02 encoder + codebook and the vq06 ONNX model from a Step-Audio-Tokenizer folder."""

    def __init__(self, tokenizer_dir: Path, device: str = "cpu", ort_threads: int = 0) -> None:
        from stepaudio_engine.tokenizer.vq02 import Vq02Tokenizer
        from stepaudio_engine.tokenizer.vq06 import Vq06Tokenizer

        files = find_tokenizer_files(Path(tokenizer_dir))
        if device not in ("cpu",) and not device.startswith("cuda"):
            raise EngineError(Reason.UNSUPPORTED, f"unknown device {device!r}", "use cpu or cuda")
        self.files = files
        self.device = device
        self.vq02: Optional[Vq02Tokenizer] = Vq02Tokenizer(files, device=device)
        self.vq06: Optional[Vq06Tokenizer] = Vq06Tokenizer(files.vq06_onnx, device=device, threads=ort_threads)
        log.debug("dual tokenizer loaded from %s on %s", files.root, device)

    def memory_bytes(self) -> int:
        self._require_open()
        return self.vq02.memory_bytes() + self.vq06.memory_bytes()

    def close(self) -> None:
        """Drop the models; the object cannot tokenize afterwards."""
        self.vq02 = None
        self.vq06 = None

    def _require_open(self) -> None:
        if self.vq02 is None or self.vq06 is None:
            raise EngineError(Reason.INTERNAL, "the audio tokenizer was closed", "load the model again")

    def tokenize(self, wav: np.ndarray, sr: int, cancel: Optional[CancelToken] = None) -> AudioTokens:
        """Mono float32 audio at any rate >= 16 kHz (already peak-capped) -> AudioTokens."""
        tokens = self.trace(wav, sr, cancel).tokens
        assert tokens is not None
        return tokens

    def trace(self, wav: np.ndarray, sr: int, cancel: Optional[CancelToken] = None,
              batched: bool = True) -> TokenizeTrace:
        """Like tokenize, but keep every intermediate stage. batched=False runs the vq02 encoder as the
        reference chunk loop (one call at a time) instead of layer by layer."""
        from stepaudio_engine.audio import prepare_for_tokenizer

        self._require_open()
        prepared = prepare_for_tokenizer(wav, sr)
        if cancel is not None:
            cancel.check()
        r02 = self.vq02.encode(prepared.trimmed, cancel, batched=batched)
        r06 = self.vq06.encode(prepared.trimmed, cancel)
        return TokenizeTrace(at_16k=prepared.at_16k, normed=prepared.normed, trimmed=prepared.trimmed,
                             vq02_feats=r02.feats, vq02_encoded=r02.encoded, vq06_mels=r06.mels,
                             tokens=AudioTokens.from_codes(r02.codes, r06.codes),
                             vq02_call_lengths=r02.call_lengths)
