"""Tiny `Step-Audio-Tokenizer/` folder: the released layout and file formats with tiny random weights.

What is real: file names, formats (YAML config, FunASR configuration.json, zip-pickle state dict with the
released key names, Kaldi-nnet text am.mvn, JSON token list, numpy codebook, ONNX with the released
input/output signature), the front end sizes (80 mel x LFR 7 = 560 inputs). What is tiny: encoder width 32, FFN
64, 3 blocks, the CIF predictor, a 2-block SAN-M decoder over a 34-token vocabulary (CJK characters, English
words and "@@" pieces, so ASR text post-processing is exercised), and a small vq06 network (two stride-2 convs +
nearest of 4096 unit vectors). Output is noise.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stepaudio_engine.tokenizer.folders import CODEBOOK_FILE, FUNASR_MODEL_ID, TOKENIZER_FOLDER, VQ06_FILE

TINY_DIM = 32
TINY_FFN = 64
TINY_BLOCKS = 3
TINY_HEADS = 4
FEAT_DIM = 560           # 80 mel bins x LFR 7, as released
VQ06_WIDTH = 16
VQ06_CODES = 4096
VQ02_CODES = 1024
TINY_DECODER_BLOCKS = 2
# FunASR order: <blank> 0, <s> 1, </s> 2, ..., <unk> last (docs/engine/models.md#tokenizer-folder; vocab 8501 released)
TINY_TOKENS = (["<blank>", "<s>", "</s>"] + list("你好世界我们的是说话") + ["1", "2", "，"]
               + ["hello", "world", "the", "a", "b", "c", "speech", "wor@@", "ld", "sp@@", "eech", "it's",
                  "ok", "x@@", "<unk>"])


@dataclass(frozen=True)
class ParaformerSizes:
    """Sizes of the random Paraformer (encoder + CIF predictor + decoder + vocabulary)."""

    dim: int = TINY_DIM
    ffn: int = TINY_FFN
    blocks: int = TINY_BLOCKS
    heads: int = TINY_HEADS
    decoder_blocks: int = TINY_DECODER_BLOCKS
    vocab: int = len(TINY_TOKENS)


TINY_SIZES = ParaformerSizes()
# the released model: docs/engine/tokenizer.md#vq02-model and funasr_detach paraformer_streaming/template.yaml (decoder
# 16 blocks)
RELEASED_SIZES = ParaformerSizes(dim=512, ffn=2048, blocks=50, heads=4, decoder_blocks=16, vocab=8501)


def _letters(i: int) -> str:
    """0 -> "a", 25 -> "z", 26 -> "ab", ...: distinct all-letter strings."""
    out = ""
    while True:
        out += chr(ord("a") + i % 26)
        i //= 26
        if i == 0:
            return out


def token_list(vocab: int) -> list[str]:
    """The tiny list, or for other sizes a synthetic one: specials, CJK characters, English words and pieces."""
    if vocab == len(TINY_TOKENS):
        return list(TINY_TOKENS)
    body = vocab - 4
    cjk = [chr(0x4E00 + i) for i in range(body * 3 // 4)]
    rest = body - len(cjk)
    latin = [_letters(i) + ("@@" if i % 3 == 2 else "") for i in range(rest)]
    return ["<blank>", "<s>", "</s>"] + cjk + latin + ["<unk>"]


def _config_yaml(z: ParaformerSizes) -> str:
    return f"""# random Paraformer streaming model in the released FunASR layout (noise output)
model: ParaformerStreaming
model_conf:
  ctc_weight: 0.0
  lsm_weight: 0.1
  length_normalized_loss: true
  predictor_weight: 1.0
  predictor_bias: 1
  sampling_ratio: 0.75
encoder: SANMEncoderChunkOpt
encoder_conf:
  output_size: {z.dim}
  attention_heads: {z.heads}
  linear_units: {z.ffn}
  num_blocks: {z.blocks}
  dropout_rate: 0.1
  positional_dropout_rate: 0.1
  attention_dropout_rate: 0.1
  input_layer: pe_online
  pos_enc_class: SinusoidalPositionEncoder
  normalize_before: true
  kernel_size: 11
  sanm_shfit: 0
  selfattention_layer_type: sanm
  chunk_size: [12, 15]
  stride: [8, 10]
  pad_left: [0, 0]
  encoder_att_look_back_factor: [4, 4]
  decoder_att_look_back_factor: [1, 1]
