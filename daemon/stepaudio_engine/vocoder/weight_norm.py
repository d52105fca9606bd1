"""Weight norm as a parametrization, like torch.nn.utils.parametrizations.weight_norm (dim 0), but cheap to
build on the meta device.

torch's version computes the norm of the initial weight when it is registered; on a meta tensor that goes
through torch._refs, whose first use imports torch._dynamo: ~0.9 s and ~70 MiB in every worker that loads the
vocoder (weights come from hift.pt anyway). This one skips that computation on meta tensors and is otherwise
the same: keys `<name>.parametrizations.weight.original0` (g, shape (out, 1, ...)) and `original1` (v), and
the weight is torch._weight_norm(v, g, 0). tests/engine/test_vocoder_hift.py checks it against torch's.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize


class WeightNorm(nn.Module):
    def forward(self, weight_g: torch.Tensor, weight_v: torch.Tensor) -> torch.Tensor:
        return torch._weight_norm(weight_v, weight_g, 0)

    def right_inverse(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if weight.is_meta:  # shapes only: the checkpoint provides the values
            return weight.new_empty((weight.shape[0],) + (1,) * (weight.dim() - 1)), weight
        return torch.norm_except_dim(weight, 2, 0), weight


def weight_norm(module: nn.Module, name: str = "weight") -> nn.Module:
    parametrize.register_parametrization(module, name, WeightNorm(), unsafe=True)
    return module
