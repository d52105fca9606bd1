"""vq02 linguistic tokens: streaming front end + SAN-M encoder + nearest k-means centroid
(docs/engine/tokenizer.md#vq02-model).

The chunk loop is upstream's `infer_encoder` (UP:funasr_detach/models/paraformer_streaming/model.py,
docs/engine/tokenizer.md#vq02-chunk-loop) with the front end of UP:funasr_detach/frontends/wav_frontend.py
`WavFrontendOnline.forward` (docs/engine/tokenizer.md#vq02-front-end):

* the 16 kHz signal is cut into 3840-sample chunks, n = N // 3840 + 1, the last one is final; an empty final
  chunk stops the loop *without* flushing the LFR cache (so the tail is lost when N % 3840 == 0);
* fbank frames are computed on a running sample buffer; the LFR splice cache starts as 3 copies of the first
  frame; a non-final chunk emits only complete 7-frame windows (stride 6) and keeps the rest; the final chunk
  emits ceil((T - 3) / 6) windows padded with the last frame; when a final chunk adds frames but the cache plus
  new frames are fewer than 7, nothing is emitted (upstream's condition); when it adds no frame, the cache is
  flushed (and a flush with < 4 frames yields nothing, as upstream's caught exception does);
* CMVN (x + shift) * scale after LFR; every emitted chunk is encoded and its last T rows kept.

The encoder calls are computed layer at a time over all 4-row calls (tokenizer/sanm_batched.py), which gives the
chunk loop's rows up to float rounding (~3e-6 at the released size) and the same codes; `encode(batched=False)`
runs the plain loop (the reference the tests compare against).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from stepaudio_engine.api import CancelToken, EngineError, Reason
from stepaudio_engine.load_errors import describe_torch_load_error, read_state_dict
from stepaudio_engine.kaldi_fbank import VQ02_FBANK, fbank_frame_count, kaldi_fbank
from stepaudio_engine.tokenizer.fbank import FrontendOptions, load_cmvn, stack_lfr
from stepaudio_engine.tokenizer.folders import DOWNLOAD_HINT, TokenizerFiles
from stepaudio_engine.tokenizer.sanm import ChunkConfig, SanmConfig, SanmEncoder
from stepaudio_engine.tokenizer.sanm_batched import encode_calls

log = logging.getLogger(__name__)

CHUNK_SAMPLES_PER_FRAME = 960   # one LFR frame = 6 x 10 ms = 960 samples at 16 kHz (chunk_stride = 4 * 960)


class StreamingFrontend:
    """fbank -> LFR -> CMVN on 3840-sample chunks, with upstream's caches and edge rules."""

    def __init__(self, opts: FrontendOptions, shift: np.ndarray, scale: np.ndarray) -> None:
        self.opts = opts
        self.shift = torch.from_numpy(shift)
        self.scale = torch.from_numpy(scale)
        self.samples = torch.zeros(0)                 # unconsumed tail of the sample buffer
        self.splice: Optional[torch.Tensor] = None    # fbank frames not yet used as a window start

    def feed(self, chunk: torch.Tensor, is_final: bool) -> torch.Tensor:
        """Return the (T, n_mels * lfr_m) features this chunk completes (T may be 0)."""
        o = self.opts
        buffer = torch.cat((self.samples, chunk))
        n_frames = fbank_frame_count(buffer.numel(), o.fbank)
        self.samples = buffer[n_frames * o.window_shift:]
        context = (o.lfr_m - 1) // 2
        if n_frames == 0:
            if not is_final or self.splice is None:
                return self._empty()
            frames, self.splice = self.splice, None
            return self._finish(frames, max(0, math.ceil((frames.shape[0] - context) / o.lfr_n)))
        feats = kaldi_fbank(buffer[: (n_frames - 1) * o.window_shift + o.window_size], o.fbank)
        if self.splice is None:
            self.splice = feats[:1].repeat(context, 1)
        frames = torch.cat((self.splice, feats))
        if frames.shape[0] < o.lfr_m:
            self.splice = frames      # upstream keeps them even on the final chunk, where they are lost
            return self._empty()
        if is_final:
            self.splice = None
            return self._finish(frames, math.ceil((frames.shape[0] - context) / o.lfr_n))
        count = (frames.shape[0] - o.lfr_m) // o.lfr_n + 1      # complete windows only
        self.splice = frames[count * o.lfr_n:]
        return self._finish(frames, count)

    def _finish(self, frames: torch.Tensor, count: int) -> torch.Tensor:
        lfr = stack_lfr(frames, count, self.opts.lfr_m, self.opts.lfr_n)
        return (lfr + self.shift) * self.scale

    def _empty(self) -> torch.Tensor:
        return torch.zeros(0, self.opts.n_mels * self.opts.lfr_m)