predictor: CifPredictorV2
predictor_conf:
  idim: {z.dim}
  threshold: 1.0
  l_order: 1
  r_order: 1
  tail_threshold: 0.45
frontend: WavFrontendOnline
frontend_conf:
  fs: 16000
  window: hamming
  n_mels: 80
  frame_length: 25
  frame_shift: 10
  lfr_m: 7
  lfr_n: 6
decoder: ParaformerSANMDecoder
decoder_conf:
  attention_heads: {z.heads}
  linear_units: {z.ffn}
  num_blocks: {z.decoder_blocks}
  dropout_rate: 0.1
  positional_dropout_rate: 0.1
  self_attention_dropout_rate: 0.1
  src_attention_dropout_rate: 0.1
  att_layer_num: {z.decoder_blocks}
  kernel_size: 11
  sanm_shfit: 5
tokenizer: CharTokenizer
tokenizer_conf:
  unk_symbol: <unk>
"""


def _configuration_json() -> str:
    meta = {
        "framework": "pytorch",
        "task": "auto-speech-recognition",
        "model": {"type": "funasr"},
        "pipeline": {"type": "funasr-pipeline"},
        "file_path_metas": {"init_param": "model.pt", "config": "config.yaml",
                            "tokenizer_conf": {"token_list": "tokens.json"},
                            "frontend_conf": {"cmvn_file": "am.mvn"}},
    }
    return json.dumps(meta, indent=2)


def _am_mvn(rng: np.random.Generator) -> str:
    """Kaldi nnet text: shift ~ -(mean log-fbank), scale ~ 1/std, 560 values each."""
    shift = -(9.0 + rng.random(FEAT_DIM))
    scale = 0.2 + 0.1 * rng.random(FEAT_DIM)
    fmt = lambda v: " ".join(f"{x:.6f}" for x in v)  # noqa: E731
    return (f"<Nnet>\n<Splice> {FEAT_DIM} {FEAT_DIM}\n[ 0 ]\n"
            f"<AddShift> {FEAT_DIM} {FEAT_DIM}\n<LearnRateCoef> 0 [ {fmt(shift)} ]\n"
            f"<Rescale> {FEAT_DIM} {FEAT_DIM}\n<LearnRateCoef> 0 [ {fmt(scale)} ]\n</Nnet>\n")


def _paraformer_state_dict(z: ParaformerSizes):
    import torch

    from stepaudio_engine.tokenizer.sanm import SanmConfig, SanmEncoder

    cfg = SanmConfig(input_size=FEAT_DIM, output_size=z.dim, attention_heads=z.heads,
                     linear_units=z.ffn, num_blocks=z.blocks, kernel_size=11)
    encoder = SanmEncoder(cfg)
    state = {f"encoder.{k}": v.clone() for k, v in encoder.state_dict().items()}
    for key, value in state.items():   # non-trivial norms so that every parameter matters
        if "norm" in key:
            value.add_(0.1 * torch.randn_like(value))
    # CIF predictor (CifPredictorV2, l_order 1 + r_order 1): released key names, used by ASR only
    state["predictor.cif_conv1d.weight"] = 0.1 * torch.randn(z.dim, z.dim, 3)
    state["predictor.cif_conv1d.bias"] = torch.zeros(z.dim)
    # weights scaled with the width and a bias of -0.85 so that alpha ~ sigmoid(-0.85) ~ 0.3 per 60 ms frame,
    # i.e. a few tokens per second (measured: ~5/s tiny, ~2/s at width 512; unscaled 512 gives ~1/s)
    state["predictor.cif_output.weight"] = 0.1 * (TINY_DIM / z.dim) ** 0.5 * torch.randn(1, z.dim)
    state["predictor.cif_output.bias"] = torch.full((1,), -0.85)
    with torch.random.fork_rng(devices=[]):   # own stream: the encoder and vq06 draws stay as before
        torch.manual_seed(int(torch.initial_seed()) + 1)
        state.update(_decoder_state_dict(z))
    return state


def _decoder_state_dict(z: ParaformerSizes):
    """ParaformerSANMDecoder keys (`decoder.decoders.{i}.*`, `decoders3.0.*`, `after_norm`, `output_layer`,
    and the training-only `embed.0`)."""
    import torch

    from stepaudio_engine.asr.decoder import DecoderConfig, SanmDecoder

    cfg = DecoderConfig(dim=z.dim, vocab=z.vocab, heads=z.heads, linear_units=z.ffn,
                        num_blocks=z.decoder_blocks, kernel_size=11, sanm_shift=5)
    state = {f"decoder.{k}": v.clone() for k, v in SanmDecoder(cfg).state_dict().items()}
    for key, value in state.items():
        if "norm" in key:
            value.add_(0.1 * torch.randn_like(value))
    state["decoder.output_layer.weight"].mul_(6.0)   # sharper logits: the noise output uses more of the vocabulary
    state["decoder.embed.0.weight"] = torch.randn(z.vocab, z.dim)
    return state


def _vq06_module():
    import torch
    from torch import nn

    class TinyVq06(nn.Module):
        """(1, 128, T) log-mel + (1,) length -> (1, ceil(ceil(T/2)/2)) int64 codes, 25 per second."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv1d(128, VQ06_WIDTH, 3, stride=2, padding=1)
            self.conv2 = nn.Conv1d(VQ06_WIDTH, VQ06_WIDTH, 3, stride=2, padding=1)
            book = torch.randn(VQ06_CODES, VQ06_WIDTH)
            self.register_buffer("codebook", book / book.norm(dim=1, keepdim=True))

        def forward(self, feats: torch.Tensor, feats_length: torch.Tensor) -> torch.Tensor:
            frames = torch.arange(feats.shape[2], device=feats.device)
            mask = (frames[None, :] < feats_length[:, None].long()).to(feats.dtype)
            x = nn.functional.gelu(self.conv1(feats * mask[:, None, :]))
            x = nn.functional.gelu(self.conv2(x)).transpose(1, 2)
            x = x / (x.norm(dim=-1, keepdim=True) + 1e-12)
            return torch.matmul(x, self.codebook.T).argmax(dim=-1)

    return TinyVq06().eval()


