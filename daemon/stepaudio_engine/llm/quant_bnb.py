"""The `bnb` variant: bitsandbytes 4-bit NF4 with double quantization and bf16 compute (docs/engine/models.md#variants).

Two folder layouts load:
- pre-quantized (what `save_pretrained` of a bitsandbytes model writes, the layout of the
  `Step-Audio-EditX-bnb-4bit` folder of the Optimized fork, docs/engine/models.md#variants): each decoder Linear stores
  `<name>.weight` (packed uint8) plus `<name>.weight.absmax`, `.quant_map`, `.nested_absmax`,
  `.nested_quant_map` and `.quant_state.bitsandbytes__nf4`;
- plain bf16 weights (e.g. the base folder): quantized while loading, as upstream's `--quantization int4` does.
Embeddings, norms and lm_head stay unquantized (transformers never quantizes lm_head).
bitsandbytes >= 0.48 runs 4-bit on the CPU too (checked with 0.50.2 on this machine).
"""
from __future__ import annotations

import logging
from typing import Any

import torch

from stepaudio_engine.api import EngineError, Reason

from .checkpoint import Checkpoint
from .config import Step1Config
from .contract import compare, expected_tensors, linear_shapes, require
from .tensors import fill_dense, meta_model
from .model import Step1ForCausalLM

log = logging.getLogger(__name__)

COMPUTE_DTYPE = torch.bfloat16    # bnb_4bit_compute_dtype (UP:model_loader.py `_prepare_quantization_config`)
QUANT_TYPE = "nf4"
# the tensors save_pretrained writes next to `<linear>.weight` for a 4-bit NF4 layer with double quantization
STAT_SUFFIXES = ("absmax", "quant_map", "nested_absmax", "nested_quant_map", "quant_state.bitsandbytes__nf4")


def import_bnb() -> Any:
    try:
        import bitsandbytes
    except ImportError as exc:
        raise EngineError(Reason.UNSUPPORTED, "the bnb variant needs the bitsandbytes package",
                          "pip install 'bitsandbytes>=0.48', or use --variant base") from exc
    return bitsandbytes


def quantization_config(compute_dtype: str = "bfloat16") -> dict[str, Any]:
    """The quantization_config transformers writes for this setup (used by the tiny writer)."""
    return {"quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": False,
            "bnb_4bit_quant_type": QUANT_TYPE, "bnb_4bit_use_double_quant": True,
            "bnb_4bit_compute_dtype": compute_dtype, "bnb_4bit_quant_storage": "uint8",
            "llm_int8_skip_modules": None, "llm_int8_threshold": 6.0}


def is_prequantized(ckpt: Checkpoint, linear: str) -> bool:
    return f"{linear}.weight.absmax" in ckpt.shapes


def check_prequantized(config: Step1Config, ckpt: Checkpoint) -> None:
    """Names: the dense contract with every decoder Linear's weight replaced by a packed weight + statistics;
    packed sizes: out*in/2 bytes."""
    expected = expected_tensors(config)
    linears = linear_shapes(config)
    for name in linears:
        del expected[name + ".weight"]
    found = {n: s for n, s in ckpt.shapes.items()
             if not any(n == f"{lin}.weight" or n.startswith(f"{lin}.weight.") for lin in linears)}
    report = compare(expected, found)
    for lin, (out_f, in_f) in linears.items():
        names = [f"{lin}.weight"] + [f"{lin}.weight.{s}" for s in STAT_SUFFIXES]
        report.missing += [n for n in names if n not in ckpt.shapes]
        weight = ckpt.shapes.get(f"{lin}.weight")
        if weight is not None:
            numel = 1
            for d in weight:
                numel *= d
            if numel * 2 != out_f * in_f:
                report.misshaped.append((f"{lin}.weight", (out_f * in_f // 2, 1), weight))
        known = set(names)
        report.unexpected += [n for n in ckpt.shapes if n.startswith(f"{lin}.weight.") and n not in known]
    require(report, str(ckpt.folder))


def _replace(model: Step1ForCausalLM, name: str, module: torch.nn.Module) -> None:
    owner, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(owner), leaf, module)


def check_bnb(config: Step1Config, raw: dict[str, Any], ckpt: Checkpoint) -> bool:
    """Check the folder against the contract; True when its Linears are pre-quantized NF4."""
    qcfg = raw.get("quantization_config") or {}
    if qcfg and (qcfg.get("quant_method") != "bitsandbytes" or not qcfg.get("load_in_4bit")):
        raise EngineError(Reason.UNSUPPORTED,
                          f"{ckpt.folder}/config.json has a {qcfg.get('quant_method')} quantization_config, "
                          "not bitsandbytes 4-bit", "use the variant this folder was made for")
    linears = linear_shapes(config)
    prequantized = any(is_prequantized(ckpt, lin) for lin in linears)
    if prequantized:
        check_prequantized(config, ckpt)
    else:
        require(compare(expected_tensors(config), ckpt.shapes), str(ckpt.folder))
    return prequantized


def nf4_layer(bnb: Any, ckpt: Checkpoint, lin: str, out_f: int, in_f: int, prequantized: bool,
              device: torch.device) -> Any:
    """One decoder Linear as a bitsandbytes NF4 Linear4bit on `device`."""
    layer = bnb.nn.Linear4bit(in_f, out_f, bias=False, compute_dtype=COMPUTE_DTYPE,
                              compress_statistics=True, quant_type=QUANT_TYPE, device="meta")
    if prequantized:
        stats = {s: ckpt.tensor(f"{lin}.weight.{s}") for s in STAT_SUFFIXES}
        layer.weight = bnb.nn.Params4bit.from_prequantized(
            ckpt.tensor(f"{lin}.weight"), stats, requires_grad=False, device=device, module=layer)
        return layer
    weight = ckpt.tensor(f"{lin}.weight").to(COMPUTE_DTYPE)
    layer.weight = bnb.nn.Params4bit(weight, requires_grad=False, compress_statistics=True,
                                     quant_type=QUANT_TYPE, module=layer)
    return layer.to(device)    # bitsandbytes quantizes when the weight is moved to its device


def load_bnb(config: Step1Config, raw: dict[str, Any], ckpt: Checkpoint, device: torch.device,
             dtype: torch.dtype) -> Step1ForCausalLM:
    bnb = import_bnb()
    prequantized = check_bnb(config, raw, ckpt)
    linears = linear_shapes(config)
    model = meta_model(config)
    dense = [n for n in expected_tensors(config) if n.rpartition(".")[0] not in linears]
    fill_dense(model, ckpt, dense, device, dtype)
    for lin, (out_f, in_f) in linears.items():
        _replace(model, lin, nf4_layer(bnb, ckpt, lin, out_f, in_f, prequantized, device))
    log.debug("bnb: %d Linear layers as NF4 (%s)", len(linears), "pre-quantized" if prequantized else "at load")
    return model
