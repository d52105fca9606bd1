"""Quality checks on generated audio: transcribe it with the bundled Paraformer ASR, score the error
rate against the text it should say and the speaker similarity (cosine of CAM++ embeddings) to the
reference, and pick the best of several candidates (lowest error rate, then highest similarity).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from stepaudio_engine.quality import error_rate, speaker_similarity

TAG = re.compile(r"\[[A-Za-z][A-Za-z-]*\]")  # paralinguistic tags such as [Laughter]: not spoken words


@dataclass
class Scores:
    transcript: str
    error_rate: float
    errors: int
    ref_length: int
    unit: str
    similarity: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Candidate:
    wav: np.ndarray
    seed: int
    stop: str
    scores: Optional[Scores] = None

    def summary(self) -> dict:
        return {"seed": self.seed, "stop": self.stop, **(self.scores.to_dict() if self.scores else {})}


def spoken_text(text: str) -> str:
    """What the audio should say: the text without paralinguistic tags."""
    return TAG.sub(" ", text)


def score(transcript: str, target_text: str, ref_embedding: np.ndarray, out_embedding: np.ndarray) -> Scores:
    er = error_rate(spoken_text(target_text), transcript)
    return Scores(transcript=transcript, error_rate=float(er.rate), errors=er.errors, ref_length=er.ref_length,
                  unit=er.unit, similarity=float(speaker_similarity(ref_embedding, out_embedding)))


def checks_needed(check: bool, candidates: int) -> bool:
    """Several candidates are compared by their scores, so more than one implies a check (the protocol's copy
    is stepaudio_protos.facts.checks_needed; tests/test_single_source.py keeps them equal)."""
    return check or candidates > 1


def best(candidates: list[Candidate]) -> Candidate:
    """A candidate that ran to its token cap (stop "max_length": the model never ended it) loses to any that
    ended; then lowest error rate first, then highest speaker similarity; the earliest wins a full tie."""
    if any(c.scores is None for c in candidates):
        return min(candidates, key=lambda c: c.stop == "max_length")
    return min(candidates, key=lambda c: (c.stop == "max_length", c.scores.error_rate,  # type: ignore[union-attr]
                                          -c.scores.similarity))  # type: ignore[union-attr]