@dataclass
class Vq02Result:
    feats: np.ndarray      # float32 (T, 560): LFR + CMVN features, all chunks concatenated
    encoded: np.ndarray    # float32 (T, 512): encoder output rows kept per chunk
    codes: np.ndarray      # int64 (T,): nearest-centroid indices 0..1023
    # int64 (calls, 2): per encoder call, the feature rows fed in and the rows the encoder returned
    # (cache + overlap + the chunk; the last `fed` rows are kept). Empty when there was no call.
    call_lengths: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    return read_state_dict(path, DOWNLOAD_HINT)


def _encoder_config(weights: dict[str, torch.Tensor], yaml_conf: dict, path: Path) -> SanmConfig:
    """Sizes from the tensors themselves (robust to config spelling); heads from config.yaml (default 4)."""
    try:
        blocks = 1 + len({k.split(".")[2] for k in weights if k.startswith("encoder.encoders.")})
        return SanmConfig(
            input_size=weights["encoder.encoders0.0.norm1.weight"].shape[0],
            output_size=weights["encoder.after_norm.weight"].shape[0],
            attention_heads=int((yaml_conf.get("encoder_conf") or {}).get("attention_heads", 4)),
            linear_units=weights["encoder.encoders0.0.feed_forward.w_1.weight"].shape[0],
            num_blocks=blocks,
            kernel_size=weights["encoder.encoders0.0.self_attn.fsmn_block.weight"].shape[-1],
        )
    except KeyError as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: encoder tensor {exc} missing", DOWNLOAD_HINT) from exc


def build_encoder(weights: dict[str, torch.Tensor], yaml_conf: dict, path: Path) -> SanmEncoder:
    """Instantiate the encoder and load every `encoder.*` tensor strictly (names reported on mismatch)."""
    encoder = SanmEncoder(_encoder_config(weights, yaml_conf, path))
    enc = {k[len("encoder."):]: v for k, v in weights.items() if k.startswith("encoder.")}
    expected = encoder.state_dict()
    missing = sorted(set(expected) - set(enc))
    unexpected = sorted(set(enc) - set(expected))
    wrong = sorted(k for k in set(expected) & set(enc) if tuple(expected[k].shape) != tuple(enc[k].shape))
    if missing or unexpected or wrong:
        raise EngineError(Reason.MODEL_CORRUPT,
                          f"{path}: encoder weights do not match: missing {missing[:5]}, unexpected "
                          f"{unexpected[:5]}, wrong shape {wrong[:5]}", DOWNLOAD_HINT)
    encoder.load_state_dict({k: v.float() for k, v in enc.items()}, strict=True)
    others = len(weights) - len(enc)
    log.debug("loaded %d encoder tensors from %s (%d predictor/decoder tensors unused)", len(enc), path, others)
    return encoder.eval()


def _frontend_options(yaml_conf: dict, path: Path) -> FrontendOptions:
    conf = yaml_conf.get("frontend_conf") or {}
    window = conf.get("window", "hamming")
    if window != "hamming":
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: frontend window {window!r} is not supported",
                          "this engine implements the released Paraformer front end (hamming window)")
    if float(conf.get("dither", 0.0)) != 0.0:
        log.debug("config dither %s ignored: vq02 runs with dither 0 for deterministic codes", conf["dither"])
    fbank = replace(VQ02_FBANK, sample_rate=int(conf.get("fs", 16000)), n_mels=int(conf.get("n_mels", 80)),
                    frame_length_ms=float(conf.get("frame_length", 25)),
                    frame_shift_ms=float(conf.get("frame_shift", 10)))
    return FrontendOptions(fbank=fbank, lfr_m=int(conf.get("lfr_m", 7)), lfr_n=int(conf.get("lfr_n", 6)))


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        conf = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"cannot read {path}: {exc}", DOWNLOAD_HINT) from exc
    if not isinstance(conf, dict):
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: not a YAML mapping", DOWNLOAD_HINT)
    return conf


def load_codebook(path: Path, dim: int) -> np.ndarray:
    try:
        book = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"cannot load {path}: {describe_torch_load_error(exc)}",
                          DOWNLOAD_HINT) from exc
    if book.ndim != 2 or book.shape[1] != dim:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: codebook shape {book.shape}, expected (K, {dim})",
                          DOWNLOAD_HINT)
    return np.ascontiguousarray(book, dtype=np.float32)


