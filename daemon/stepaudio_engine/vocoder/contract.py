"""Loading contract of the vocoder checkpoints: expected parameter names/shapes and strict, explained loading.

`flow_parameters(cfg)` / `hift_parameters(cfg)` list every tensor `flow.pt` / `hift.pt` must hold for a
config (605 / 328 at the released config, docs/engine/vocoder.md#state-dicts). `load_module` builds the module without
allocating weights (meta device), reads the checkpoint with `torch.load(weights_only=True)`, reports missing,
unexpected and mis-shaped keys by name (EngineError MODEL_CORRUPT), then assigns the tensors.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, TypeVar

import torch
from torch import nn

from ..api import EngineError, Reason
from ..load_errors import describe_torch_load_error
from ..meta import build_meta
from .config import FlowConfig, HiftConfig
from .flow import FlowModel
from .hift import HiFTGenerator

log = logging.getLogger(__name__)

M = TypeVar("M", bound=nn.Module)
Shapes = dict[str, tuple[int, ...]]

GET_MODEL_HINT = (
    "download the complete stepfun-ai/Step-Audio-EditX model (Hugging Face or ModelScope) into the models "
    "folder; its CosyVoice-300M-25Hz/ subfolder must hold cosyvoice.yaml, flow.pt, hift.pt and campplus.onnx"
)
_MAX_NAMES = 8  # how many key names an error message lists per category


def _shapes_of(module: nn.Module) -> Shapes:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def flow_parameters(cfg: FlowConfig) -> Shapes:
    """Names and shapes of every tensor in flow.pt for this config."""
    return _shapes_of(build_meta(lambda: FlowModel(cfg)))


def hift_parameters(cfg: HiftConfig) -> Shapes:
    """Names and shapes of every tensor in hift.pt for this config (weight norm as original0/original1)."""
    return _shapes_of(build_meta(lambda: HiFTGenerator(cfg)))


def _listing(names: list[str]) -> str:
    head = ", ".join(names[:_MAX_NAMES])
    return head + (f" … (+{len(names) - _MAX_NAMES} more)" if len(names) > _MAX_NAMES else "")


def compare_state(expected: Shapes, state: dict[str, torch.Tensor]) -> list[str]:
    """Human-readable problems between expected shapes and a state dict; empty list if they match."""
    missing = sorted(k for k in expected if k not in state)
    unexpected = sorted(k for k in state if k not in expected)
    misshaped = sorted(
        f"{k} {tuple(state[k].shape)} (expected {expected[k]})"
        for k in expected
        if k in state and tuple(state[k].shape) != expected[k]
    )
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {_listing(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {_listing(unexpected)}")
    if misshaped:
        problems.append(f"{len(misshaped)} mis-shaped: {_listing(misshaped)}")
    return problems


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """torch.load with weights_only=True (no code runs); EngineError if absent or not a tensor dict."""
    path = Path(path)
    if not path.is_file():
        raise EngineError(Reason.MODEL_MISSING, f"vocoder weights not found: {path}", GET_MODEL_HINT)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors of many kinds
        raise EngineError(
            Reason.MODEL_CORRUPT, f"cannot read vocoder weights {path}: {describe_torch_load_error(exc)}",
            "the file is damaged or incomplete; download the model again",
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EngineError(
            Reason.MODEL_CORRUPT, f"{path} is not a state dict of tensors",
            "the file is damaged or not the released checkpoint; download the model again",
        )
    return state


_LEGACY_WN = {".weight_g": ".parametrizations.weight.original0", ".weight_v": ".parametrizations.weight.original1"}


def rename_legacy_weight_norm(state: dict[str, torch.Tensor], expected: Shapes) -> dict[str, torch.Tensor]:
    """Map old-style weight-norm keys (`X.weight_g` / `X.weight_v`) to the parametrization names we expect.

    #state-dicts); torch's own weight_norm load hook
    The released hift.pt uses the parametrization names (docs/engine/vocoder.md
    accepts both styles, so we do too. Keys are renamed only when the target name is expected.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for old, new in _LEGACY_WN.items():
            if key.endswith(old) and key[: -len(old)] + new in expected:
                key = key[: -len(old)] + new
                break
        out[key] = value
    return out


def load_module(factory: Callable[[], M], path: Path) -> M:
    """Build the module on the meta device, check the checkpoint strictly by name and shape, assign it."""
    state = read_checkpoint(path)
    module = build_meta(factory)
    expected = _shapes_of(module)
    state = rename_legacy_weight_norm(state, expected)
    problems = compare_state(expected, state)
    if problems:
        raise EngineError(
            Reason.MODEL_CORRUPT,
            f"{Path(path).name} does not match the vocoder config: " + "; ".join(problems),
            "the checkpoint and cosyvoice.yaml come from different models, or the file is damaged; "
            "download the model again",
        )
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    module.load_state_dict(state, strict=True, assign=True)
    log.debug("loaded %s (%d tensors)", path, len(state))
    return module.eval()
