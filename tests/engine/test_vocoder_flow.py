"""Flow building blocks: token reshaping, prompt alignment, relative positions, attention shift, schedule."""
from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stepaudio_engine.vocoder.cfm import FlowMatchingDecoder
from stepaudio_engine.vocoder.config import CFMConfig, DiTConfig
from stepaudio_engine.vocoder.flow import align_prompt_mel, reshape_tokens
from stepaudio_engine.vocoder.flow_encoder import RelPosSelfAttention, rel_position_table


def test_reshape_full_group() -> None:
    out = reshape_tokens([5, 6, 1024, 2000, 5119])
    assert out.dtype == np.int64
    assert out.tolist() == [[5, 1025], [6, 2001], [1024, 5120]]


def test_reshape_padding_rules() -> None:
    # docs/engine/vocoder.md#vocoder-inputs: append the last (5 - len % 5) items of [0, 0, 0, 1024, 1024, 1024]
    base = [1, 2, 1100, 1101, 1102]
    assert reshape_tokens(base + [7, 8, 1200, 1201]).tolist()[3:] == [[7, 1201], [8, 1202], [1024, 1025]]
    assert reshape_tokens(base + [7, 8, 1200]).tolist()[3:] == [[7, 1201], [8, 1025], [1024, 1025]]
    assert reshape_tokens(base + [7, 8]).tolist()[3:] == [[7, 1025], [8, 1025], [1024, 1025]]
    assert reshape_tokens(base + [7]).tolist()[3:] == [[7, 1025], [0, 1025], [1024, 1025]]
    assert reshape_tokens([]).shape == (0, 2)


def test_align_prompt_mel_is_nearest() -> None:
    t_mel, steps = 7, 3
    mel = torch.arange(t_mel, dtype=torch.float32)[None, :, None].expand(1, t_mel, 80)
    out = align_prompt_mel(mel, steps)
    assert out.shape == (1, 6, 80)
    assert out[0, :, 0].tolist() == [math.floor(i * t_mel / 6) for i in range(6)]


def _espnet_table(length: int, d: int) -> torch.Tensor:
    """Upstream construction: flipped positive half + negative half, centre slice (independent code)."""
    max_len = length + 5
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * -(math.log(10000.0) / d))
    pe_pos, pe_neg = torch.zeros(max_len, d), torch.zeros(max_len, d)
    pe_pos[:, 0::2], pe_pos[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    pe_neg[:, 0::2], pe_neg[:, 1::2] = torch.sin(-pos * div), torch.cos(-pos * div)
    pe = torch.cat([torch.flip(pe_pos, [0]), pe_neg[1:]])[None]
    centre = pe.shape[1] // 2
    return pe[:, centre - length + 1: centre + length]


def test_rel_position_table_matches_espnet() -> None:
    ours = rel_position_table(9, 16, torch.float32, torch.device("cpu"))
    assert ours.shape == (1, 17, 16)
    torch.testing.assert_close(ours, _espnet_table(9, 16), rtol=0, atol=1e-6)


def _pad_reshape_shift(x: torch.Tensor) -> torch.Tensor:
    """The Transformer-XL pad-and-view trick, then the first T columns."""
    b, h, t, n = x.shape
    padded = torch.cat([torch.zeros(b, h, t, 1), x], dim=-1).view(b, h, n + 1, t)
    return padded[:, :, 1:].reshape(b, h, t, n)[:, :, :, : n // 2 + 1]


def test_relative_shift_equals_pad_trick() -> None:
    x = torch.randn(2, 3, 6, 11)
    torch.testing.assert_close(RelPosSelfAttention.relative_shift(x), _pad_reshape_shift(x))


def test_cosine_schedule_and_fixed_noise() -> None:
    dec = FlowMatchingDecoder(DiTConfig(depth=1, hidden_size=32, num_heads=2, head_dim=16), CFMConfig())
    t = dec.schedule(torch.device("cpu"), torch.float32)
    expected = [1 - math.cos(math.pi / 2 * k / 10) for k in range(11)]
    np.testing.assert_allclose(t.numpy(), expected, atol=1e-6)
    a = dec.noise(50, torch.device("cpu"), torch.float32)
    b = FlowMatchingDecoder(DiTConfig(depth=1, hidden_size=32, num_heads=2, head_dim=16), CFMConfig()).noise(
        80, torch.device("cpu"), torch.float32)
    assert a.shape == (1, 80, 50)
    torch.testing.assert_close(a, b[:, :, :50])  # a prefix of one fixed buffer, independent of global RNG


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5119), max_size=40))
def test_reshape_properties(tokens: list[int]) -> None:
    out = reshape_tokens(tokens)
    groups = -(-len(tokens) // 5)
    assert out.shape == (3 * groups, 2)
    if groups:
        assert (out[2::3, 0] == 1024).all()            # every third step carries the vq02 pad
        assert out[:, 1].min() >= 1 and out.max() <= 5120  # vq06 column shifted by one into the table
        full = (len(tokens) // 5) * 5
        assert out[: 3 * (full // 5), 0].tolist() == [
            v for g in range(full // 5) for v in (tokens[5 * g], tokens[5 * g + 1], 1024)]
