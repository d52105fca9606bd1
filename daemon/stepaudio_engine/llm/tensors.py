"""Tensor plumbing shared by the LLM loaders: build the model on the meta device, place checkpoint tensors
into it, check nothing was left unset, and count its bytes. Loaders (dense.py, quant_*.py) import this;
it imports none of them.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from stepaudio_engine.api import EngineError, Reason

from ..meta import build_meta
from .checkpoint import Checkpoint
from .config import Step1Config
from .model import Step1ForCausalLM


def _tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def module_bytes(model: nn.Module) -> int:
    """Bytes of parameters and buffers, bitsandbytes' quantisation statistics included."""
    total = 0
    for p in model.parameters():
        total += _tensor_bytes(p)
        state = getattr(p, "quant_state", None)   # bitsandbytes Params4bit keeps its statistics here
        if state is not None:
            nested = getattr(state, "state2", None)   # removed when bitsandbytes repacks for its CPU kernel
            parts = [getattr(state, "absmax", None), getattr(state, "code", None), getattr(state, "offset", None)]
            if nested is not None:
                parts += [nested.absmax, nested.code]
            total += sum(_tensor_bytes(t) for t in parts if isinstance(t, torch.Tensor))
    total += sum(_tensor_bytes(b) for b in model.buffers())
    return total


def set_tensor(model: nn.Module, name: str, value: torch.Tensor) -> None:
    """Place `value` as the parameter (or buffer) `name`, replacing the meta placeholder."""
    owner_name, _, leaf = name.rpartition(".")
    owner = model.get_submodule(owner_name)
    if leaf in owner._buffers:
        owner._buffers[leaf] = value
    else:
        setattr(owner, leaf, nn.Parameter(value, requires_grad=False))


def fill_dense(model: nn.Module, ckpt: Checkpoint, names: list[str], device: torch.device,
               dtype: torch.dtype) -> None:
    """Read `names` from the checkpoint into the model as `dtype` tensors on `device`."""
    for name in names:
        set_tensor(model, name, ckpt.tensor(name).to(device=device, dtype=dtype))


def assert_materialized(model: nn.Module, folder: Path) -> None:
    """INTERNAL error naming the tensors a loader left on the meta device."""
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if left:
        raise EngineError(Reason.INTERNAL, f"loading {folder} left tensors unset: {', '.join(left[:8])}", "")


def meta_model(config: Step1Config) -> Step1ForCausalLM:
    """The model with every tensor on the meta device (no memory), to be filled from a checkpoint."""
    return build_meta(lambda: Step1ForCausalLM(config))
