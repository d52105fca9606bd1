"""Weights in onnxruntime's `MatMulNBits` layout: block-wise symmetric 4- or 8-bit integers and fp32 scales.

`MatMulNBits` (com.microsoft contrib op) multiplies A (..., K) by a weight W (N, K) stored as
`B` uint8 (N, K / block, block * bits / 8) -- 4-bit values two per byte, the even input index in the low nibble --
and `scales` float (N * K / block), with W[n, k] = (q[n, k] - 2^(bits-1)) * scale[n, k // block] when no zero
points are given (the default zero point is 8 for 4 bits, 128 for 8 bits).

Two sources:
- a dense weight, quantized here (absmax per block: scale = max|w| / (2^(bits-1) - 1), round to nearest);
- the released AWQ checkpoint (compressed-tensors pack-quantized, docs/engine/models.md#variants): int32 words
  holding eight 4-bit values along the input axis, value i in bits 4i..4i+3, stored as q + 8 (compressed-tensors
  `pack_to_int32` adds the offset 1 << (bits - 1)). Read as little-endian bytes, those words already are the
  `MatMulNBits` byte order, so the repack is a reinterpretation: the same integers and the same group scales,
  no requantization.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


class LayoutError(ValueError):
    """A weight the MatMulNBits layout cannot take as it is (the loader falls back to torch)."""


@dataclass
class NBitsWeight:
    """One Linear's weight in MatMulNBits layout."""

    packed: np.ndarray       # uint8 (N, K // block, block * bits // 8)
    scales: np.ndarray       # float32 (N * K // block,)
    bits: int
    block: int
    n: int                   # out_features
    k: int                   # in_features

    @property
    def nbytes(self) -> int:
        return int(self.packed.nbytes + self.scales.nbytes)

    def dense(self) -> torch.Tensor:
        """The fp32 (N, K) weight these integers stand for (tests and error reports)."""
        packed = torch.from_numpy(self.packed.reshape(self.n, -1))
        if self.bits == 4:
            q = torch.stack([packed & 0x0F, packed >> 4], dim=-1).reshape(self.n, self.k)
        else:
            q = packed
        scales = torch.from_numpy(self.scales).view(self.n, self.k // self.block, 1)
        centred = q.to(torch.float32).view(self.n, -1, self.block) - (1 << (self.bits - 1))
        return (centred * scales).reshape(self.n, self.k)


def quantize(weight: torch.Tensor, bits: int, block: int) -> NBitsWeight:
    """Block-wise symmetric absmax quantization of a dense (N, K) weight (any float dtype)."""
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, not {bits}")
    n, k = weight.shape
    if k % block:
        raise LayoutError(f"in_features {k} is not a multiple of the block size {block}")
    packed = np.empty((n, k // block, block * bits // 8), dtype=np.uint8)
    scales = np.empty((n, k // block), dtype=np.float32)
    # a few thousand rows at a time: fp32 temporaries of the whole 74 752-row head would cost ~1 GB each
    step = max(1, _CHUNK_ELEMENTS // k)
    for start in range(0, n, step):
        rows = slice(start, min(n, start + step))
        q, s = _quantize_rows(weight[rows], bits, block)
        packed[rows], scales[rows] = q.numpy(), s.numpy()
    return NBitsWeight(packed, scales.reshape(-1), bits, block, n, k)


_CHUNK_ELEMENTS = 1 << 24


def _quantize_rows(weight: torch.Tensor, bits: int, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    n, k = weight.shape
    w = weight.detach().to(torch.float32).reshape(n, k // block, block)
    qmax = (1 << (bits - 1)) - 1
    scales = w.abs().amax(dim=-1, keepdim=True) / qmax
    scales = torch.where(scales == 0, torch.ones_like(scales), scales)
    q = (torch.round(w / scales).clamp_(-qmax - 1, qmax) + (1 << (bits - 1))).to(torch.uint8)
    if bits == 4:
        q = q[..., 0::2] | (q[..., 1::2] << 4)
    return q, scales.reshape(n, -1)


def from_awq(weight_packed: torch.Tensor, weight_scale: torch.Tensor, shape: tuple[int, int],
             group: int) -> NBitsWeight:
    """The released int4 AWQ weight as MatMulNBits 4-bit blocks of `group` (symmetric schemes only)."""
    n, k = shape
    if k % group or k % 8:
        raise LayoutError(f"in_features {k} is not a multiple of the group size {group} and of 8")
    words = weight_packed.detach().to(torch.int32).contiguous().numpy()
    if words.shape != (n, k // 8):
        raise LayoutError(f"weight_packed has shape {words.shape}, expected {(n, k // 8)}")
    packed = words.astype("<i4", copy=False).view(np.uint8).reshape(n, k // group, group // 2)
    scales = weight_scale.detach().to(torch.float32).reshape(-1).contiguous().numpy()
    if scales.size != n * (k // group):
        raise LayoutError(f"weight_scale has {scales.size} values, expected {n * (k // group)}")
    return NBitsWeight(packed, scales, 4, group, n, k)


def concat(weights: list[NBitsWeight]) -> NBitsWeight:
    """Stack Linears that read the same input along the output axis (one kernel call for q/k/v, gate/up)."""
    first = weights[0]
    if any(w.bits != first.bits or w.block != first.block or w.k != first.k for w in weights):
        raise LayoutError("only weights of the same bits, block and in_features can be stacked")
    return NBitsWeight(np.concatenate([w.packed for w in weights]), np.concatenate([w.scales for w in weights]),
                       first.bits, first.block, sum(w.n for w in weights), first.k)
