"""vq06 semantic tokens: whisper-style 128-bin log-mel + the released ONNX tokenizer
(docs/engine/tokenizer.md#vq06-log-mel).

Log-mel = openai-whisper's `log_mel_spectrogram(chunk, n_mels=128)` (§4.2), recomputed here without
openai-whisper: periodic Hann 400, hop 160, centred STFT with reflect padding, power, last frame dropped,
librosa Slaney mel filters (sr 16000, n_fft 400, 128 bins; whisper's `mel_filters.npz` holds exactly these),
log10 floored at 1e-10, dynamic range limited to 8 (per chunk), then (x + 4) / 4.
Chunking (§4.1, UP:tokenizer.py `get_vq06_code`): independent 30 s chunks, chunks < 480 samples dropped.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from stepaudio_engine.api import CancelToken, EngineError, Reason
from stepaudio_engine.dsp import slaney_mel_filters
from stepaudio_engine.tokenizer.folders import DOWNLOAD_HINT

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 128
CHUNK_SAMPLES = 30 * SAMPLE_RATE   # 480 000
MIN_CHUNK_SAMPLES = 480            # shorter chunks are dropped by upstream
TOKENS_PER_SECOND = 25


def mel_filters(n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, 201) float32 Slaney mel filter bank, as whisper's mel_filters.npz."""
    return slaney_mel_filters(SAMPLE_RATE, N_FFT, n_mels)


def log_mel(chunk: np.ndarray, n_mels: int = N_MELS) -> np.ndarray:
    """float32 samples (N,) -> float32 (n_mels, N // 160) whisper log-mel."""
    import torch

    audio = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32))
    window = torch.hann_window(N_FFT)
    stft = torch.stft(audio, N_FFT, HOP, window=window, center=True, pad_mode="reflect", return_complex=True)
    power = stft[..., :-1].abs() ** 2
    mel = torch.from_numpy(mel_filters(n_mels)) @ power
    logs = torch.clamp(mel, min=1e-10).log10()
    logs = torch.maximum(logs, logs.max() - 8.0)
    return ((logs + 4.0) / 4.0).numpy()


def split_chunks(wav16k: np.ndarray) -> list[np.ndarray]:
    """30 s pieces; a piece shorter than 480 samples is dropped (docs/engine/tokenizer.md#vq06-chunks)."""
    pieces = [wav16k[i:i + CHUNK_SAMPLES] for i in range(0, len(wav16k), CHUNK_SAMPLES)]
    return [p for p in pieces if len(p) >= MIN_CHUNK_SAMPLES]


@dataclass
class Vq06Result:
    mels: list[np.ndarray]   # per chunk float32 (128, T_i)
    codes: np.ndarray        # int64 (sum T_i // 4,)


def _session_options(threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = max(0, int(threads))   # 0 = onnxruntime's default
    opts.log_severity_level = 3                        # errors only: no console noise
    return opts


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise EngineError(Reason.UNSUPPORTED, "CUDA was requested but onnxruntime has no CUDA provider",
                              "install onnxruntime-gpu instead of onnxruntime, or use --device cpu")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class Vq06Tokenizer:
    def __init__(self, onnx_path: Path, device: str = "cpu", threads: int = 0) -> None:
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(os.fspath(onnx_path), sess_options=_session_options(threads),
                                                providers=_providers(device))
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(Reason.MODEL_CORRUPT, f"cannot load {onnx_path}: {exc}", DOWNLOAD_HINT) from exc
        inputs = self.session.get_inputs()
        if len(inputs) < 2 or not self.session.get_outputs():
            raise EngineError(Reason.MODEL_CORRUPT,
                              f"{onnx_path}: expected inputs (feats, feats_length) and one output", DOWNLOAD_HINT)
        self.input_names = (inputs[0].name, inputs[1].name)   # read by position, as upstream
        self.path = Path(onnx_path)

    def memory_bytes(self) -> int:
        return self.path.stat().st_size   # the initializers dominate the session's footprint

    def tokens_for_mel(self, mel: np.ndarray) -> np.ndarray:
        feed = {self.input_names[0]: mel[None].astype(np.float32),
                self.input_names[1]: np.array([mel.shape[1]], dtype=np.int32)}
        return np.asarray(self.session.run(None, feed)[0]).reshape(-1).astype(np.int64)

    def encode(self, wav16k: np.ndarray, cancel: Optional[CancelToken] = None) -> Vq06Result:
        mels, codes = [], []
        for chunk in split_chunks(np.asarray(wav16k, dtype=np.float32)):
            if cancel is not None:
                cancel.check()
            mel = log_mel(chunk)
            tokens = self.tokens_for_mel(mel)
            expected = round(len(chunk) / SAMPLE_RATE, 2) * TOKENS_PER_SECOND
            if abs(len(tokens) - expected) > 2:   # upstream asserts this per chunk
                raise EngineError(Reason.MODEL_CORRUPT,
                                  f"{self.path}: {len(tokens)} tokens for {len(chunk)} samples "
                                  f"(expected about {expected:.0f})", DOWNLOAD_HINT)
            mels.append(mel)
            codes.append(tokens)
        return Vq06Result(mels=mels, codes=np.concatenate(codes) if codes else np.zeros(0, np.int64))
