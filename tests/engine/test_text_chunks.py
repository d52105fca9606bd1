"""The long-text splitter: sentences, chunk packing, over-long sentences, tags (stepaudio_engine.text_chunks)."""
from __future__ import annotations

import pytest

from stepaudio_engine import text_chunks as tc


def _texts(text: str, **kw) -> list[str]:
    return [c.text for c in tc.plan(text, **kw)]


def _words(text: str) -> str:
    return "".join(text.split())


def _spans_cover(text: str, chunks) -> None:
    """Every non-space character is in exactly one chunk, in order, and each span holds its text."""
    assert _words("".join(c.text for c in chunks)) == _words(text)
    for c in chunks:
        assert text[c.start:c.end].strip() == c.text
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:]))


def test_english_sentences_keep_abbreviations_decimals_initials_and_quotes() -> None:
    text = 'Dr. Smith paid 3.50 dollars, e.g. cash. "Really?" she asked. J. K. Rowling agreed!'
    spans = [text[s:e] for s, e, _ in tc.sentences(text)]
    assert spans == ['Dr. Smith paid 3.50 dollars, e.g. cash.', '"Really?" she asked.', 'J. K. Rowling agreed!']


def test_a_quoted_exclamation_or_question_followed_by_lower_case_goes_on() -> None:
    text = 'He said "Stop!" and ran. "Is that all?" she asked. "Yes!" Then it ended.'
    spans = [text[s:e] for s, e, _ in tc.sentences(text)]
    assert spans == ['He said "Stop!" and ran.', '"Is that all?" she asked.', '"Yes!"', "Then it ended."]


def test_cjk_sentence_marks_split_without_spaces() -> None:
    text = "今天天气很好。我们去公园吧！你觉得呢？好的；走吧…"
    spans = [text[s:e] for s, e, _ in tc.sentences(text)]
    assert spans == ["今天天气很好。", "我们去公园吧！", "你觉得呢？", "好的；", "走吧…"]


def test_short_sentences_pack_with_the_next_and_long_ones_stand_alone() -> None:
    long_a = "This sentence is long enough to be spoken as a chunk of its own."
    long_b = "And this one, too, is long enough to be spoken on its own, clearly."
    assert _texts(f"Yes. {long_a} {long_b}") == [f"Yes. {long_a}", long_b]


def test_paragraph_breaks_give_a_longer_pause() -> None:
    a = "The first paragraph ends here, after enough words to stand alone."
    b = "The second paragraph is also long enough to be a chunk by itself."
    chunks = tc.plan(f"{a}\n\n{b}")
    assert [c.text for c in chunks] == [a, b] and chunks[0].pause_s == tc.PAUSE_PARAGRAPH_S


def test_an_over_long_sentence_splits_at_commas_then_words_and_nothing_is_dropped() -> None:
    clauses = ", ".join(f"clause number {i} goes on for a while" for i in range(30)) + "."
    chunks = tc.plan(clauses, max_units=120)
    _spans_cover(clauses, chunks)
    assert len(chunks) > 1 and all(tc.units(c.text) <= 120 for c in chunks)
    assert all(c.text.endswith(",") for c in chunks[:-1])  # cut at commas while commas are there
    words = " ".join(f"word{i}" for i in range(200)) + "."
    chunks = tc.plan(words, max_units=100)
    _spans_cover(words, chunks)
    assert all(tc.units(c.text) <= 100 for c in chunks) and chunks[0].pause_s == tc.PAUSE_NONE_S


def test_cjk_without_punctuation_splits_between_characters() -> None:
    text = "长" * 150 + "。"
    chunks = tc.plan(text)
    _spans_cover(text, chunks)
    assert all(tc.units(c.text) <= tc.MAX_UNITS for c in chunks) and len(chunks) == 2


def test_tags_stay_with_their_words() -> None:
    text = " ".join(["[Laughter] word"] * 60) + "."
    chunks = tc.plan(text, max_units=50)
    _spans_cover(text, chunks)
    for c in chunks:
        assert not c.text.endswith("]") and c.text.count("[") == c.text.count("]")
    assert _texts("Well [Laughter] that was fun. [Sigh] Okay then, off we go to the park.") == \
        ["Well [Laughter] that was fun. [Sigh] Okay then, off we go to the park."]


def test_wordless_pieces_join_a_neighbour_never_a_chunk_of_their_own() -> None:
    long_a = "This sentence is long enough to be spoken as a chunk of its own."
    chunks = tc.plan(f"{long_a} ... !!! [Laughter] {long_a}")
    assert all(tc.has_words(c.text) for c in chunks)
    assert not tc.has_words("[Laughter] ... !!!") and tc.has_words("[Laughter] ok")


@pytest.mark.parametrize("text", ["Hello 世界. 你好 world。Mixed scripts here! " * 20,
                                  "Ünïcödé façade — naïve café; résumé…   " * 30,
                                  "a" * 1000, "。" * 5 + "好" * 400, "x. " * 400])
def test_any_text_is_covered_exactly(text: str) -> None:
    chunks = tc.plan(text)
    _spans_cover(text, chunks)
    # a chunk may exceed the bound only when it is a single unbreakable word
    for c in chunks:
        assert tc.units(c.text) <= tc.MAX_UNITS or " " not in c.text.strip()
