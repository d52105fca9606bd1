"""Runs step1 through our two onnxruntime graphs (ort_graph.py) with the same call interface as
Step1ForCausalLM: `model(ids, cache, last_only)`, `hidden_states`, `lm_head`, `new_cache`, `config`.

What stays exact: the embedding (bf16 rows of the released table, widened to fp32), the ALiBi bias (built by
model.sqrt_alibi_bias in fp32, as the torch path does), the KV cache (fp32, appended as computed). What is
approximate: each Linear's weight (4 or 8 bits per value, block scales) and, with accuracy_level 4, its input
(int8 per block, onnxruntime's MLAS kernels).

Batch size is 1 (the engine generates one sequence per job).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from stepaudio_engine.api import EngineError, Reason

from .config import Step1Config
from .model import alibi_slopes, sqrt_alibi_bias


@dataclass
class OrtKVCache:
    """Per-layer keys/values as fp32 numpy (capacity, groups, head_dim), time-major so that the past
    `buf[:length]` is one contiguous block onnxruntime reads without a copy; capacity doubles as it grows."""

    keys: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    length: int = 0

    @classmethod
    def empty(cls, layers: int, groups: int, head_dim: int) -> "OrtKVCache":
        def blank() -> np.ndarray:
            return np.zeros((64, groups, head_dim), dtype=np.float32)
        return cls([blank() for _ in range(layers)], [blank() for _ in range(layers)], 0)

    def past(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        return self.keys[layer][:self.length], self.values[layer][:self.length]

    def extend(self, new_keys: list[np.ndarray], new_values: list[np.ndarray]) -> None:
        end = self.length + new_keys[0].shape[0]
        for i, (k, v) in enumerate(zip(new_keys, new_values)):
            if self.keys[i].shape[0] < end:
                self.keys[i] = _grown(self.keys[i], self.length, end)
                self.values[i] = _grown(self.values[i], self.length, end)
            self.keys[i][self.length:end] = k
            self.values[i][self.length:end] = v
        self.length = end


def _grown(buf: np.ndarray, used: int, needed: int) -> np.ndarray:
    grown = np.empty((max(needed, 2 * buf.shape[0]),) + buf.shape[1:], dtype=buf.dtype)
    grown[:used] = buf[:used]
    return grown


class OrtHead:
    """The lm_head as a callable on torch tensors (..., hidden) -> (..., vocab) fp32."""

    def __init__(self, session) -> None:
        self.session = session

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        rows = h.detach().to(torch.float32).reshape(-1, h.shape[-1]).contiguous().numpy()
        logits = self.session.run(["logits"], {"h": rows})[0]
        return torch.from_numpy(logits).reshape(*h.shape[:-1], -1)


class OrtStep1:
    """step1 on onnxruntime (see module docstring)."""

    def __init__(self, config: Step1Config, embed: torch.Tensor, layers_session, head_session,
                 weight_bytes: int, folder: Optional[Path]) -> None:
        self.config = config
        self.embed = embed                       # (vocab, hidden) in the checkpoint dtype (bf16), CPU
        self.layers_session = layers_session
        self.lm_head = OrtHead(head_session)
        self.weight_bytes = weight_bytes         # quantized weights + scales + norms in the graphs
        self.folder = folder                     # where the graphs live (None: a removed temp folder)
        self.alibi_slopes = alibi_slopes(config.num_attention_heads)
        self._outputs = ["out"] + [f"new_{kind}_{i}" for i in range(config.num_hidden_layers) for kind in "kv"]

    def new_cache(self) -> OrtKVCache:
        c = self.config
        return OrtKVCache.empty(c.num_hidden_layers, c.num_attention_groups, c.head_dim)

    def memory_bytes(self) -> int:
        return int(self.weight_bytes + self.embed.numel() * self.embed.element_size())

    def eval(self) -> "OrtStep1":
        return self

    def requires_grad_(self, flag: bool = False) -> "OrtStep1":
        return self

    def hidden_states(self, input_ids: torch.Tensor, cache: Optional[OrtKVCache] = None) -> torch.Tensor:
        """Final-norm hidden states (1, L, hidden) fp32 for `input_ids` (1, L), appending to `cache`."""
        if input_ids.dim() != 2 or input_ids.shape[0] != 1:
            raise EngineError(Reason.INTERNAL, "the onnxruntime step1 runs one sequence at a time", "")
        c = self.config
        own = cache if cache is not None else self.new_cache()
        past, length = own.length, input_ids.shape[1]
        hidden = self.embed[input_ids[0].cpu()].to(torch.float32).numpy()
        bias = sqrt_alibi_bias(self.alibi_slopes, past, length, past + length, torch.float32, torch.device("cpu"))
        groups, per_group = c.num_attention_groups, c.num_attention_heads // c.num_attention_groups
        # (1, heads, L, T) -> (groups, L·R, T): rows position-major within a group, as the graph folds queries
        bias = bias.view(groups, per_group, length, -1).transpose(1, 2).reshape(groups, length * per_group, -1)
        feeds = {"hidden": hidden, "bias": bias.contiguous().numpy()}
        for i in range(c.num_hidden_layers):
            feeds[f"past_k_{i}"], feeds[f"past_v_{i}"] = own.past(i)
        out = self.layers_session.run(self._outputs, feeds)
        own.extend(out[1::2], out[2::2])
        return torch.from_numpy(out[0]).unsqueeze(0)

    def __call__(self, input_ids: torch.Tensor, cache: Optional[OrtKVCache] = None,
                 last_only: bool = False) -> torch.Tensor:
        h = self.hidden_states(input_ids, cache)
        if last_only:
            h = h[:, -1:]
        return self.lm_head(h)
