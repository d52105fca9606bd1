"""--language, pinyin control and the per-release sound tags as the CLI checks them (stepaudio_protos:
languages, pinyin, edits; docs/engine/upstream-2026.md)."""
from __future__ import annotations

import pytest

from stepaudio_protos import edits, languages, pinyin


@pytest.mark.parametrize("text", [
    "我也想guo4guo4guo1儿guo4guo4的生活",   # upstream's README example
    "他lv4了nv3人",                            # ü as v
    "下载mp3文件", "用iPhone15拍照", "h5页面",   # not pinyin: no vowel, or capitals
    "guo4 alone, no Chinese", "我 gwo4 你",     # set apart by spaces: ordinary text
])
def test_valid_pinyin_and_ordinary_text_pass(text):
    assert pinyin.check_pinyin(text) is None


@pytest.mark.parametrize("text, message", [
    ("我想guo6了", "pinyin 'guo6' has tone '6': the tone is one digit 1-5"),
    ("我想guo44了", "pinyin 'guo44' has tone '44'"),
    ("我想gwo4了", "'gwo4' is not a pinyin syllable with a tone; did you mean"),
    ("guo4guo4guox1儿", "'guox1' is not a pinyin syllable"),
    ("Guo4过", "pinyin 'Guo4' must be lower case: write 'guo4'"),
])
def test_malformed_pinyin_is_named(text, message):
    assert message in pinyin.check_pinyin(text)


def test_the_syllable_table_holds_the_common_syllables():
    for syllable in ("guo", "zhuang", "lve", "nv", "er", "yong", "xiong", "a", "hng", "shei"):
        assert syllable in pinyin.SYLLABLES, syllable
    for wrong in ("gwo", "bia", "fi", "zhia", "gv"):
        assert wrong not in pinyin.SYLLABLES, wrong


def test_language_tags():
    assert languages.tagged_text("はい", "japanese") == ("[Japanese]はい", None)
    assert languages.tagged_text("[Japanese]はい", "japanese") == ("[Japanese]はい", None)
    assert languages.tagged_text("hi", "english") == ("hi", None)
    assert "starts with [Korean] but --language is japanese" in languages.tagged_text("[Korean]네", "japanese")[1]
    assert "did you mean 'japanese'" in languages.check_language("japanes")
    assert not languages.transcribable("korean") and languages.transcribable("") and languages.transcribable("english")


def test_paralinguistic_tags_by_release():
    assert edits.check_paralinguistic("a [clears throat] b") is None                  # release unknown: any tag
    assert edits.check_paralinguistic("a [clears throat] b", "2026-01") is None
    assert "is a tag of the 2026-01 model" in edits.check_paralinguistic("a [clears throat] b", "2025-11")
    assert "did you mean '[laugh]'" in edits.check_paralinguistic("a [Laugh] b", "2026-01")
    assert "no sound tag" in edits.check_paralinguistic("[Japanese]はい")              # a language tag is not a sound
    assert edits.tag_releases("[Sigh]") == ["2025-11", "2026-01"] and edits.tag_releases("[snort]") == ["2026-01"]
