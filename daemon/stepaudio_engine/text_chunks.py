"""Long text for clone: split into sentences, then into chunks the model speaks one at a time.

The model was trained on utterances of up to about 30 s (docs/engine/audio.md#input-length-and-rates) and
its window is 8192 ids, so a
paragraph or a chapter is spoken chunk by chunk with the same reference prompt. A chunk is one sentence:
that is what a listener hears first when the output streams, and where a natural pause goes. Sentences
shorter than MIN_UNITS are packed with the next one (a lone "Yes." sounds clipped), and sentences longer
than MAX_UNITS are split at commas, then between words (between characters for Chinese/Japanese), never
dropped. Lengths are counted in units: a CJK character is spoken about three times as long as a Latin
letter (roughly 4-5 characters/s against 14-16), so it counts three.

Rules of the splitter (each has a test in tests/engine/test_text_chunks.py):
- sentence ends: . ! ? and the full-width 。！？；… (and "..."), with closing quotes/brackets kept on the
  sentence they close;
- not an end: decimals ("3.5"), abbreviations ("Dr.", "e.g.", "U.S."), single-letter initials ("J. K.");
- paralinguistic tags ("[Laughter]") stay with the words around them, never split or left alone.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_UNITS = 300      # ~20 s of English speech: well inside the 30 s the model handles and its id window
MIN_UNITS = 40       # shorter sentences join the next one
CJK_WEIGHT = 3

# the pause inserted after a chunk, by how the chunk ended
PAUSE_PARAGRAPH_S = 0.6
PAUSE_SENTENCE_S = 0.3
PAUSE_CLAUSE_S = 0.15   # an over-long sentence split at a comma
PAUSE_NONE_S = 0.0      # split between words: only a crossfade

_ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "co", "no",
                  "fig", "e.g", "i.e", "a.m", "p.m", "u.s", "u.k", "approx", "dept", "est", "mt", "ave",
                  "gen", "col", "lt", "sgt", "capt", "rev", "vol", "pp", "cf", "al"}
_CLOSERS = "\"'”’»)]}」』）】〉》"
_FULL_STOPS = "。！？；…"
_CLAUSE_MARKS = ",;:，、；：—"
_TAG = re.compile(r"\[[^\[\]\n]{1,40}\]")


@dataclass
class Chunk:
    text: str           # what the model speaks (stripped)
    start: int          # span in the original text, [start, end)
    end: int
    pause_s: float      # silence after this chunk (the last chunk's is not used)


def units(text: str) -> int:
    return sum(CJK_WEIGHT if _is_cjk(ch) else 1 for ch in text if not ch.isspace())


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F") and unicodedata.category(ch)[0] == "L"


def has_words(text: str) -> bool:
    """Letters or digits outside tags: something for the model to say."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in _TAG.sub("", text))


def sentences(text: str) -> list[tuple[int, int, float]]:
    """Sentence spans [start, end) with the pause that follows each (paragraph or sentence)."""
    spans, start, i, n = [], 0, 0, len(text)
    tags = [(m.start(), m.end()) for m in _TAG.finditer(text)]
    while i < n:
        end = _sentence_end(text, i, tags)
        if end is None:
            i += 1
            continue
        while end < n and text[end] in _CLOSERS:
            end += 1
        if end >= n or (text[end].isspace() and not _goes_on(text, end)) or _is_cjk_stop(text[end - 1]):
            gap = text[end:_skip_space(text, end)]
            spans.append((start, end, PAUSE_PARAGRAPH_S if gap.count("\n") >= 2 else PAUSE_SENTENCE_S))
            start = end
        i = max(end, i + 1)
    if start < n:
        spans.append((start, n, PAUSE_SENTENCE_S))
    return [(s, e, p) for s, e, p in (_strip_span(text, s, e) + (p,) for s, e, p in spans) if s < e]


def _sentence_end(text: str, i: int, tags: list[tuple[int, int]]):
    """If text[i] ends a sentence, the index just after its stop marks; else None."""
    ch = text[i]
    if any(a <= i < b for a, b in tags):
        return None
    if ch in _FULL_STOPS or ch in "!?":
        j = i + 1
        while j < len(text) and (text[j] in _FULL_STOPS or text[j] in "!?."):
            j += 1
        return j
    if ch != ".":
        return None
    if text[i:i + 3] == "...":
        return i + 3
    before, after = text[:i], text[i + 1:i + 2]
    if after.isdigit() and before[-1:].isdigit():
        return None                                           # 3.5
    word = re.search(r"([A-Za-z][A-Za-z.]*)$", before)
    if word:
        w = word.group(1).lower()
        if w in _ABBREVIATIONS or (len(w) == 1 and word.group(1).isupper()):
            return None                                       # Dr. / e.g. / J. K.
    return i + 1


