"""The 2026 upstream changes in the engine (docs/engine/upstream-2026.md): release detection, language tags,
pinyin text and the 2026 sound tags in prompts, the chat-template prompt path and the per-release sampling.

GOLDEN ids were computed by our PromptBuilder on the released tokenizer files (tests/data/step-audio-editx) and are
checked here against those files independently: SentencePiece decodes each golden segment back to the exact
prompt text, with no <unk>. The 2025 cases use upstream's piecewise recipe (docs/engine/llm.md "Prompts"). The
2026 cases use TEST_TEMPLATE, a chat template WE wrote with the 2025 turn layout: upstream's real template lives
in the 2026 model folder, which we do not have, so these ids pin our rendering + single-call encoding, not
upstream's template (a 2026 folder's own template is what the engine renders).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from stepaudio_engine.api import EngineError
from stepaudio_engine.llm import languages as engine_languages
from stepaudio_engine.llm import prompts
from stepaudio_engine.llm.prompts import PromptBuilder
from stepaudio_engine.llm.sampling import GenerationOptions, audio_tokens_from_output, choose_next
from stepaudio_engine.release import RELEASE_2025, RELEASE_2026, detect_release
from stepaudio_engine.tiny import TEST_CHAT_TEMPLATE as TEST_TEMPLATE
from stepaudio_protos import edits, languages


AUDIO = [1, 2, 1034, 1035, 1036, 3, 4, 1037, 1038, 1039, 1023, 0, 5119, 1024, 1031]
CLONE_TEXTS = {"japanese": "[Japanese]今日はいい天気ですね。", "korean": "[Korean]안녕하세요, 반갑습니다.",
               "pinyin": "我也想guo4guo4guo1儿guo4guo4的生活"}
PARA_2026 = "Well [clears throat] I think [laugh] so [Surprise-yo]."

# the user turn and the assistant opener at the end of each prompt
GOLDEN = {
    '2025:japanese': [4, 1, 4623, 78, 432, 52975, 422, 10489, 4258, 4908, 4908, 531, 36329, 15090, 44416, 330, 3, 4, 1, 15886, 78],
    '2025:korean': [4, 1, 4623, 78, 432, 56414, 402, 422, 25211, 64420, 12867, 22013, 18470, 327, 324, 35317, 62781, 37133, 326, 3, 4, 1, 15886, 78],
    '2025:pinyin': [4, 1, 4623, 78, 676, 448, 1730, 5137, 385, 342, 5137, 385, 342, 5137, 385, 328, 1907, 5137, 385, 342, 5137, 385, 342, 6821, 3, 4, 1, 15886, 78],
    '2026:japanese': [4, 28504, 78, 432, 52975, 422, 10489, 4258, 4908, 4908, 531, 36329, 15090, 44416, 330, 3, 4, 56446, 78],
    '2026:paralinguistic': [4, 28504, 78, 3426, 1439, 1725, 337, 31076, 467, 36716, 358, 2068, 336, 15665, 992, 6364, 327, 336, 562, 2765, 379, 324, 352, 19139, 877, 6831, 332, 324, 568, 1075, 698, 422, 494, 6503, 877, 577, 25057, 422, 835, 877, 459, 1255, 16889, 359, 337, 8050, 422, 326, 78, 324, 392, 2765, 19892, 358, 336, 15665, 379, 352, 19139, 494, 6503, 835, 326, 78, 78, 65537, 65538, 66570, 66571, 66572, 65539, 65540, 66573, 66574, 66575, 66559, 65536, 70655, 66560, 66567, 78, 3, 4, 56446, 78],
}


def _folder_2026(released: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "Step-Audio-EditX"
    folder.mkdir()
    shutil.copy(released / "tokenizer.model", folder)
    config = json.loads((released / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": TEST_TEMPLATE}))
    return folder


def _user_turn(ids: list[int], marker: list[int]) -> list[int]:
    start = max(k for k in range(len(ids) - len(marker) + 1) if ids[k:k + len(marker)] == marker)
    return ids[start + 1:]


def _decodes_to(released: Path, segment: list[int], text: str) -> None:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(released / "tokenizer.model"))
    assert 0 not in segment  # no <unk>: every character of the new text is in the vocabulary
    assert sp.decode(segment) == text


@pytest.mark.parametrize("key", ["japanese", "korean", "pinyin"])
def test_2025_clone_prompts_with_language_tags_and_pinyin(released_files, key):
    builder = PromptBuilder(released_files)
    assert builder.release == RELEASE_2025
    ids = builder.clone_prompt("ref", AUDIO, CLONE_TEXTS[key], "clone_0123456789abcdef")
    turn = _user_turn(ids, [3, 4, 1, 4623, 78])
    assert turn == GOLDEN[f"2025:{key}"]
    # between <s> "human⏎" and <|EOT|> <|BOT|> <s> "assistant⏎"
    _decodes_to(released_files, turn[4:-5], CLONE_TEXTS[key])


def test_2026_folder_is_prompted_through_its_chat_template(released_files, tmp_path):
    folder = _folder_2026(released_files, tmp_path)
    builder = PromptBuilder(folder)
    assert builder.release == RELEASE_2026 == detect_release(folder)
    ids = builder.clone_prompt("ref", AUDIO, CLONE_TEXTS["japanese"], "clone_0123456789abcdef")
    assert ids[:2] == [1, 4] and ids.count(1) == 1   # one encode call: the template's BOS only
    assert _user_turn(ids, [3, 4, 28504]) == GOLDEN["2026:japanese"]
    ids = builder.edit_prompt("Well I think so.", AUDIO, "paralinguistic", "", PARA_2026)
    turn = _user_turn(ids, [3, 4, 28504])
    assert turn == GOLDEN["2026:paralinguistic"]
    text = builder.chat_text(prompts.EDIT_SYSTEM_PROMPT, prompts.edit_instruction(
        "paralinguistic", "", "Well I think so.", PARA_2026) + "\n" + prompts.audio_token_string(AUDIO) + "\n")
    _decodes_to(released_files, turn[3:-4], text.split("<|BOT|>human\n")[1].split("<|EOT|>")[0])


def test_sound_tags_follow_the_release(released_files, tmp_path):
    old, new = PromptBuilder(released_files), PromptBuilder(_folder_2026(released_files, tmp_path))
    with pytest.raises(EngineError, match=r"unknown sound tag '\[clears throat\]' for the 2025-11 model"):
        old.edit_prompt("x", AUDIO, "paralinguistic", "", PARA_2026)
    new.edit_prompt("x", AUDIO, "paralinguistic", "", "a [Laughter] b")          # 2025 spelling still accepted
    with pytest.raises(EngineError, match=r"unknown sound tag '\[Laugh\]'") as caught:
        new.edit_prompt("x", AUDIO, "paralinguistic", "", "a [Laugh] b")
    assert caught.value.hint.startswith("did you mean '[laugh]'?")


def test_engine_and_protocol_catalogs_agree():
    assert prompts.TAGS_2025 == edits.TAGS_2025 and prompts.TAGS_2026 == edits.TAGS_2026
    assert prompts.LEGACY_TAGS == edits.LEGACY_TAGS and prompts.PARALINGUISTIC_TAGS == edits.PARALINGUISTIC_TAGS
    for release in (None, RELEASE_2025, RELEASE_2026):
        assert prompts.tags_for(release) == edits.tags_for(release)
    assert engine_languages.LANGUAGES == languages.LANGUAGES
    assert engine_languages.TRANSCRIBABLE == languages.TRANSCRIBABLE
    assert len(edits.TAGS_2026) == 22 and "[clears throat]" in edits.TAGS_2026


def test_release_detection_reads_either_template_form(tmp_path):
    assert detect_release(tmp_path) == RELEASE_2025                            # no tokenizer_config.json
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": [
        {"name": "default", "template": "{{ messages }}"}]}))
    assert detect_release(tmp_path) == RELEASE_2026
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": ""}))
    assert detect_release(tmp_path) == RELEASE_2025
    (tmp_path / "chat_template.jinja").write_text("{{ messages }}")
    assert detect_release(tmp_path) == RELEASE_2026


def test_language_tag_goes_in_front_once():
    assert engine_languages.with_language_tag("こんにちは", "japanese") == "[Japanese]こんにちは"
    assert engine_languages.with_language_tag(" [Japanese]はい", "japanese") == " [Japanese]はい"
    assert engine_languages.with_language_tag("hello", "english") == "hello"
    with pytest.raises(EngineError, match="starts with \\[Korean\\] but the language is japanese"):
        engine_languages.with_language_tag("[Korean]네", "japanese")
    with pytest.raises(EngineError, match="Japanese, which the bundled speech recogniser cannot transcribe"):
        engine_languages.require_transcript("japanese", "reference", "--ref-text")
    engine_languages.require_transcript("cantonese", "reference", "--ref-text")


def test_2026_sampling_has_no_top_k_no_ban_and_keeps_a_final_audio_id():
    old, new = GenerationOptions.for_release(RELEASE_2025), GenerationOptions.for_release(RELEASE_2026, seed=3)
    assert (old.top_k, old.repetition_ban, old.drop_last) == (50, True, "always")
    assert (new.top_k, new.repetition_ban, new.drop_last, new.seed, new.temperature) == (0, False, "eot", 3, 0.7)
    # greedy on a repeated id: the 2025 ban removes it, the 2026 path keeps it
    logits, history = torch.zeros(8), [5] * 10
    logits[5] = 10.0
    assert choose_next(logits, history, GenerationOptions(greedy=True), None) != 5
    assert choose_next(logits, history, GenerationOptions(greedy=True, repetition_ban=False), None) == 5
    # a run stopped by the length cap: 2025 drops its last audio id, 2026 keeps it; both drop a final EOT
    capped, ended = [65536, 65537], [65536, 65537, 3]
    assert audio_tokens_from_output(capped) == ([0], 0)
    assert audio_tokens_from_output(capped, "eot") == ([0, 1], 0)
    assert audio_tokens_from_output(ended, "eot") == audio_tokens_from_output(ended) == ([0, 1], 0)
