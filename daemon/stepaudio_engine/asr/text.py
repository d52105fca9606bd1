"""Token strings -> text, following FunASR's `sentence_postprocess` (funasr/utils/postprocess_utils.py, 1.4.16).

The vocabulary mixes CJK characters (one per token) and English BPE pieces, where a trailing "@@" means "the
word continues". FunASR's rules, restated:

* drop "<s>", "</s>", "<unk>", "<OOV>";
* CJK tokens are joined without spaces; an English word is followed by one space, removed again when a CJK
  token follows; "@@" pieces are glued to the next English token; other tokens (punctuation, symbols) are
  copied as they are;
* runs of single ASCII letters separated by spaces ("a b c") become one upper-case abbreviation ("ABC");
* finally the text is stripped.

FunASR's notion of "CJK" is the range U+4E00..U+9FFF plus the digits 0-9 and "@"; for a whole multi-character
token it compares the *string* against those bounds, and we keep that so the output stays identical.
"""
from __future__ import annotations

DROPPED = frozenset({"<s>", "</s>", "<unk>", "<OOV>"})
_MARKERS = ("</s>", "<s>", "<unk>", "<OOV>")


def _cjk_like(text: str) -> bool:
    """FunASR `isChinese`: a string comparison, so for one character it is a range test."""
    return "\u4e00" <= text <= "\u9fff" or "0" <= text <= "9" or text == "@"


def _clean(token: str) -> str:
    token = token.replace(" ", "")
    for marker in _MARKERS:
        token = token.replace(marker, "")
    return token


def _all_cjk(items) -> bool:
    """Every item (token, or character of one token) is CJK-like after cleaning; False when empty."""
    cleaned = [_clean(i) for i in items]
    return bool(cleaned) and all(_cjk_like(c) for c in cleaned)


def _all_alpha(items) -> bool:
    """Every item is alphabetic (or an apostrophe) and not CJK-like; False when empty."""
    cleaned = [_clean(i) for i in items]
    if not cleaned:
        return False
    return all((c.isalpha() or c == "'") and not (c.isalpha() and _cjk_like(c)) for c in cleaned)


def _join_pieces(tokens: list[str]) -> list[str]:
    """Words and single-space separators, before abbreviations are merged."""
    if _all_cjk(tokens):
        return [t.replace(" ", "") for t in tokens]
    if _all_alpha(tokens):
        out: list[str] = []
        for t in tokens:
            out += [t, " "]
        return out
    out, pending, space_after_word = [], "", False
    for t in tokens:
        if _all_cjk(t):                   # per character
            if space_after_word:
                out.pop()
            out.append(t)
            space_after_word = False
        elif "@@" in t:
            pending += t.replace("@@", "")
            space_after_word = False
        elif _all_alpha(t):
            out += [pending + t, " "]
            pending, space_after_word = "", True
        else:
            out.append(t)
    return out


def _single_ascii_letter(part: str) -> bool:
    return len(part) == 1 and part.isascii() and part.isalpha()


def _merge_spelled_letters(parts: list[str]) -> list[str]:
    """["a", " ", "b", " ", "c", " ", "x y"] -> ["ABC", " ", ...]: spelled-out letters become an abbreviation."""
    out, i, n = [], 0, len(parts)
    while i < n:
        j = i
        while j + 2 < n and _single_ascii_letter(parts[j]) and parts[j + 1] == " " \
                and _single_ascii_letter(parts[j + 2]):
            j += 2
        if j > i:
            out.append("".join(parts[k].upper() for k in range(i, j + 1, 2)))
            i = j + 1
        else:
            out.append(parts[i])
            i += 1
    return out


def tokens_to_text(tokens: list[str]) -> str:
    kept = [t for t in tokens if t not in DROPPED]
    return "".join(_merge_spelled_letters(_join_pieces(kept))).strip()
