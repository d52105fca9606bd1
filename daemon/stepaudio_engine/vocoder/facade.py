"""The vocoder as the pipeline sees it: prompt features once per prompt, then tokens → 24 kHz waveform.

#vocoder-folder): `CosyVoice-300M-25Hz/{cosyvoice.yaml, flow.pt, hift.pt, campplus.onnx}`.
Folder layout (docs/engine/models.md
Steps of `synthesize` (spec §7.4): reshape tokens → bf16-round prompt mel and speaker embedding (as upstream's
tts.py does) → align the prompt mel to the prompt token grid → flow (encoder + 10 Euler steps) → HiFT.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..api import CancelToken, EngineError, ProgressFn, Reason
from .config import VocoderConfig, load_config
from .contract import GET_MODEL_HINT, load_module
from .flow import FlowModel, align_prompt_mel, reshape_tokens
from .hift import HiFTGenerator
from .hift_noise import HiftNoise, NoiseDraws
from .mel import prompt_mel
from .speaker import SAMPLE_RATE as SPEAKER_SR
from .speaker import SpeakerEncoder, campplus_input

log = logging.getLogger(__name__)

REQUIRED_FILES = ("cosyvoice.yaml", "flow.pt", "hift.pt", "campplus.onnx")
_DTYPES = {"fp32": torch.float32, "auto": torch.float32, "bf16": torch.bfloat16}


def _resample(wav: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """The prompt front end's resampler: upstream's CosyVoice front end calls torchaudio.functional.resample
    on float32 audio, whose sinc kernel is built in float32 (docs/engine/vocoder.md "Resampling")."""
    if sr_in == sr_out:
        return np.asarray(wav, dtype=np.float32)
    from ..resample import resample

    return np.asarray(resample(wav, sr_in, sr_out, kernel="functional"), dtype=np.float32)


@dataclass
class PromptFeatures:
    """What the vocoder needs from the prompt audio; cacheable per prompt."""

    speech_feat: np.ndarray   # float32 (T_mel, 80): 24 kHz log-mel at 50 Hz of the untrimmed prompt
    embedding: np.ndarray     # float32 (192,): CAM++ speaker embedding

    def to_dict(self) -> dict[str, Any]:
        """Numpy arrays by name (np.savez-able); from_dict also accepts nested lists (JSON)."""
        return {"speech_feat": self.speech_feat, "embedding": self.embedding}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PromptFeatures":
        feat = np.asarray(data["speech_feat"], dtype=np.float32).reshape(-1, 80)
        emb = np.asarray(data["embedding"], dtype=np.float32).reshape(-1)
        return cls(speech_feat=feat, embedding=emb)


@dataclass
class VocodeTrace:
    """Every intermediate of one synthesis (for the stage tool); tensors as numpy."""

    tokens: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))         # int64 (3G, 2)
    prompt_tokens: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))  # int64 (3Gp, 2)
    prompt_feat: Optional[np.ndarray] = None   # float32 (2·3Gp, 80) aligned, bf16-rounded prompt mel
    embedding: Optional[np.ndarray] = None     # float32 (192,) bf16-rounded speaker embedding
    encoder_out: Optional[np.ndarray] = None   # float32 (2·(3Gp+3G), 80) encoder_proj output
    mel: Optional[np.ndarray] = None           # float32 (80, 2·3G) generated mel
    f0: Optional[np.ndarray] = None            # float32 (2·3G,) predicted f0 in Hz
    source: Optional[np.ndarray] = None        # float32 (2880·G,) harmonic source
    wav: Optional[np.ndarray] = None           # float32 (2880·G,) output at 24 kHz
    flow_noise: Optional[np.ndarray] = None    # float32 (80, 2·(3Gp+3G)) the flow's starting noise x₀
    speaker_projected: Optional[np.ndarray] = None  # float32 (80,) spk_embed_affine_layer(normalize(embedding))
    flow_cond: Optional[np.ndarray] = None     # float32 (80, 2·(3Gp+3G)) prompt mel then zeros (the CFM's cond)
    first_estimate: Optional[np.ndarray] = None  # float32 (2, 80, 2·(3Gp+3G)) estimator output at Euler step 1
    hift_noise: Optional[HiftNoise] = None     # HiFT's draws (recorded, or the ones replayed)


def flow_bf16_wanted(setting: str) -> bool:
    """on/off as given; auto = the CPU has native bf16 arithmetic (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo)."""
    if setting in ("on", "off"):
        return setting == "on"
    if setting != "auto":
        raise EngineError(Reason.BAD_INPUT, f"flow_bf16 {setting!r} is not auto, on or off", "")
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _bf16_round(x: np.ndarray) -> torch.Tensor:
    # upstream's tts.py hands the prompt mel and embedding over as bfloat16 (spec §7.2, §7.3)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(torch.bfloat16).float()


class Vocoder:
    """CosyVoice-300M-25Hz re-implementation: flow matching + HiFT + CAM++."""

    def __init__(self, cosyvoice_dir: Path, device: str = "cpu", dtype: str = "fp32", ort_threads: int = 0,
                 flow_bf16: str = "off") -> None:
        folder = Path(cosyvoice_dir)
        missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise EngineError(
                Reason.MODEL_MISSING, f"vocoder files missing in {folder}: {', '.join(missing)}", GET_MODEL_HINT
            )
        if dtype not in _DTYPES:
            raise EngineError(Reason.UNSUPPORTED, f"vocoder dtype {dtype!r} is not supported",
                              "use fp32 (default) or bf16")
        self.folder = folder
        self.config: VocoderConfig = load_config(folder)
        self.flow: FlowModel = load_module(lambda: FlowModel(self.config.flow), folder / "flow.pt")
        self.hift: HiFTGenerator = load_module(lambda: HiFTGenerator(self.config.hift), folder / "hift.pt")
        self.speaker = SpeakerEncoder(folder / "campplus.onnx", ort_threads)
        self.flow_dtype = _DTYPES[dtype]
        self.device = torch.device("cpu")
        self.to(device)
        # bf16 autocast of the flow on the CPU: 1.6-1.8x faster where the CPU multiplies bf16 natively
        # (measured in issue 16), slower elsewhere; the mel error is bounded in tests/engine/test_vocoder_bf16.py
        self.flow_autocast = flow_bf16_wanted(flow_bf16) and self.device.type == "cpu" \
            and self.flow_dtype == torch.float32

    @property
    def sample_rate(self) -> int:
        return self.config.hift.sampling_rate

    def to(self, device: str | torch.device) -> "Vocoder":
        """Move flow and HiFT (HiFT always fp32: its iSTFT needs it, spec §7.11). CAM++ stays on CPU."""
        if str(device) == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise EngineError(Reason.UNSUPPORTED, "CUDA was requested but is not available", "use device cpu")
        self.flow.to(device=dev, dtype=self.flow_dtype)
        self.hift.to(device=dev, dtype=torch.float32)
        self.device = dev
        return self

    def set_flow_noise(self, noise: np.ndarray) -> None:
        """Replace the flow's fixed starting-noise buffer with (80, F) or (1, 80, F) float values (parity runs).
        F limits prompt + output to F mel frames."""
        arr = np.asarray(noise, dtype=np.float32)
        n_mels = self.config.flow.output_size
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[:2] != (1, n_mels) or arr.shape[2] == 0 or not np.all(np.isfinite(arr)):
            raise EngineError(Reason.BAD_INPUT, f"flow noise has shape {arr.shape}, expected (1, {n_mels}, F) "
                              "with finite values", f"save a float32 array of shape (1, {n_mels}, F) or "
                              f"({n_mels}, F); F ≥ 2 × (prompt + output token groups × 3)")
        self.flow.decoder.set_noise(torch.from_numpy(np.ascontiguousarray(arr)))

    def memory_bytes(self) -> int:
        """Bytes held by the weights (flow, HiFT, CAM++ file size as an estimate) and the noise buffer."""
        total = 0
        for module in (self.flow, self.hift):
            total += sum(t.numel() * t.element_size() for t in module.state_dict().values())
        cfg = self.config.flow
        total += cfg.output_size * cfg.cfm.noise_frames * 4
        return total + self.speaker.memory_bytes()

    # ---- prompt ---------------------------------------------------------------------------------------------

    def prompt_features(self, wav: np.ndarray, sr: int) -> PromptFeatures:
        """Prompt mel (24 kHz) and CAM++ embedding (16 kHz) from the mono, peak-capped prompt at its own rate."""
        x = np.asarray(wav, dtype=np.float32)
        if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)) or sr <= 0:
            raise EngineError(Reason.BAD_INPUT, "prompt audio must be a non-empty, finite mono signal",
                              "pass the decoded mono reference audio and its sample rate")
        try:
            feat = prompt_mel(_resample(x, sr, self.config.mel.sampling_rate), self.config.mel)
        except ValueError as exc:
            raise EngineError(Reason.BAD_INPUT, f"prompt audio too short: {exc}",
                              "use a reference recording of a few seconds") from exc
        emb = self.speaker.embed(_resample(x, sr, SPEAKER_SR))
        return PromptFeatures(speech_feat=feat, embedding=emb)

    def speaker_input(self, wav: np.ndarray, sr: int) -> np.ndarray:
        """The CAM++ network input (T, 80) for a prompt at its own rate (for the stage tool)."""
        return campplus_input(_resample(np.asarray(wav, np.float32), sr, SPEAKER_SR))

    # ---- synthesis ------------------------------------------------------------------------------------------

    def synthesize(self, tokens: list[int], prompt_tokens: list[int], features: PromptFeatures,
                   cancel: CancelToken | None = None, progress: ProgressFn | None = None,
                   seed: int | None = None) -> np.ndarray:
        """Mixed 0-based tokens → float32 mono waveform at 24 kHz, 2880 samples per 5-token group, |x| ≤ 0.99."""
        return self.run(tokens, prompt_tokens, features, cancel, progress, seed).wav

    def run(self, tokens: Sequence[int], prompt_tokens: Sequence[int], features: PromptFeatures,
            cancel: CancelToken | None = None, progress: ProgressFn | None = None,
            seed: int | None = None, hift_noise: HiftNoise | None = None) -> VocodeTrace:
        """Like synthesize, but returns every intermediate (VocodeTrace). `hift_noise` replays recorded HiFT
        draws instead of drawing from `seed` (parity runs; its shapes must fit this output)."""
        trace = VocodeTrace(tokens=reshape_tokens(tokens), prompt_tokens=reshape_tokens(prompt_tokens))
        self._validate(trace, features)
        if cancel is not None:
            cancel.check()
        dev = self.device
        n_prompt_steps = trace.prompt_tokens.shape[0]
        feat = _bf16_round(features.speech_feat)[None]
        if n_prompt_steps:
            aligned = align_prompt_mel(feat, n_prompt_steps, self.config.flow.encoder.up_stride)
        else:
            aligned = feat[:, :0]
        emb = _bf16_round(features.embedding)[None]
        trace.prompt_feat, trace.embedding = aligned[0].numpy(), emb[0].numpy()

        def on_step(done: int, total: int) -> None:
            if progress is not None:
                progress("vocoding", done / total, {})
            if cancel is not None:
                cancel.check()

        fd = self.flow_dtype
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.flow_autocast):
            mel, flow_trace = self.flow.infer(
                torch.from_numpy(trace.tokens)[None].to(dev), torch.from_numpy(trace.prompt_tokens)[None].to(dev),
                aligned.to(dev, fd), emb.to(dev, fd), on_step,
            )
        mel = mel.float()
        trace.encoder_out = flow_trace.encoder_out[0].float().cpu().numpy()
        trace.speaker_projected = flow_trace.speaker[0].float().cpu().numpy()
        trace.flow_cond = flow_trace.cond[0].float().cpu().numpy()
        if flow_trace.first_estimate is not None:
            trace.first_estimate = flow_trace.first_estimate.float().cpu().numpy()
        trace.mel = mel[0].float().cpu().numpy()
        frames = trace.encoder_out.shape[0]
        trace.flow_noise = self.flow.decoder.noise(frames, torch.device("cpu"), torch.float32)[0].numpy()
        if hift_noise is None:
            gen = torch.Generator(device="cpu").manual_seed(seed if seed is not None else random.getrandbits(63))
            draws = NoiseDraws(gen)
        else:
            draws = NoiseDraws(hift_noise)
        wav, source, f0 = self.hift.infer(mel.float(), draws)
        trace.hift_noise = draws.recorded
        trace.f0 = f0[0].cpu().numpy()
        trace.source = source.reshape(-1).cpu().numpy()
        trace.wav = wav.reshape(-1).cpu().numpy().astype(np.float32)
        return trace

    def _validate(self, trace: VocodeTrace, features: PromptFeatures) -> None:
        if trace.tokens.shape[0] == 0:
            raise EngineError(Reason.BAD_INPUT, "no audio tokens to vocode",
                              "the model generated no audio; try again with another seed or text")
        vocab = self.config.flow.vocab_size
        for name, arr in (("audio", trace.tokens), ("prompt", trace.prompt_tokens)):
            if arr.size and int(arr.max()) >= vocab:
                raise EngineError(Reason.BAD_INPUT, f"{name} tokens out of range for the vocoder "
                                  f"(it accepts mixed tokens 0…{vocab - 2})",
                                  "pass mixed 0-based tokens (vq02 0…1023, vq06 raw+1024)")
        frames = 2 * (trace.tokens.shape[0] + trace.prompt_tokens.shape[0])
        if frames > self.config.flow.cfm.noise_frames:
            seconds = self.config.flow.cfm.noise_frames / 50
            raise EngineError(Reason.BAD_INPUT, f"prompt plus output is too long for the vocoder ({frames} mel "
                              f"frames, limit {self.config.flow.cfm.noise_frames} = {seconds:.0f} s)",
                              "use a shorter reference or split the text")
        if features.speech_feat.ndim != 2 or features.speech_feat.shape[1] != self.config.flow.output_size:
            raise EngineError(Reason.BAD_INPUT, f"prompt features have shape {features.speech_feat.shape}, "
                              f"expected (T, {self.config.flow.output_size})", "recompute the prompt features")
        if features.embedding.size != self.config.flow.spk_embed_dim:
            raise EngineError(Reason.BAD_INPUT, f"speaker embedding has {features.embedding.size} values, "
                              f"expected {self.config.flow.spk_embed_dim}", "recompute the prompt features")
        if trace.prompt_tokens.shape[0] and features.speech_feat.shape[0] == 0:
            raise EngineError(Reason.BAD_INPUT, "prompt mel is empty", "recompute the prompt features")
