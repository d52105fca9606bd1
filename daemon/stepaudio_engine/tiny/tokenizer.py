"""Tiny `Step-Audio-Tokenizer/` folder: the released layout and file formats with tiny random weights.

What is real: file names, formats (YAML config, FunASR configuration.json, zip-pickle state dict with the
released key names, Kaldi-nnet text am.mvn, numpy codebook, ONNX with the released input/output signature),
the front end sizes (80 mel x LFR 7 = 560 inputs). What is tiny: encoder width 32, FFN 64, 3 blocks, a 2-key
CIF predictor, and a small vq06 network (two stride-2 convs + nearest of 4096 unit vectors). Output is noise.
"""
from __future__ import annotations

import json
import warnings
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


def _config_yaml() -> str:
    return f"""# tiny random Paraformer streaming model in the released FunASR layout (noise output)
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
  output_size: {TINY_DIM}
  attention_heads: {TINY_HEADS}
  linear_units: {TINY_FFN}
  num_blocks: {TINY_BLOCKS}
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
  idim: {TINY_DIM}
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


def _paraformer_state_dict():
    import torch

    from stepaudio_engine.tokenizer.sanm import SanmConfig, SanmEncoder

    cfg = SanmConfig(input_size=FEAT_DIM, output_size=TINY_DIM, attention_heads=TINY_HEADS,
                     linear_units=TINY_FFN, num_blocks=TINY_BLOCKS, kernel_size=11)
    encoder = SanmEncoder(cfg)
    state = {f"encoder.{k}": v.clone() for k, v in encoder.state_dict().items()}
    for key, value in state.items():   # non-trivial norms so that every parameter matters
        if "norm" in key:
            value.add_(0.1 * torch.randn_like(value))
    # CIF predictor (CifPredictorV2, l_order 1 + r_order 1): released key names, unused by the tokenizer
    state["predictor.cif_conv1d.weight"] = 0.1 * torch.randn(TINY_DIM, TINY_DIM, 3)
    state["predictor.cif_conv1d.bias"] = torch.zeros(TINY_DIM)
    state["predictor.cif_output.weight"] = 0.1 * torch.randn(1, TINY_DIM)
    state["predictor.cif_output.bias"] = torch.zeros(1)
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
    import torch

    out = Path(root) / TOKENIZER_FOLDER
    para = out / FUNASR_MODEL_ID
    para.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = _paraformer_state_dict()
        torch.save(state, para / "model.pt")
        _export_vq06(out / VQ06_FILE)
    (para / "config.yaml").write_text(_config_yaml(), encoding="utf-8")
    (para / "configuration.json").write_text(_configuration_json(), encoding="utf-8")
    (para / "am.mvn").write_text(_am_mvn(rng), encoding="utf-8")
    tokens = ["<blank>", "<s>", "</s>", "<unk>"] + [chr(ord("a") + i) for i in range(26)]
    (para / "tokens.json").write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
    (para / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    codebook = rng.standard_normal((VQ02_CODES, TINY_DIM)).astype(np.float32)
    np.save(out / CODEBOOK_FILE, codebook)
    return out
