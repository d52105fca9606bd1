"""The `base` variant's loader: every tensor of the released checkpoint, unquantised
(docs/engine/models.md#variants)."""
from __future__ import annotations

import torch

from .checkpoint import Checkpoint
from .config import Step1Config
from .contract import compare, expected_tensors, require
from .model import Step1ForCausalLM
from .tensors import fill_dense, meta_model


def load_base(config: Step1Config, raw: dict, ckpt: Checkpoint, device: torch.device,
              dtype: torch.dtype) -> Step1ForCausalLM:
    """The released bf16 tensors as they are, converted to `dtype` (`raw` is unused: no quantisation)."""
    expected = expected_tensors(config)
    require(compare(expected, ckpt.shapes), str(ckpt.folder))
    model = meta_model(config)
    fill_dense(model, ckpt, list(expected), device, dtype)
    return model
