"""Polyphone control: pinyin with a tone digit written in place of a Chinese character
(docs/engine/upstream-2026.md "Polyphones"; README at UP@f01e70a: 我也想过过过儿过过的生活 →
我也想guo4guo4guo1儿guo4guo4的生活). Upstream does not parse it (the model reads the text); we check it so
a typo is reported instead of being read out letter by letter.

A *pinyin run* is lower-case letters followed by digits that touches a CJK character, directly or through
other such runs (guo4guo4guo1儿). It must be one Mandarin syllable (ü written ü or v) and one tone digit 1–5
(5 = neutral tone). Runs with capitals or without a vowel (iPhone15, mp3, h5) are ordinary text and left
alone; any run set apart from the Chinese by a space is ordinary text too.
"""
from __future__ import annotations

import difflib
import re

# Mandarin syllables without tone, by initial ("" = none); ü as "v". Our own list of the standard table.
_FINALS = {
    "": "a o e ai ei ao ou an en ang eng er yi ya yo ye yao you yan yin yang ying yong wu wa wo wai wei wan "
        "wen wang weng yu yue yuan yun m n ng hm hng",
    "b": "a o ai ei ao an en ang eng i ie iao ian in ing u",
    "p": "a o ai ei ao ou an en ang eng i ie iao ian in ing u",
    "m": "a o e ai ei ao ou an en ang eng i ie iao iu ian in ing u",
    "f": "a o ei ou an en ang eng u iao",
    "d": "a e ai ei ao ou an en ang eng ong i ia ie iao iu ian ing u uo ui uan un",
    "t": "a e ai ei ao ou an ang eng ong i ie iao ian ing u uo ui uan un",
    "n": "a e ai ei ao ou an en ang eng ong i ie iao iu ian in iang ing u uo uan un v ve",
    "l": "a o e ai ei ao ou an ang eng ong i ia ie iao iu ian in iang ing u uo uan un v ve",
    "g": "a e ai ei ao ou an en ang eng ong u ua uo uai ui uan un uang",
    "k": "a e ai ei ao ou an en ang eng ong u ua uo uai ui uan un uang",
    "h": "a e ai ei ao ou an en ang eng ong u ua uo uai ui uan un uang m ng",
    "j": "i ia ie iao iu ian in iang ing iong u ue uan un",
    "q": "i ia ie iao iu ian in iang ing iong u ue uan un",
    "x": "i ia ie iao iu ian in iang ing iong u ue uan un",
    "zh": "a e i ai ei ao ou an en ang eng ong u ua uo uai ui uan un uang",
    "ch": "a e i ai ao ou an en ang eng ong u ua uo uai ui uan un uang",
    "sh": "a e i ai ei ao ou an en ang eng u ua uo uai ui uan un uang",
    "r": "e i ao ou an en ang eng ong u ua uo ui uan un",
    "z": "a e i ai ei ao ou an en ang eng ong u uo ui uan un",
    "c": "a e i ai ao ou an en ang eng ong u uo ui uan un",
    "s": "a e i ai ao ou an en ang eng ong u uo ui uan un",
}
SYLLABLES = frozenset(initial + final for initial, finals in _FINALS.items() for final in finals.split())
TONES = "12345"

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"  # CJK ideographs + CJK punctuation
_RUN = re.compile(r"[A-Za-zÜüV]+[0-9]+")
_IDEOGRAPH = re.compile(f"[{_HAN}]")


def _syllable(letters: str) -> str:
    return letters.lower().replace("ü", "v")


def _chains(text: str) -> list[list[re.Match]]:
    """Letter+digit runs grouped into chains of directly adjacent runs."""
    chains: list[list[re.Match]] = []
    for m in _RUN.finditer(text):
        if chains and chains[-1][-1].end() == m.start():
            chains[-1].append(m)
        else:
            chains.append([m])
    return chains


def _touches_han(text: str, chain: list[re.Match]) -> bool:
    start, end = chain[0].start(), chain[-1].end()
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return bool(_IDEOGRAPH.match(before) or _IDEOGRAPH.match(after))


def check_pinyin(text: str) -> str | None:
    """None if every pinyin run in `text` is a syllable + tone 1–5; else an error naming the first bad run."""
    for chain in _chains(text):
        if not _touches_han(text, chain):
            continue
        for m in chain:
            problem = _check_run(m.group())
            if problem:
                return problem
    return None


def _check_run(run: str) -> str | None:
    letters = run.rstrip("0123456789")
    digits = run[len(letters):]
    syllable = _syllable(letters)
    if not re.search(r"[aeiouvü]", syllable) and syllable not in SYLLABLES:
        return None  # mp3, h5: not meant as pinyin
    if letters != letters.lower():
        if syllable in SYLLABLES:
            return f"pinyin '{run}' must be lower case: write '{syllable}{digits}'"
        return None  # iPhone15, Win10: ordinary words
    if syllable not in SYLLABLES:
        close = difflib.get_close_matches(syllable, sorted(SYLLABLES), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}{digits}'?" if close else ""
        return (f"'{run}' is not a pinyin syllable with a tone{hint} (pinyin control: write the syllable and "
                f"its tone 1-5 in place of the character, e.g. guo4; if '{run}' is not pinyin, put a space "
                f"between it and the Chinese text)")
    if len(digits) != 1 or digits not in TONES:
        return (f"pinyin '{run}' has tone '{digits}': the tone is one digit 1-5 (5 = neutral), "
                f"e.g. {syllable}4")
    return None
