"""Building modules on the meta device (shapes only, no memory), without running weight initialisers.

Weights are always loaded from the checkpoint, so initialising them is wasted work; on the meta device it
is worse than wasted: `init.normal_` on a meta tensor goes through torch._refs, whose first use imports
torch._dynamo (~0.9 s on every model load, measured with `python -X importtime`). Replacing torch.nn.init's
in-place initialisers with no-ops while the modules are built avoids both (transformers does the same in
its `no_init_weights`).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import torch
from torch.nn import init

M = TypeVar("M")

_INITIALISERS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
                 "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
                 "sparse_")


def _keep(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
    return tensor


@contextmanager
def meta_modules() -> Iterator[None]:
    """Modules built inside have meta tensors and skipped initialisers (not thread-safe: load-time only)."""
    saved = {name: getattr(init, name) for name in _INITIALISERS if hasattr(init, name)}
    for name in saved:
        setattr(init, name, _keep)
    try:
        with torch.device("meta"):
            yield
    finally:
        for name, fn in saved.items():
            setattr(init, name, fn)


def build_meta(factory: Callable[[], M]) -> M:
    """Construct a module without allocating or initialising its weights."""
    with meta_modules():
        return factory()
