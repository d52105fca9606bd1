"""Quality metrics: CER/WER on Chinese, English and mixed text, normalisation, speaker cosine."""
from __future__ import annotations

import math

import numpy as np
import pytest

from stepaudio_engine.quality import edit_distance, error_rate, speaker_similarity, tokenize_for_scoring


def test_chinese_is_scored_by_character():
    r = error_rate("今天天气很好", "今天天汽很好啊")   # one substitution, one insertion
    assert (r.errors, r.ref_length, r.unit) == (2, 6, "char")
    assert r.rate == pytest.approx(2 / 6)


def test_english_is_scored_by_word_case_and_punctuation_ignored():
    r = error_rate("The quick brown fox.", "the quick, brown dog!")
    assert (r.errors, r.ref_length, r.unit) == (1, 4, "word")
    assert r.rate == 0.25


def test_deletion_and_insertion_counts():
    assert error_rate("a b c d", "a c d").errors == 1          # deletion
    assert error_rate("a b c d", "a b x c d").errors == 1      # insertion
    assert error_rate("a b c d", "d c b a").errors == 4 and error_rate("a b", "b a").errors == 2


def test_mixed_chinese_english():
    # tokens: 我 / 喜欢 -> 喜 欢 / python / 和 / 机 器 学 习 = 9 units
    ref = "我喜欢Python和机器学习。"
    assert tokenize_for_scoring(ref) == ["我", "喜", "欢", "python", "和", "机", "器", "学", "习"]
    r = error_rate(ref, "我喜欢 pythons 和机器学习")     # one word substituted
    assert (r.errors, r.ref_length, r.unit) == (1, 9, "mixed")
    r = error_rate("用GPU跑模型", "用 G P U 跑模型")       # spelled letters are three words against one
    assert (r.errors, r.ref_length) == (3, 5)


def test_normalisation_fullwidth_apostrophes_and_symbols():
    assert tokenize_for_scoring("ＡＢＣ，ｄｅｆ！") == ["abc", "def"]
    assert tokenize_for_scoring("It’s  OK -- isn't it?") == ["it's", "ok", "isn't", "it"]
    assert error_rate("你好，世界！", "你好世界").errors == 0
    assert error_rate("Hello world", "hello... WORLD?!").rate == 0.0


def test_empty_cases():
    assert error_rate("", "") == error_rate("。", "!")
    assert error_rate("", "").rate == 0.0 and error_rate("", "").unit == "none"
    assert math.isinf(error_rate("", "something").rate)
    r = error_rate("两个字", "")
    assert (r.errors, r.rate) == (3, 1.0)


def test_edit_distance_known_values():
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance([], list("abc")) == 3 and edit_distance(list("abc"), []) == 3


def test_speaker_similarity():
    a = np.array([1.0, 0.0, 0.0], np.float32)
    assert speaker_similarity(a, a * 3) == pytest.approx(1.0)
    assert speaker_similarity(a, -a) == pytest.approx(-1.0)
    assert speaker_similarity(a, [0, 1, 0]) == pytest.approx(0.0)
    assert speaker_similarity([[1.0, 1.0]], [1.0, 0.0]) == pytest.approx(1 / math.sqrt(2))   # (1, 192)-style
    with pytest.raises(ValueError):
        speaker_similarity(a, [1.0, 0.0])
    with pytest.raises(ValueError):
        speaker_similarity(a, np.zeros(3))
