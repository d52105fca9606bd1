"""Tiny step1 LLM folders in the released layout, with random weights (for tests, benchmarks and selftest).

write_tiny_llm(root) writes
- root/Step-Audio-EditX/: config.json (tiny step1), model.safetensors.index.json + 2 bf16 shards with the real
  key names, tokenizer.model, tokenizer_config.json;
- root/Step-Audio-EditX-bnb-4bit/: the same model saved pre-quantized by bitsandbytes (NF4, double quant)
  with a bitsandbytes quantization_config, as transformers' save_pretrained lays it out (single model.safetensors);
- root/Step-Audio-EditX-AWQ-4bit/: the same model with every decoder Linear packed int4 (symmetric, group 128
  as released) and a compressed-tensors quantization_config.
The bnb/awq folders are skipped (with a log line) when bitsandbytes/compressed-tensors are not installed.

The tokenizer.model is a SentencePiece Unigram model we build ourselves with the released id layout
#text-tokenizer): <unk> 0, <s> 1, </s> 2, <|EOT|> 3, <|BOT|> 4, reserved control pieces 5..67, byte pieces
(docs/engine/llm.md
68..323 (<0x0A> = 78), ▁ = 324, a small English vocabulary, unused filler up to 65535, and <audio_N> = 65536+N
for N in 0..9215 (74 752 pieces). Text outside the small vocabulary falls back to bytes.
The output head favours audio ids so generated tokens are mostly audio; the speech is noise either way.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from safetensors.torch import save_file
from sentencepiece import sentencepiece_model_pb2 as sp_pb2

from stepaudio_engine.llm.config import Step1Config
from stepaudio_engine.llm.contract import expected_tensors, linear_shapes
from stepaudio_engine.llm.variants import VARIANTS

log = logging.getLogger(__name__)

# widths are multiples of 128 so that AWQ uses the released group size and bitsandbytes' CPU kernels
# (which need in_features divisible by the 64-value block) run; 8 heads in 2 KV groups (4:1)
TINY_CONFIG = Step1Config(hidden_size=128, intermediate_size=256, num_attention_heads=8, num_attention_groups=2,
                          num_hidden_layers=2, vocab_size=74752, max_seq_len=32768)
AWQ_GROUP_SIZE = 128
AUDIO_PIECES = 9216
FIRST_AUDIO_ID = 65536

# tokenizer_config.json fields of the released file (docs/engine/models.md#llm-folder; no add_bos_token -> BOS per
# encode)
TOKENIZER_CONFIG = {"bos_token": "<s>", "clean_up_tokenization_spaces": False, "eos_token": "</s>",
                    "legacy": False, "model_max_length": 65536, "pad_token": "<unk>", "padding_side": "left",
                    "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>",
                    "use_default_system_prompt": False}

_WORDS = ("system human assistant the following audio more and is to of a in it this that with you your are "
          "make remove add speaker name prompt text tokens generate timbre prosody speaking style emotion "
          "reference corresponding hello world voice happy sad whisper noise silent new natural sounds").split()


def tiny_tokenizer_proto() -> sp_pb2.ModelProto:
    """A Unigram ModelProto with the released special/byte/audio ids and a small normal vocabulary."""
    P = sp_pb2.ModelProto.SentencePiece
    proto = sp_pb2.ModelProto()
    t = proto.trainer_spec
    t.model_type = sp_pb2.TrainerSpec.UNIGRAM
    t.vocab_size = FIRST_AUDIO_ID + AUDIO_PIECES
    t.byte_fallback = True
    t.split_by_whitespace = True
    t.unk_id, t.bos_id, t.eos_id, t.pad_id = 0, 1, 2, -1
    n = proto.normalizer_spec
    n.name = "identity"
    n.add_dummy_prefix = True
    n.remove_extra_whitespaces = False
    n.escape_whitespaces = True

    def add(piece: str, kind: int, score: float = 0.0) -> None:
        proto.pieces.add(piece=piece, type=kind, score=score)

    add("<unk>", P.UNKNOWN)
    for piece in ("<s>", "</s>", "<|EOT|>", "<|BOT|>"):
        add(piece, P.CONTROL)
    for i in range(5, 68):
        add(f"<|reserved_{i}|>", P.CONTROL)
    for b in range(256):
        add(f"<0x{b:02X}>", P.BYTE)
    add("\u2581", P.NORMAL, -3.0)                       # id 324
    normal = [chr(c) for c in range(33, 127)] + [w for w in _WORDS] + ["\u2581" + w for w in _WORDS]
    for piece in dict.fromkeys(normal):                 # keep order, no duplicates
        add(piece, P.NORMAL, -1.0 - len(piece) ** -1 * 4 if len(piece) > 1 else -10.0)
    for i in range(len(proto.pieces), FIRST_AUDIO_ID):
        add(f"<unused_{i}>", P.UNUSED)
    for i in range(AUDIO_PIECES):
        add(f"<audio_{i}>", P.USER_DEFINED)
    return proto


def _random_weights(config: Step1Config, seed: int) -> dict[str, torch.Tensor]:
    """Seeded float32 weights for every tensor of the contract."""
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for name, shape in expected_tensors(config).items():
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            out[name] = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif name == "model.embed_tokens.weight":
            out[name] = torch.randn(shape, generator=gen)
        elif name == "lm_head.weight":
            # audio rows (and <|EOT|>) dominate so a random model mostly emits audio ids
            head = 0.01 * torch.randn(shape, generator=gen)
            audio = slice(FIRST_AUDIO_ID, FIRST_AUDIO_ID + 5120)
            head[audio] = 0.3 * torch.randn(5120, shape[1], generator=gen)
            head[3] = 0.5 * torch.randn(shape[1], generator=gen)
            out[name] = head
        else:
            out[name] = torch.randn(shape, generator=gen) * (0.5 / shape[1] ** 0.5)
    return out


def _write_common(folder: Path, config: Step1Config, quantization_config: dict | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = config.to_json_dict()
    if quantization_config is not None:
        data["quantization_config"] = quantization_config
    (folder / "config.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2) + "\n", encoding="utf-8")
    (folder / "tokenizer.model").write_bytes(tiny_tokenizer_proto().SerializeToString())


def _write_sharded(folder: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Two shards + index, like the released folder (first shard: embeddings and layer 0)."""
    names = list(tensors)
    split = next(i for i, n in enumerate(names) if n.startswith("model.layers.1."))
    shards = [names[:split], names[split:]]
    weight_map = {}
    for k, part in enumerate(shards, start=1):
        fname = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: tensors[n].contiguous() for n in part}, str(folder / fname), metadata={"format": "pt"})
        weight_map.update({n: fname for n in part})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def _write_bnb(folder: Path, config: Step1Config, tensors: dict[str, torch.Tensor]) -> bool:
    try:
        import bitsandbytes as bnb
    except ImportError:
        log.info("bitsandbytes not installed: tiny %s not written", folder.name)
        return False
    from stepaudio_engine.llm.quant_bnb import COMPUTE_DTYPE, QUANT_TYPE, quantization_config

    out: dict[str, torch.Tensor] = {}
    linears = linear_shapes(config)
    for name, tensor in tensors.items():
        module = name.rpartition(".")[0]
        if module not in linears:
            out[name] = tensor
            continue
        out_f, in_f = linears[module]
        layer = bnb.nn.Linear4bit(in_f, out_f, bias=False, compute_dtype=COMPUTE_DTYPE,
                                  compress_statistics=True, quant_type=QUANT_TYPE)
        layer.weight = bnb.nn.Params4bit(tensor.to(COMPUTE_DTYPE), requires_grad=False,
                                         compress_statistics=True, quant_type=QUANT_TYPE, module=layer)
        layer = layer.to("cpu")     # quantizes
        for key, value in layer.state_dict().items():
            out[f"{module}.{key}"] = value.detach().cpu()
    _write_common(folder, config, quantization_config())
    save_file({n: t.contiguous() for n, t in out.items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    return True


def awq_quantization_config(group_size: int = AWQ_GROUP_SIZE) -> dict:
    """compressed-tensors config of a weight-only symmetric int4 group quantization (docs/engine/models.md#variants)."""
    return {"quant_method": "compressed-tensors", "format": "pack-quantized", "quantization_status": "compressed",
            "config_groups": {"group_0": {"targets": ["Linear"], "input_activations": None, "output_activations": None,
                                          "weights": {"num_bits": 4, "type": "int", "symmetric": True,
                                                      "strategy": "group", "group_size": group_size,
                                                      "observer": "minmax", "dynamic": False, "actorder": None}}},
            "ignore": ["lm_head"], "kv_cache_scheme": None}


def _write_awq(folder: Path, config: Step1Config, tensors: dict[str, torch.Tensor]) -> bool:
    try:
        from compressed_tensors.compressors import PackedQuantizationCompressor
    except ImportError:
        log.info("compressed-tensors not installed: tiny %s not written", folder.name)
        return False
    from stepaudio_engine.llm.quant_awq import weight_scheme

    qcfg = awq_quantization_config()
    scheme = weight_scheme({"quantization_config": qcfg}, str(folder))
    linears = linear_shapes(config)
    out: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        module = name.rpartition(".")[0]
        if module not in linears:
            out[name] = tensor
            continue
        w = tensor.float()
        groups = w.view(w.shape[0], -1, AWQ_GROUP_SIZE)
        # symmetric min-max: the largest magnitude of each group maps to the int4 range's half width (7.5)
        scale = (groups.abs().amax(dim=-1) / 7.5).clamp(min=1e-8).to(torch.bfloat16)
        packed = PackedQuantizationCompressor.compress({"weight": w, "weight_scale": scale}, scheme)
        for key in ("weight_packed", "weight_scale", "weight_shape"):
            out[f"{module}.{key}"] = packed[key]
    _write_common(folder, config, qcfg)
    _write_sharded(folder, out)
    return True


def write_tiny_llm(root: Path, seed: int = 0) -> dict[str, Path]:
    """Write the tiny base/bnb/awq LLM folders under `root`; returns {variant: folder} for those written."""
    root = Path(root)
    config = TINY_CONFIG
    tensors = {n: t.to(torch.bfloat16) for n, t in _random_weights(config, seed).items()}
    written: dict[str, Path] = {}
    base = root / VARIANTS["base"].folder
    _write_common(base, config, None)
    _write_sharded(base, tensors)
    written["base"] = base
    if _write_bnb(root / VARIANTS["bnb"].folder, config, tensors):
        written["bnb"] = root / VARIANTS["bnb"].folder
    if _write_awq(root / VARIANTS["awq"].folder, config, tensors):
        written["awq"] = root / VARIANTS["awq"].folder
    return written
