"""Transcriber: 16 kHz audio -> text with the released Paraformer-large *online* ASR model, on a local folder.

#tokenizer-folder, docs/engine/tokenizer.md#vq02-model), so recognition runs the way FunASR's
The model is a streaming Paraformer (docs/engine/models.md
`ParaformerStreaming.inference` runs it on a whole file (FunASR 1.4.16 funasr/models/paraformer_streaming/
model.py `inference`, `generate_chunk`): 600 ms chunks (chunk_size [0, 10, 5], encoder look-back 4 chunks,
decoder look-back 1 chunk: FunASR's documented setting, modelscope/FunASR examples/industrial_data_pretraining/
paraformer_streaming/demo.py; it matches the training chunks of config.yaml, 10 frames + 5 look-ahead), each
chunk going front end -> SAN-M encoder (tokenizer/sanm.py, same module as vq02) -> CIF predictor -> SAN-M decoder ->
greedy argmax; ids 0 (blank), 1 (<s>) and 2 (</s>) are dropped and the tokens joined by `text.tokens_to_text`.

Differences from FunASR, all at the end of the signal: the front end is the vq02 one (upstream detach rules,
#funasr-on-pypi); a final piece shorter than 960 samples is processed normally instead of FunASR's
docs/engine/tokenizer.md
"tail chunk" path (which drops those samples and re-encodes the cached overlap frames after scaling them a
second time in place); when the final call brings no new frames the overlap frames are re-encoded once more
so the last tokens still fire. Dither is 0 (deterministic).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from stepaudio_engine.api import CancelToken, EngineError, Reason
from stepaudio_engine.asr.files import AsrFiles, find_asr_files, load_token_list, load_weights, strict_load
from stepaudio_engine.asr.text import tokens_to_text
from stepaudio_engine.tokenizer.folders import DOWNLOAD_HINT

if TYPE_CHECKING:
    import torch

    from stepaudio_engine.tokenizer.dual import DualTokenizer
    from stepaudio_engine.tokenizer.sanm import SanmEncoder

log = logging.getLogger(__name__)

BLANK_ID, SOS_ID, EOS_ID = 0, 1, 2          # FunASR Paraformer defaults (funasr/models/paraformer/model.py)
SAMPLES_PER_LFR_FRAME = 960                 # 6 x 10 ms at 16 kHz


@dataclass
class Transcript:
    text: str
    token_ids: list[int]        # decoded ids after dropping blank/<s>/</s>
    seconds: float              # wall time of the transcription


@dataclass(frozen=True)
class AsrChunking:
    """FunASR `chunk_size` [left, frames, look-ahead] in LFR frames, and the look-backs in chunks."""

    left: int = 0
    frames: int = 10
    lookahead: int = 5
    encoder_look_back: int = 4
    decoder_look_back: int = 1


class Transcriber:
    def __init__(self, tokenizer_dir: Path, device: str = "cpu", threads: int = 0,
                 chunking: AsrChunking = AsrChunking(), batched: bool = True, *,
                 _encoder: Optional["SanmEncoder"] = None) -> None:
        import torch

        from stepaudio_engine.tokenizer.fbank import load_cmvn
        from stepaudio_engine.tokenizer.vq02 import _frontend_options, _read_yaml, build_encoder

        if device != "cpu" and not device.startswith("cuda"):
            raise EngineError(Reason.UNSUPPORTED, f"unknown device {device!r}", "use cpu or cuda")
        if threads > 0:
            torch.set_num_threads(threads)
        self.files: AsrFiles = find_asr_files(Path(tokenizer_dir))
        self.chunking = chunking
        self.batched = batched      # encoder layer by layer over all chunks (same result, faster)
        conf = _read_yaml(self.files.config)
        self.opts = _frontend_options(conf, self.files.config)
        self.shift, self.scale = load_cmvn(self.files.cmvn)
        self.tokens = load_token_list(self.files.tokens)
        prefixes = ("predictor.", "decoder.") if _encoder is not None else ("encoder.", "predictor.", "decoder.")
        weights = load_weights(self.files.weights, prefixes)
        self.encoder = _encoder if _encoder is not None else build_encoder(weights, conf, self.files.weights)
        self.owns_encoder = _encoder is None
        self.predictor = self._build_predictor(weights, conf)
        self.decoder = self._build_decoder(weights, conf)
        if self.decoder.cfg.vocab != len(self.tokens):
            raise EngineError(Reason.MODEL_CORRUPT, f"{self.files.tokens}: {len(self.tokens)} tokens but the "
                              f"decoder outputs {self.decoder.cfg.vocab}", DOWNLOAD_HINT)
        self.device = torch.device(device)
        for module in (self.encoder, self.predictor, self.decoder):
            module.to(self.device).eval()

    @classmethod
    def from_tokenizer(cls, tokenizer: "DualTokenizer", threads: int = 0,
                       chunking: AsrChunking = AsrChunking(), batched: bool = True) -> "Transcriber":
        """Share the already-loaded vq02 encoder (its weights are ~630 MB at the released size); only the
        predictor and decoder are read from model.pt. The encoder is stateless between calls, so sharing is safe
        as long as the two are not run from two threads at once."""
        if tokenizer.vq02 is None:
            raise EngineError(Reason.INTERNAL, "the audio tokenizer was closed", "load the model again")
        return cls(tokenizer.files.root, device=str(tokenizer.device), threads=threads, chunking=chunking,
                   batched=batched, _encoder=tokenizer.vq02.encoder)

    def _build_predictor(self, weights: dict, conf: dict):
        from stepaudio_engine.asr.cif import CifConfig, CifPredictor

        pc = conf.get("predictor_conf") or {}
        path = self.files.weights
        if "predictor.cif_conv1d.weight" not in weights:
            raise EngineError(Reason.MODEL_CORRUPT, f"{path}: no CIF predictor tensors (predictor.*); this "
                              f"model.pt holds only an encoder", DOWNLOAD_HINT)
        kernel = weights["predictor.cif_conv1d.weight"].shape[-1]
        l_order = int(pc.get("l_order", 1))
        cfg = CifConfig(dim=weights["predictor.cif_conv1d.weight"].shape[0], l_order=l_order,
                        r_order=kernel - 1 - l_order, threshold=float(pc.get("threshold", 1.0)),
                        tail_threshold=float(pc.get("tail_threshold", 0.45)),
                        smooth_factor=float(pc.get("smooth_factor", 1.0)),
                        noise_threshold=float(pc.get("noise_threshold", 0.0)))
        predictor = CifPredictor(cfg)
        strict_load(predictor, weights, "predictor.", path)
        return predictor

    def _build_decoder(self, weights: dict, conf: dict):
        from stepaudio_engine.asr.decoder import DecoderConfig, SanmDecoder

        dc = conf.get("decoder_conf") or {}
        path = self.files.weights
        try:
            cfg = DecoderConfig(
                dim=weights["decoder.after_norm.weight"].shape[0],
                vocab=weights["decoder.output_layer.weight"].shape[0],
                heads=int(dc.get("attention_heads", 4)),
                linear_units=weights["decoder.decoders.0.feed_forward.w_1.weight"].shape[0],
                num_blocks=len({k.split(".")[2] for k in weights if k.startswith("decoder.decoders.")}),
                kernel_size=weights["decoder.decoders.0.self_attn.fsmn_block.weight"].shape[-1],
                sanm_shift=int(dc.get("sanm_shfit", 5)))
        except KeyError as exc:
            raise EngineError(Reason.MODEL_CORRUPT, f"{path}: decoder tensor {exc} missing", DOWNLOAD_HINT) from exc
        try:
            decoder = SanmDecoder(cfg)
        except ValueError as exc:
            raise EngineError(Reason.UNSUPPORTED, f"{self.files.config}: {exc}", "use the released model") from exc
        strict_load(decoder, weights, "decoder.", path, ignore=("decoder.embed.0.weight",))
        return decoder

    def memory_bytes(self) -> int:
        """Parameter bytes this object holds (the encoder only if it is not shared with a tokenizer)."""
        modules = [self.predictor, self.decoder] + ([self.encoder] if self.owns_encoder else [])
        return sum(p.numel() * p.element_size() for m in modules for p in m.parameters())

    def transcribe(self, wav: np.ndarray, sr: int, cancel: Optional[CancelToken] = None) -> Transcript:
        """Mono float32 audio at 16 kHz (resample first otherwise) -> Transcript."""
        start = time.perf_counter()
        wav = np.asarray(wav)
        if sr != self.opts.sample_rate:
            raise EngineError(Reason.BAD_INPUT, f"ASR needs {self.opts.sample_rate} Hz audio, got {sr} Hz",
                              "resample the audio first (stepaudio_engine.resample.resample)")
        if wav.ndim != 1:
            raise EngineError(Reason.BAD_INPUT, f"ASR needs mono audio, got shape {wav.shape}", "mix down first")
        ids = self.decode_ids(wav, cancel)
        return Transcript(text=self.ids_to_text(ids), token_ids=ids, seconds=time.perf_counter() - start)

    def ids_to_text(self, ids: list[int]) -> str:
        return tokens_to_text([self.tokens[i] for i in ids])

    def decode_ids(self, wav16k: np.ndarray, cancel: Optional[CancelToken] = None) -> list[int]:
        """The chunk loop; returns the greedy token ids without blank/<s>/</s>."""
        from stepaudio_engine.asr.cif import CifState

        ids: list[int] = []
        cif_state, dec_state = CifState(), self.decoder.new_state()
        for memory, is_final in self.encode_calls(wav16k, cancel):
            if cancel is not None:
                cancel.check()
            ids += self.decode_memory(memory, cif_state, dec_state, is_final)
        return ids

    def encode_calls(self, wav16k: np.ndarray, cancel: Optional[CancelToken] = None) -> list:
        """Front end + encoder for every 600 ms call: [(memory (1, overlap + T, D), is_final), ...].

        With `batched` (default) all non-final calls go through the encoder layer by layer at once
        (tokenizer/sanm_batched.py, same result up to rounding, several times faster); the final call, whose length
        differs, continues from the returned state through the ordinary chunk forward.
        """
        import torch

        from stepaudio_engine.tokenizer.sanm_batched import encode_uniform_calls
        from stepaudio_engine.tokenizer.sanm import ChunkConfig
        from stepaudio_engine.tokenizer.vq02 import StreamingFrontend

        c = self.chunking
        enc_chunk = ChunkConfig(left=c.left, frames=c.frames, overlap=c.lookahead, look_back=c.encoder_look_back)
        wav = torch.from_numpy(np.ascontiguousarray(wav16k, dtype=np.float32))
        stride = c.frames * SAMPLES_PER_LFR_FRAME
        n_chunks = wav.numel() // stride + 1
        frontend = StreamingFrontend(self.opts, self.shift, self.scale)
        calls = []      # (features (T, input), is_final); a final call may have T = 0 (re-encodes the overlap)
        for i in range(n_chunks):
            is_final = i == n_chunks - 1
            feats = frontend.feed(wav[i * stride:(i + 1) * stride], is_final)
            if feats.shape[0] > 0 or (is_final and calls):
                calls.append((feats.to(self.device), is_final))
        n_uniform = 0
        if self.batched:
            while n_uniform < len(calls) and not calls[n_uniform][1] and calls[n_uniform][0].shape[0] == c.frames:
                n_uniform += 1
        out = []
        if n_uniform > 0:
            stacked = torch.stack([f for f, _ in calls[:n_uniform]])
            memories, state = encode_uniform_calls(self.encoder, stacked, enc_chunk,
                                                   cancel.check if cancel is not None else None)
            out = [(memories[i:i + 1], False) for i in range(n_uniform)]
        else:
            state = self.encoder.new_state(enc_chunk)
        for feats, is_final in calls[n_uniform:]:
            if cancel is not None:
                cancel.check()
            out.append((self.encoder.forward_chunk(feats[None], state, enc_chunk), is_final))
        return out

    def decode_memory(self, memory: "torch.Tensor", cif_state, dec_state, is_final: bool) -> list[int]:
        """One encoder call's output rows (1, R, D) -> new token ids (CIF fires, decoder, argmax)."""
        c = self.chunking
        embeds = self.predictor.fire_chunk(memory, cif_state, (c.left, c.left + c.frames), is_final)
        if embeds.shape[0] == 0:
            return []    # FunASR skips the decoder (and its caches) when no token fires
        logits = self.decoder.forward_chunk(embeds[None], memory, dec_state, c.decoder_look_back * c.frames)
        return [i for i in logits[0].argmax(dim=-1).tolist() if i not in (BLANK_ID, SOS_ID, EOS_ID)]
