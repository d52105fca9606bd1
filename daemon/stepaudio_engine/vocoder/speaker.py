"""CAM++ speaker embedding through the released `campplus.onnx` (docs/engine/models.md#vocoder-folder,
docs/engine/vocoder.md#speaker-embedding).

Input: the prompt at 16 kHz (peak-capped, not scaled by 32768) → Kaldi fbank 80 → subtract the per-bin mean
over time → ONNX input (1, T, 80) float32 → output flattened to 192 values. Upstream runs it on CPU with
intra_op_num_threads=1 and ORT_ENABLE_ALL (UP:stepvocoder/cosyvoice2/cli/frontend.py).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..api import EngineError, Reason
from ..kaldi_fbank import CAMPPLUS_FBANK, kaldi_fbank_np

log = logging.getLogger(__name__)

EMBED_DIM = 192
SAMPLE_RATE = 16000


def campplus_input(wav_16k: np.ndarray) -> np.ndarray:
    """The CAM++ network input for a 16 kHz waveform: mean-normalised fbank, float32 (T, 80)."""
    feat = kaldi_fbank_np(np.asarray(wav_16k), CAMPPLUS_FBANK)   # 16 kHz, 80 bins, Povey window, float64 inside
    if feat.shape[0] == 0:
        raise EngineError(
            Reason.BAD_INPUT,
            "the prompt audio is too short for a speaker embedding (needs at least 25 ms)",
            "use a reference recording of a few seconds",
        )
    return (feat - feat.mean(axis=0, keepdims=True)).astype(np.float32)


class SpeakerEncoder:
    """Wraps the CAM++ ONNX session; `embed(wav_16k)` → float32 (192,)."""

    def __init__(self, onnx_path: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise EngineError(
                Reason.MODEL_MISSING,
                f"speaker model not found: {onnx_path}",
                "download the Step-Audio-EditX model again; CosyVoice-300M-25Hz/ must hold campplus.onnx",
            )
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads if threads > 0 else 1
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise EngineError(
                Reason.MODEL_CORRUPT,
                f"cannot load speaker model {onnx_path}: {exc}",
                "the file is damaged; download the model again",
            ) from exc
        self._input_name = self._session.get_inputs()[0].name
        self.path = onnx_path

    def embed_features(self, feat: np.ndarray) -> np.ndarray:
        """Run the network on a (T, 80) mean-normalised fbank; returns float32 (192,)."""
        out = self._session.run(None, {self._input_name: feat[None].astype(np.float32)})[0]
        emb = np.asarray(out, dtype=np.float32).reshape(-1)
        if emb.size != EMBED_DIM:
            raise EngineError(
                Reason.MODEL_CORRUPT,
                f"speaker model {self.path} returned {emb.size} values, expected {EMBED_DIM}",
                "the file is not the released CAM++ model; download the model again",
            )
        return emb

    def embed(self, wav_16k: np.ndarray) -> np.ndarray:
        return self.embed_features(campplus_input(wav_16k))

    def memory_bytes(self) -> int:
        return self.path.stat().st_size  # the session holds about the weights' size
