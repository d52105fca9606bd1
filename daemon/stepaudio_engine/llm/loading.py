"""load_llm: build our step1 model for a variant and fill it from the folder's safetensors, strictly.

The model is constructed on the meta device (no memory), quantized variants swap in their own Linear
modules, and then every tensor is read once, converted, and placed on the target device.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch
from torch import nn

from stepaudio_engine.api import EngineError, Reason

from .checkpoint import open_checkpoint
from .config import Step1Config, read_config
from .model import Step1ForCausalLM
from .tensors import assert_materialized, module_bytes
from .variants import check_variant

log = logging.getLogger(__name__)

# variant -> (module, function) of its loader, imported on use so that an optional package (bitsandbytes,
# compressed-tensors) is needed by its own variant only. Every loader takes (config, raw config.json dict,
# checkpoint, device, dtype) and returns the filled model; a new loader (e.g. a CPU int8 one) is one row here.
LOADERS: dict[str, tuple[str, str]] = {
    "base": (".dense", "load_base"),
    "bnb": (".quant_bnb", "load_bnb"),
    "awq": (".quant_awq", "load_awq"),
}

_DTYPES = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp32": torch.float32, "float32": torch.float32}


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda if available else cpu; 'cuda' without a GPU is UNSUPPORTED."""
    if device in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise EngineError(Reason.BAD_INPUT, f"unknown device {device!r}", "use auto, cpu or cuda") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EngineError(Reason.UNSUPPORTED, "a CUDA device was requested but none is available",
                          "use --device cpu, or install a CUDA build of torch on a machine with a GPU")
    if dev.type not in ("cpu", "cuda"):
        raise EngineError(Reason.UNSUPPORTED, f"device {device!r} is not supported", "use auto, cpu or cuda")
    return dev


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """'auto' -> bf16 on CUDA (as upstream runs it), fp32 on CPU (docs/engine/models.md#variants, LoadOptions)."""
    if dtype in ("", "auto"):
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise EngineError(Reason.BAD_INPUT, f"unknown dtype {dtype!r}", "use auto, bf16 or fp32") from None


@dataclass
class LoadedLLM:
    """A loaded step1 model and what it was loaded as."""

    model: Step1ForCausalLM
    config: Step1Config
    folder: Path
    variant: str
    device: torch.device
    dtype: torch.dtype          # dtype of the unquantized tensors and of the activations
    kernel: dict[str, Any] = field(default_factory=dict)   # what multiplies the weights: kernel, bits, ...

    def memory_bytes(self) -> int:
        """Bytes of parameters and buffers (bitsandbytes quantization statistics included)."""
        if not isinstance(self.model, nn.Module):       # the onnxruntime model counts its own
            return self.model.memory_bytes()
        return module_bytes(self.model)

    def to(self, device: Union[str, torch.device]) -> "LoadedLLM":
        """Move the model (e.g. to the CPU to free the GPU, and back); returns self."""
        target = torch.device(device)
        if target.type == "cuda" and not torch.cuda.is_available():
            raise EngineError(Reason.UNSUPPORTED, "cannot move the LLM to CUDA: no GPU available", "")
        if not isinstance(self.model, nn.Module):
            if target.type != "cpu":
                raise EngineError(Reason.UNSUPPORTED, "the onnxruntime LLM runs on the CPU only", "")
            return self
        self.model.to(target)
        self.device = target
        return self


def torch_kernel(variant: str, dtype: torch.dtype) -> dict[str, Any]:
    """How the torch path multiplies the weights of `variant` (status shows it)."""
    act = str(dtype).removeprefix("torch.")
    bits = 16 if dtype == torch.bfloat16 else 32
    if variant == "bnb":
        return {"kernel": "bitsandbytes NF4", "bits": 4, "head_bits": bits, "activations": "bfloat16"}
    if variant == "awq":
        return {"kernel": "torch, int4 decompressed per forward", "bits": 4, "head_bits": bits, "activations": act}
    return {"kernel": "torch", "bits": bits, "head_bits": bits, "activations": act}


def load_llm(folder: Path, variant: str = "base", device: str = "auto", dtype: str = "auto",
             kernel: str = "auto", graph_cache: Optional[Path] = None) -> LoadedLLM:
    """Load the step1 LLM of `variant` from `folder` (e.g. <models>/Step-Audio-EditX-AWQ-4bit).

    On the CPU, `kernel` "auto" runs base 8-bit and awq/bnb 4-bit through onnxruntime (cpu_fast.py; falls back
    to torch with a logged reason where it cannot run) unless dtype fp32/bf16 is given, which keeps the torch
    path (exact for base); "torch" keeps the torch path; "onnxruntime" insists on the fast path.
    `graph_cache` is the folder for the fast path's ONNX graphs (None: built into a temporary folder).

    Errors: MODEL_MISSING (folder/config/shards absent), MODEL_CORRUPT (names the wrong tensors),
    UNSUPPORTED (variant needs a package or device that is not here), BAD_INPUT (unknown variant/dtype).
    """
    check_variant(variant)
    folder = Path(folder)
    if not folder.is_dir():
        raise EngineError(Reason.MODEL_MISSING, f"model folder {folder} does not exist",
                          "download it (`stepaudio models pull`, see README: Models) or fix --models-dir")
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    if dev.type == "cuda":
        # TF32 matmuls on Ampere+ for the fp32 parts (docs/engine/models.md#tf32; harmless elsewhere)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    config, raw = read_config(folder)
    ckpt = open_checkpoint(folder)
    fast, plan, fallback = None, None, ""
    try:
        if dev.type == "cpu":
            from .cpu_fast import choose_and_load
            fast, plan, fallback = choose_and_load(config, raw, ckpt, variant, dtype, kernel, graph_cache)
        if fast is None:
            model = _loader(variant)(config, raw, ckpt, dev, dt)
    except torch.OutOfMemoryError as exc:
        raise EngineError(Reason.OUT_OF_MEMORY, f"out of memory loading the {variant} LLM on {dev}",
                          "use a 4-bit variant (bnb/awq), another device, or close other programs") from exc
    finally:
        ckpt.close()
    if fast is not None and plan is not None:
        loaded = LoadedLLM(fast, config, folder, variant, dev, torch.float32, plan.describe())
    else:
        assert_materialized(model, folder)
        model.eval().requires_grad_(False)
        info = torch_kernel(variant, dt)
        if fallback:
            info["fallback"] = fallback
        loaded = LoadedLLM(model, config, folder, variant, dev, dt, info)
    log.info("loaded step1 %s from %s on %s (%s): %.1f MB, %s", variant, folder, dev, dt,
             loaded.memory_bytes() / 1e6, loaded.kernel)
    return loaded


def _loader(variant: str) -> Callable[..., Step1ForCausalLM]:
    module, function = LOADERS[variant]
    return getattr(importlib.import_module(module, __package__), function)