def _export_vq06(path: Path) -> None:
    import torch

    module = _vq06_module()
    example = (torch.randn(1, 128, 100), torch.tensor([100], dtype=torch.int32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the TorchScript exporter is deprecated but needs no onnxscript
        torch.onnx.export(module, example, str(path), input_names=["feats", "feats_length"],
                          output_names=["indices"], dynamic_axes={"feats": {2: "T"}, "indices": {1: "T4"}},
                          opset_version=17, dynamo=False)


def write_tiny_tokenizer(root: Path, seed: int = 0) -> Path:
    """Write `root/Step-Audio-Tokenizer/` with tiny seeded random weights; return that folder."""
    return write_random_tokenizer(root, seed, TINY_SIZES)


def write_random_tokenizer(root: Path, seed: int = 0, sizes: ParaformerSizes = RELEASED_SIZES) -> Path:
    """Like write_tiny_tokenizer with other Paraformer sizes (RELEASED_SIZES: ~880 MB model.pt, for benchmarks
    and parity checks); the vq06 ONNX stays tiny."""
    import torch

    out = Path(root) / TOKENIZER_FOLDER
    para = out / FUNASR_MODEL_ID
    para.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = _paraformer_state_dict(sizes)
        torch.save(state, para / "model.pt")
        _export_vq06(out / VQ06_FILE)
    (para / "config.yaml").write_text(_config_yaml(sizes), encoding="utf-8")
    (para / "configuration.json").write_text(_configuration_json(), encoding="utf-8")
    (para / "am.mvn").write_text(_am_mvn(rng), encoding="utf-8")
    tokens = token_list(sizes.vocab)
    (para / "tokens.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
    (para / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    codebook = rng.standard_normal((VQ02_CODES, sizes.dim)).astype(np.float32)
    np.save(out / CODEBOOK_FILE, codebook)
    return out