def nearest_centroid(frames: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """argmin_j ||x - c_j||_2 with torch.cdist as upstream (UP:tokenizer.py `dump_label`); int64 (T,)."""
    if frames.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    dist = torch.cdist(torch.from_numpy(frames), torch.from_numpy(codebook))
    return dist.argmin(dim=1).numpy().astype(np.int64)


class Vq02Tokenizer:
    def __init__(self, files: TokenizerFiles, device: str = "cpu") -> None:
        conf = _read_yaml(files.paraformer_config)
        self.opts = _frontend_options(conf, files.paraformer_config)
        self.shift, self.scale = load_cmvn(files.paraformer_cmvn)
        self.encoder = build_encoder(_load_state_dict(files.paraformer_weights), conf, files.paraformer_weights)
        feat_dim = self.opts.n_mels * self.opts.lfr_m
        if self.encoder.cfg.input_size != feat_dim or self.shift.shape[0] != feat_dim:
            raise EngineError(Reason.MODEL_CORRUPT,
                              f"{files.paraformer_dir}: encoder input {self.encoder.cfg.input_size}, CMVN "
                              f"{self.shift.shape[0]} and front end {feat_dim} dims disagree", DOWNLOAD_HINT)
        self.codebook = load_codebook(files.codebook, self.encoder.cfg.output_size)
        self.device = torch.device(device)
        self.encoder.to(self.device)
        self.chunk = ChunkConfig()

    def memory_bytes(self) -> int:
        params = sum(p.numel() * p.element_size() for p in self.encoder.parameters())
        return params + self.codebook.nbytes

    def encode(self, wav16k: np.ndarray, cancel: Optional[CancelToken] = None, batched: bool = True) -> Vq02Result:
        """Run the chunk loop over a 16 kHz float32 signal.

        With `batched` (default) the encoder runs layer by layer over all calls of 4 rows at once
        (tokenizer/sanm_batched.py: same rows up to float rounding, several times faster because the weights
        are read once per layer instead of once per 240 ms chunk); `batched=False` is the plain chunk loop,
        kept as the reference.
        """
        wav = torch.from_numpy(np.ascontiguousarray(wav16k, dtype=np.float32))
        stride = self.chunk.frames * CHUNK_SAMPLES_PER_FRAME
        n_chunks = wav.numel() // stride + 1
        frontend = StreamingFrontend(self.opts, self.shift, self.scale)
        calls = []
        for i in range(n_chunks):
            if cancel is not None:
                cancel.check()
            is_final = i == n_chunks - 1
            piece = wav[i * stride:(i + 1) * stride]
            if is_final and piece.numel() == 0:
                break   # upstream stops here without flushing the LFR cache (docs/engine/tokenizer.md#vq02-chunk-loop)
            feats = frontend.feed(piece, is_final)
            if feats.shape[0] > 0:   # upstream calls the encoder only for chunks that produce features
                calls.append(feats)
        check = cancel.check if cancel is not None else None
        enc_out, returned = self._encode_calls([f.to(self.device) for f in calls], check, batched)
        dim_in, dim_out = self.encoder.cfg.input_size, self.encoder.cfg.output_size
        feats_np = torch.cat(calls).numpy() if calls else np.zeros((0, dim_in), np.float32)
        enc_np = torch.cat(enc_out).numpy() if enc_out else np.zeros((0, dim_out), np.float32)
        lengths = np.array([[f.shape[0], n] for f, n in zip(calls, returned)], dtype=np.int64).reshape(-1, 2)
        return Vq02Result(feats=feats_np, encoded=enc_np, codes=nearest_centroid(enc_np, self.codebook),
                          call_lengths=lengths)

    def _encode_calls(self, calls: list[torch.Tensor], check,
                      batched: bool) -> tuple[list[torch.Tensor], list[int]]:
        """Encoder output rows kept per call (the last T rows of each (T, 560) call, float32 on the CPU), and
        the number of rows each call returned."""
        if batched:
            outs = encode_calls(self.encoder, calls, self.chunk, check)
        else:
            state = self.encoder.new_state(self.chunk)
            outs = []
            for feats in calls:
                if check is not None:
                    check()
                outs.append(self.encoder.forward_chunk(feats[None], state, self.chunk))
        kept = [out[0, -feats.shape[0]:].float().cpu() for out, feats in zip(outs, calls)]
        return kept, [int(out.shape[1]) for out in outs]