def _goes_on(text: str, end: int) -> bool:
    """After a Latin stop (and its quotes), a lower-case word continues the sentence:
    'He said "Stop!" and ran.', '"Is that all?" she asked.'"""
    nxt = _skip_space(text, end)
    return nxt < len(text) and text[nxt].islower() and "\n\n" not in text[end:nxt]


def _is_cjk_stop(ch: str) -> bool:
    return ch in _FULL_STOPS


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def plan(text: str, max_units: int = MAX_UNITS, min_units: int = MIN_UNITS) -> list[Chunk]:
    """The chunks to speak, in order. Every word of `text` is in exactly one chunk."""
    pieces: list[tuple[int, int, float]] = []
    for start, end, pause in sentences(text):
        pieces.extend(_split_long(text, start, end, pause, max_units))
    chunks: list[Chunk] = []
    for start, end, pause in pieces:
        last = chunks[-1] if chunks else None
        # join a short or wordless piece to the one before, if it fits
        if last is not None and (units(last.text) < min_units or not has_words(text[start:end])
                                 or not has_words(last.text)) \
                and units(text[last.start:end]) <= max_units:
            last.end, last.pause_s = end, pause
            last.text = text[last.start:end].strip()
            continue
        chunks.append(Chunk(text[start:end].strip(), start, end, pause))
    _merge_wordless(text, chunks)
    return chunks


def _merge_wordless(text: str, chunks: list[Chunk]) -> None:
    """A chunk of only punctuation or tags that could not join its neighbour (it would have overflowed)
    joins the next chunk anyway: the model is never asked to say nothing."""
    i = 0
    while i < len(chunks):
        if not has_words(chunks[i].text) and len(chunks) > 1:
            j = i + 1 if i + 1 < len(chunks) else i - 1
            a, b = sorted((i, j))
            merged = Chunk(text[chunks[a].start:chunks[b].end].strip(), chunks[a].start, chunks[b].end,
                           chunks[b].pause_s)
            chunks[a:b + 1] = [merged]
            i = max(0, a - 1)
            continue
        i += 1


def _split_long(text: str, start: int, end: int, pause: float, max_units: int) -> list[tuple[int, int, float]]:
    """A sentence over max_units: at clause marks, then between words (or CJK characters)."""
    if units(text[start:end]) <= max_units:
        return [(start, end, pause)]
    tags = _tag_spans(text)
    out = []
    for s, e in _pack(text, start, end, max_units, _clause_cuts(text, start, end, tags)):
        after = pause if e == end else PAUSE_CLAUSE_S
        if units(text[s:e]) <= max_units:
            out.append((s, e, after))
            continue
        words = _pack(text, s, e, max_units, _word_cuts(text, s, e, tags))
        out.extend((s2, e2, after if e2 == e else PAUSE_NONE_S) for s2, e2 in words)
    return [(s, e, p) for s, e, p in (_strip_span(text, s, e) + (p,) for s, e, p in out) if s < e]


def _pack(text: str, start: int, end: int, max_units: int, cuts: list[int]) -> list[tuple[int, int]]:
    """Pieces covering [start, end), cut only at `cuts`, each as long as fits. A piece that does not fit
    even alone is returned as it is (the caller splits it further, or, at the last level, speaks it)."""
    pieces, s, fit = [], start, None
    for c in sorted(c for c in cuts if start < c < end) + [end]:
        if units(text[s:c]) <= max_units:
            fit = c
            continue
        if fit is not None:
            pieces.append((s, fit))
            s, fit = fit, None
            if units(text[s:c]) <= max_units:
                fit = c
                continue
        pieces.append((s, c))
        s, fit = c, None
    if s < end:
        pieces.append((s, end))
    return pieces


def _tag_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _TAG.finditer(text)]


def _inside(i: int, tags: list[tuple[int, int]]) -> bool:
    return any(a < i < b for a, b in tags)


def _clause_cuts(text: str, start: int, end: int, tags: list[tuple[int, int]]) -> list[int]:
    return [i + 1 for i in range(start, end) if text[i] in _CLAUSE_MARKS and not _inside(i, tags)]


def _word_cuts(text: str, start: int, end: int, tags: list[tuple[int, int]]) -> list[int]:
    """Cut points between words (at the space after a word) and between CJK characters; never inside a
    tag, and never between a tag and the word after it (a tag stays with the word it introduces)."""
    tag_ends = {b for _, b in tags}
    cuts = []
    for i in range(start + 1, end):
        if _inside(i, tags) or i in tag_ends:
            continue
        if text[i].isspace() and not text[i - 1].isspace():
            cuts.append(i)
        elif _is_cjk(text[i]) and _is_cjk(text[i - 1]):
            cuts.append(i)
    return cuts
