"""Joining chunks of generated audio into one output, as they are made (so the result can stream).

Each chunk's leading and trailing near-silence is trimmed (the vocoder leaves some), then chunks are joined
with the pause the text asks for (text_chunks: sentence, paragraph, clause) and short raised-cosine fades
so no join clicks; a chunk split between words (pause 0) overlaps the next by a crossfade instead. The
Stitcher holds back only the crossfade length of the last chunk, so every chunk's audio can go out as soon
as the chunk is made; the pieces it hands out, concatenated, are exactly the final output.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

CROSSFADE_S = 0.02
TRIM_FLOOR = 10 ** (-50 / 20)   # -50 dBFS: below it a 10 ms frame counts as silence at a chunk's edges
TRIM_KEEP_S = 0.03              # silence kept at each trimmed edge (breath room, and the fade runs in it)
FRAME_S = 0.01


def trim_edges(wav: np.ndarray, rate: int) -> np.ndarray:
    """Drop near-silent frames at both ends, keeping TRIM_KEEP_S; all-silent audio stays as it is (the
    caller decides what silence means)."""
    frame = max(1, int(FRAME_S * rate))
    n = len(wav) // frame
    if n == 0:
        return wav
    peaks = np.abs(wav[:n * frame]).reshape(n, frame).max(axis=1)
    loud = np.flatnonzero(peaks >= TRIM_FLOOR)
    if loud.size == 0:
        return wav
    keep = int(TRIM_KEEP_S * rate)
    start = max(0, loud[0] * frame - keep)
    end = min(len(wav), (loud[-1] + 1) * frame + keep)
    return wav[start:end]


def _fade(n: int) -> np.ndarray:
    """Raised-cosine ramp 0 → 1 over n samples."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n, dtype=np.float32) + 0.5) / n)).astype(np.float32)


class Stitcher:
    def __init__(self, rate: int, trim: bool = True) -> None:
        self.rate = rate
        self.trim = trim
        self.xf = max(1, int(CROSSFADE_S * rate))
        self._held: Optional[np.ndarray] = None   # the end of the last chunk, not yet handed out
        self._pause = 0.0                           # the pause that follows it

    def add(self, wav: np.ndarray, pause_after_s: float) -> np.ndarray:
        """Take the next chunk; return the samples that are final now."""
        wav = np.asarray(wav, dtype=np.float32)
        if self.trim:
            wav = trim_edges(wav, self.rate)
        out = []
        if self._held is None:
            head = wav
        elif self._pause > 0:
            out.append(self._held * _fade(len(self._held))[::-1])
            out.append(np.zeros(int(round(self._pause * self.rate)), np.float32))
            n = min(self.xf, len(wav))
            head = wav.copy()
            head[:n] *= _fade(n)
        else:
            n = min(len(self._held), len(wav))
            head = wav.copy()
            ramp = _fade(n)
            head[:n] = head[:n] * ramp + self._held[len(self._held) - n:] * ramp[::-1]
            out.append(self._held[:len(self._held) - n])
        keep = min(self.xf, len(head))
        out.append(head[:len(head) - keep])
        self._held, self._pause = head[len(head) - keep:], pause_after_s
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def finish(self) -> np.ndarray:
        """The held tail of the last chunk (unfaded: the output simply ends there)."""
        held, self._held = self._held, None
        return held if held is not None else np.zeros(0, np.float32)
