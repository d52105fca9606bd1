"""Long recordings for edit: cut at the quietest moments into segments the model can take (under 30 s), and
share a given transcript among them.

The model edits one input of up to 30 s per pass (docs/engine/tokenizer.md#vq06-chunks). A longer recording
is cut where it is quietest: for each cut, the 200 ms window of lowest energy between SEARCH_FROM_S and
SEGMENT_MAX_S after the previous cut, the latest one when several are as quiet (a pause between words or
sentences when there is one within reach, as late as possible so segments stay long; otherwise the quietest
moment, which is still better than a fixed point).
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

SEGMENT_MAX_S = 28.0      # under the model's 30 s with room for the tokenizer's trim and rounding
SEARCH_FROM_S = 5.0       # never cut before this: very short segments give the model little voice to go on
WINDOW_S = 0.2            # a pause shorter than this is not a place to cut
FRAME_S = 0.01


def split_at_pauses(wav: np.ndarray, rate: int, max_s: float = SEGMENT_MAX_S,
                    search_from_s: float = SEARCH_FROM_S) -> list[tuple[int, int]]:
    """Sample spans [start, end) covering `wav`, each at most max_s long, cut at low-energy points."""
    n, longest = len(wav), int(max_s * rate)
    if n <= longest:
        return [(0, n)]
    energy = _smoothed_energy(wav, rate)
    frame = max(1, int(FRAME_S * rate))
    spans, start = [], 0
    while n - start > longest:
        lo = (start + int(search_from_s * rate)) // frame
        hi = (start + longest) // frame
        # the latest of the quietest frames (argmin of the reversed window)
        cut = (hi - 1 - int(np.argmin(energy[lo:hi][::-1]))) * frame if hi > lo else start + longest
        spans.append((start, cut))
        start = cut
    spans.append((start, n))
    return spans


def _smoothed_energy(wav: np.ndarray, rate: int) -> np.ndarray:
    """Mean square per 10 ms frame, averaged over WINDOW_S (so a lone quiet frame inside a word does not win)."""
    frame = max(1, int(FRAME_S * rate))
    count = len(wav) // frame
    power = np.square(wav[:count * frame].astype(np.float64)).reshape(count, frame).mean(axis=1)
    width = max(1, int(WINDOW_S / FRAME_S))
    return np.convolve(power, np.ones(width) / width, mode="same")


def voiced_seconds(wav: np.ndarray, rate: int, floor_db: float = -40.0) -> float:
    """Seconds of 10 ms frames within floor_db of the loudest frame: roughly how much is spoken."""
    frame = max(1, int(FRAME_S * rate))
    count = len(wav) // frame
    if count == 0:
        return 0.0
    peaks = np.abs(wav[:count * frame]).reshape(count, frame).max(axis=1)
    top = float(peaks.max())
    return float(np.count_nonzero(peaks >= top * 10 ** (floor_db / 20))) * FRAME_S if top > 0 else 0.0


_WORD = re.compile(r"\S+")


def share_text(text: str, weights: list[float]) -> list[str]:
    """Divide a transcript among segments in proportion to `weights` (their speech time), cutting between
    words (between characters for Chinese/Japanese written without spaces). Approximate by nature: the
    words of a fast stretch land partly in the next segment."""
    units = _units(text)
    total = sum(weights)
    if not units or total <= 0:
        return [text] + [""] * (len(weights) - 1)
    bounds, acc = [], 0.0
    for w in weights[:-1]:
        acc += w
        bounds.append(round(len(units) * acc / total))
    parts, prev = [], 0
    for b in bounds + [len(units)]:
        parts.append("".join(units[prev:b]).strip())
        prev = max(prev, b)
    return parts


def _units(text: str) -> list[str]:
    """Words with the space after them; CJK characters one by one."""
    out = []
    for m in _WORD.finditer(text):
        word = m.group()
        if any(_is_cjk(c) for c in word) and len(word) > 1:
            out.extend(word)
            out[-1] += " "
        else:
            out.append(word + " ")
    return out


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")
