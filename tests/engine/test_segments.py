"""Long recordings for edit: cuts at the quietest points, and a transcript shared among segments."""
from __future__ import annotations

import numpy as np

from stepaudio_engine import segments

RATE = 16000


def _speech(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1.2 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_cuts_land_in_pauses_and_segments_stay_under_the_limit() -> None:
    pause = np.zeros(int(0.5 * RATE), np.float32)
    wav = np.concatenate([_speech(14), pause, _speech(10), pause, _speech(20), pause, _speech(9)])
    spans = segments.split_at_pauses(wav, RATE)
    assert spans[0][0] == 0 and spans[-1][1] == len(wav)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all((e - s) / RATE <= segments.SEGMENT_MAX_S for s, e in spans)
    for _, cut in spans[:-1]:   # every cut is inside one of the pauses
        assert np.max(np.abs(wav[cut - 80:cut + 80])) == 0


def test_without_a_pause_the_cut_still_keeps_the_limit() -> None:
    spans = segments.split_at_pauses(_speech(70), RATE)
    assert len(spans) >= 3 and all((e - s) / RATE <= segments.SEGMENT_MAX_S for s, e in spans)


def test_a_transcript_is_shared_by_speech_time_without_losing_words() -> None:
    words = " ".join(f"w{i}" for i in range(30))
    parts = segments.share_text(words, [2.0, 1.0, 0.0])
    assert " ".join(p for p in parts if p).split() == words.split()
    assert len(parts[0].split()) == 20 and len(parts[1].split()) == 10 and parts[2] == ""
    cjk = segments.share_text("今天天气很好我们去公园", [1.0, 1.0])
    assert "".join(cjk) == "今天天气很好我们去公园" and len(cjk[0]) in (5, 6)
