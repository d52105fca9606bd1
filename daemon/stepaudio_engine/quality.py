"""Quality metrics for generated speech: recognition error rate and speaker similarity (pure Python + numpy).

error_rate: Levenshtein distance between normalised token sequences, divided by the reference length. Tokens
are CJK characters (one each) and Latin/digit words (maximal runs), so Chinese gets a character error rate,
English a word error rate and mixed text a mixture of both, as is usual for zh/en ASR scoring. Normalisation:
Unicode NFKC (full-width -> ASCII), lower case, punctuation and symbols dropped, apostrophes inside words kept
("it's" is one word).

#speaker-embedding).
speaker_similarity: cosine of two speaker embeddings (e.g. CAM++ 192-d from campplus.onnx, docs/engine/vocoder.md
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

# CJK unified ideographs (+ extension A, compatibility), kana and Hangul: one token per character
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:'[^\W_{_CJK}]+)*")


@dataclass(frozen=True)
class ErrorRate:
    rate: float          # errors / ref_length (errors > 0 with an empty reference gives inf)
    errors: int          # substitutions + deletions + insertions
    ref_length: int      # reference tokens
    unit: str            # "char" (only CJK), "word" (only words), "mixed", or "none" (both empty)


def tokenize_for_scoring(text: str) -> list[str]:
    """Normalised scoring units: CJK characters and lower-case words; punctuation removed."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    return _TOKEN.findall(text)


def _is_cjk(token: str) -> bool:
    return len(token) == 1 and re.match(rf"[{_CJK}]", token) is not None


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance (unit costs), O(len(ref) * len(hyp)) time, O(len(hyp)) memory."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def error_rate(reference: str, hypothesis: str) -> ErrorRate:
    ref, hyp = tokenize_for_scoring(reference), tokenize_for_scoring(hypothesis)
    errors = edit_distance(ref, hyp)
    kinds = {_is_cjk(t) for t in ref + hyp}
    unit = "none" if not kinds else "mixed" if len(kinds) == 2 else "char" if True in kinds else "word"
    if ref:
        rate = errors / len(ref)
    else:
        rate = 0.0 if errors == 0 else float("inf")
    return ErrorRate(rate=rate, errors=errors, ref_length=len(ref), unit=unit)


def speaker_similarity(a, b) -> float:
    """Cosine similarity in [-1, 1] of two embeddings of the same size (any shape, flattened)."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"embeddings differ in size: {x.size} vs {y.size}")
    norm = np.linalg.norm(x) * np.linalg.norm(y)
    if norm == 0.0:
        raise ValueError("an embedding is all zeros; cosine similarity is undefined")
    return float(np.clip(np.dot(x, y) / norm, -1.0, 1.0))
