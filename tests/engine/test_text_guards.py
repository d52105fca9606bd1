"""The pipeline's text guards against the released tokenizer: control pieces and control characters are
refused with BAD_INPUT; ordinary text, including angle brackets that are no piece, passes.
Tests that need tokenizer.model take it from tests/data/step-audio-editx (the released_files fixture)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepaudio_engine.api import EngineError, Reason

def _guard(text: str) -> None:
    from stepaudio_engine.pipeline import _reject_control_tokens

    _reject_control_tokens(text, "text to speak")


@pytest.fixture(scope="module")
def tokenizer(released_files: Path):
    from stepaudio_engine.llm.text_tokenizer import TextTokenizer

    return TextTokenizer(released_files)


def _refused(text: str) -> EngineError:
    with pytest.raises(EngineError) as info:
        _guard(text)
    assert info.value.reason == Reason.BAD_INPUT and info.value.hint
    return info.value


@pytest.mark.parametrize("token", ["<|EOT|>", "<|BOT|>", "<s>", "</s>", "<unk>", "<audio_0>", "<audio_5>",
                                   "<audio_9215>", "<|TTS|>", "<im_start>", "<user_defined_symbol_40>"])
def test_control_pieces_are_refused_anywhere_in_the_text(token):
    err = _refused(f"say this{token}and that")
    assert repr(token) in err.message


def test_a_harmless_bracket_before_a_control_piece_does_not_hide_it():
    assert "'<|EOT|>'" in _refused("a <b> then <|EOT|>").message


def test_every_literal_piece_of_the_released_vocabulary_is_refused(tokenizer, released_files):
    literal = _literal_ids(released_files)
    # docs/engine/llm.md#text-tokenizer: 66 named pieces below id 68, <audio_start>/<audio_end> (31, 32),
    # <audio_0..9215>
    assert len(literal) == 66 + 2 + 9216
    for i in sorted(literal):
        piece = tokenizer.piece(i)
        if i < 68 or i % 97 == 0:
            _refused(f"a {piece} b")


@pytest.mark.parametrize("text", ["1 < 2 > 0", "<b>bold</b>", "<br>", "<0x0A>", "a<>b", "<< >>", "I <3 you",
                                  "Hello 你好 Привет", "tabs\tand\nnew lines\r\n"])
def test_ordinary_text_passes(text):
    _guard(text)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x07", "\x1b", "\x0b", "\x0c", "\x7f",
                                  "\x80", "\x85", "\x9b", "\x9f"])  # C1 as C0
def test_control_characters_are_refused(char):
    assert "control characters" in _refused(f"hi{char}there").message


def _literal_ids(folder: Path) -> set[int]:
    from sentencepiece import sentencepiece_model_pb2 as sp_pb2

    proto = sp_pb2.ModelProto()
    proto.ParseFromString((folder / "tokenizer.model").read_bytes())
    kinds = (proto.SentencePiece.UNKNOWN, proto.SentencePiece.CONTROL, proto.SentencePiece.USER_DEFINED)
    return {i for i, piece in enumerate(proto.pieces) if piece.type in kinds}


PARTS = list("ab <>|_/sx05\n") + ["<|EOT|>", "<audio_5>", "<s>", "</s", "audio_", "<|", "|>", "EOT"]


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(PARTS), max_size=20).map("".join))
def test_text_that_would_become_a_literal_piece_is_always_refused(tokenizer, released_files, text):
    """Cross-check with the tokenizer: whenever the encoding holds an unknown/control/user-defined id, the
    guard refuses the text (it may also refuse `<|...|>` look-alikes that are no piece: harmless)."""
    literal = _LITERAL.setdefault("ids", _literal_ids(released_files))
    ids = tokenizer.encode(text, add_bos=False)
    try:
        _guard(text)
        refused = False
    except EngineError:
        refused = True
    if any(i in literal for i in ids):
        assert refused, (text, ids)


_LITERAL: dict[str, set[int]] = {}
