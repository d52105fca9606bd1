"""Interleave vq02 and vq06 codes 2:3 into prompt tokens, LLM ids and the `<audio_N>` string
(docs/engine/tokenizer.md#interleaving).

Group g (120 ms) = [vq02[2g], vq02[2g+1], vq06[3g]+1024, vq06[3g+1]+1024, vq06[3g+2]+1024] for
g < G = min(len(vq06) // 3, len(vq02) // 2); leftover codes of either stream are dropped
(UP:tokenizer.py `wav2token`, `merge_vq0206_to_token_str`). LLM id = prompt token + 65536.
"""
from __future__ import annotations

import re
from typing import Sequence

VQ02_SIZE = 1024
VQ06_SIZE = 4096
VQ06_OFFSET = 1024        # prompt token of a vq06 code = code + 1024
LLM_AUDIO_OFFSET = 65536  # id of <audio_0> in the LLM vocabulary


def group_count(n_vq02: int, n_vq06: int) -> int:
    return min(n_vq06 // 3, n_vq02 // 2)


def interleave(vq02: Sequence[int], vq06: Sequence[int]) -> list[int]:
    """Mixed 0-based prompt tokens: vq02 0..1023, vq06 1024..5119."""
    tokens: list[int] = []
    for g in range(group_count(len(vq02), len(vq06))):
        tokens += [int(vq02[2 * g]), int(vq02[2 * g + 1])]
        tokens += [int(c) + VQ06_OFFSET for c in vq06[3 * g:3 * g + 3]]
    return tokens


def to_llm_ids(prompt_tokens: Sequence[int]) -> list[int]:
    return [t + LLM_AUDIO_OFFSET for t in prompt_tokens]


def to_audio_str(prompt_tokens: Sequence[int]) -> str:
    """'<audio_N>' per token, no separators."""
    return "".join(f"<audio_{t}>" for t in prompt_tokens)


def parse_audio_str(text: str) -> list[int]:
    """Inverse of to_audio_str (ignores anything between the tags)."""
    return [int(n) for n in re.findall(r"<audio_(\d+)>", text)]


def split_prompt_tokens(prompt_tokens: Sequence[int]) -> tuple[list[int], list[int]]:
    """Back to raw (vq02, vq06) codes from whole groups of 5; a partial group at the end is ignored."""
    vq02: list[int] = []
    vq06: list[int] = []
    whole = len(prompt_tokens) // 5 * 5
    for g in range(0, whole, 5):
        vq02 += list(prompt_tokens[g:g + 2])
        vq06 += [t - VQ06_OFFSET for t in prompt_tokens[g + 2:g + 5]]
    return vq02, vq06
