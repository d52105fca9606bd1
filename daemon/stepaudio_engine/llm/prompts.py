"""Clone and edit prompts for the step1 LLM, built id-for-id as upstream builds them (docs/engine/llm.md#prompts-exact,
docs/engine/llm.md#edit-types).

Facts from UP (stepfun-ai/Step-Audio-EditX aacb90a): config/prompts.py (both system prompts, exact whitespace),
tts.py `_build_audio_edit_instruction`, `_encode_audio_edit_prompt`, `_encode_audio_edit_clone_prompt`,
`generate_clone_voice_id`; config/edit_config.py (option lists). The prompt is encoded piecewise, one
tokenizer call per segment, joined with the ids <s> 1, <|BOT|> 4 and <|EOT|> 3.

A 2026-01 folder (one with a chat template, stepaudio_engine.release) is prompted as upstream does since
UP@9642328: the same messages rendered through the folder's chat template and encoded in one call without
BOS (docs/engine/upstream-2026.md "Prompts").
"""
from __future__ import annotations

import difflib
import hashlib
from pathlib import Path
from typing import Sequence, Union

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.release import RELEASE_2025, RELEASE_2026, chat_template

from .text_tokenizer import TextTokenizer

BOS_ID = 1          # <s>
EOT_ID = 3          # <|EOT|>: ends a turn, and stops generation
BOT_ID = 4          # <|BOT|>: begins a turn
AUDIO_ID_OFFSET = 65536         # LLM id of <audio_0> (docs/engine/llm.md#id-spaces)
AUDIO_TOKEN_COUNT = 5120        # vq02 0..1023 + vq06 1024..5119

EDIT_SYSTEM_PROMPT = (
    "As a highly skilled audio editing and tuning specialist, you excel in interpreting user instructions and "
    "applying precise adjustments to meet their needs. Your expertise spans a wide range of enhancement "
    "capabilities, including but not limited to:\n"
    "# Emotional Enhancement\n"
    "# Speaking Style Transfer\n"
    "# Non-linguistic Adjustments\n"
    "# Audio Tuning & Editing\n"
    "Note: You will receive instructions in natural language and are expected to accurately interpret and "
    "execute the most suitable audio edits and enhancements.\n"
)

# note the trailing spaces after "text:" and "tokens:" (UP:config/prompts.py)
CLONE_SYSTEM_TEMPLATE = (
    "Generate audio with the following timbre, prosody and speaking style\n"
    "\n"
    "[speaker_start]\n"
    "speaker name: {speaker}\n"
    "speaker prompt text: \n"
    "{prompt_text}\n"
    "speaker audio tokens: \n"
    "{prompt_wav_tokens}\n"
    "[speaker_end]\n"
)

# edit type -> allowed edit_info values ([] = takes none), UP:config/edit_config.py at aacb90a
EDIT_TYPES: dict[str, list[str]] = {
    "emotion": ["happy", "angry", "sad", "humour", "confusion", "disgusted", "empathy", "embarrass", "fear",
                "surprised", "excited", "depressed", "coldness", "admiration", "remove"],
    "style": ["serious", "arrogant", "child", "older", "girl", "pure", "sister", "sweet", "ethereal", "whisper",
              "gentle", "recite", "generous", "act_coy", "warm", "shy", "comfort", "authority", "chat", "radio",
              "soulful", "story", "vivid", "program", "news", "advertising", "roar", "murmur", "shout", "deeply",
              "loudly", "remove", "exaggerated"],
    "speed": ["faster", "slower", "more faster", "more slower"],
    "paralinguistic": [],
    "denoise": [],
    "vad": [],
}

EDIT_TYPE_DESCRIPTIONS: dict[str, str] = {
    "emotion": "make the speech more <option> (happy, sad, ...), or remove its emotion",
    "style": "make the speech more <option> style (whisper, child, news, ...), or remove its style",
    "speed": "make the speech faster or slower",
    "paralinguistic": "add non-verbal sounds: the target text carries tags such as [Laughter] or [Sigh]",
    "denoise": "remove background noise (the transcript is not used)",
    "vad": "remove silent portions (the transcript is not used)",
}

# Sound tags for paralinguistic edits per release (docs/engine/llm.md#edit-types; README at UP@4d66378 for
# 2026-01: docs/engine/upstream-2026.md)
# The engine's copy of stepaudio_protos.edits' lists; a test keeps them equal.
TAGS_2025 = ["[Breathing]", "[Laughter]", "[Surprise-oh]", "[Confirmation-en]", "[Uhm]",
             "[Surprise-ah]", "[Surprise-wa]", "[Sigh]", "[Question-ei]", "[Dissatisfaction-hnn]"]
TAGS_2026 = ["[sigh]", "[inhale]", "[laugh]", "[chuckle]", "[exhale]", "[clears throat]", "[snort]", "[giggle]",
             "[cough]", "[breath]", "[uhm]", "[Confirmation-en]", "[Surprise-oh]", "[Surprise-ah]",
             "[Surprise-wa]", "[Surprise-yo]", "[Dissatisfaction-hnn]", "[Question-ei]", "[Question-ah]",
             "[Question-en]", "[Question-yi]", "[Question-oh]"]
LEGACY_TAGS = ["[Breathing]", "[Laughter]", "[Uhm]", "[Sigh]"]   # 2025 spellings the 2026 README still lists
PARALINGUISTIC_TAGS = TAGS_2026 + [t for t in TAGS_2025 if t not in TAGS_2026]
_LANGUAGE_TAGS = ("[Cantonese]", "[Sichuanese]", "[Japanese]", "[Korean]")


def tags_for(release: str | None) -> list[str]:
    if release == RELEASE_2025:
        return list(TAGS_2025)
    if release == RELEASE_2026:
        return TAGS_2026 + LEGACY_TAGS
    return list(PARALINGUISTIC_TAGS)


def check_sound_tags(text: str, release: str) -> None:
    """BAD_INPUT unless the paralinguistic text has a sound tag and every bracketed tag is one of `release`."""
    import re

    known = tags_for(release)
    brackets = [b for b in re.findall(r"\[[^\[\]]*\]", text) if b not in _LANGUAGE_TAGS]
    if not brackets:
        raise EngineError(Reason.BAD_INPUT, "the paralinguistic text has no sound tag",
                          f"write the transcript with tags where the sounds go, e.g. 'Well {known[0]} that was fun'")
    for tag in brackets:
        if tag not in known:
            raise EngineError(Reason.BAD_INPUT, f"unknown sound tag {tag!r} for the {release} model",
                              f"{_did_you_mean(tag, known)}tags of this model: {', '.join(known)}")


AudioTokens = Union[str, Sequence[int]]


def _did_you_mean(value: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def validate_edit(edit_type: str, edit_info: str) -> None:
    """Raise BAD_INPUT for an unknown edit type or option, suggesting the nearest valid one."""
    if edit_type not in EDIT_TYPES:
        raise EngineError(Reason.BAD_INPUT, f"unknown edit type {edit_type!r}",
                          f"{_did_you_mean(edit_type, list(EDIT_TYPES))}valid types: {', '.join(EDIT_TYPES)}")
    options = EDIT_TYPES[edit_type]
    if options and edit_info not in options:
        what = f"unknown {edit_type} option {edit_info!r}" if edit_info else f"{edit_type} needs an option"
        raise EngineError(Reason.BAD_INPUT, what,
                          f"{_did_you_mean(edit_info, options)}valid options: {', '.join(options)}")
    if not options and edit_info:
        raise EngineError(Reason.BAD_INPUT, f"edit type {edit_type!r} takes no option (got {edit_info!r})",
                          "leave the option empty" + (
                              "; put the tags into the target text" if edit_type == "paralinguistic" else ""))


def edit_instruction(edit_type: str, edit_info: str, audio_text: str, target_text: str = "") -> str:
    """The user instruction of an edit (UP:tts.py `_build_audio_edit_instruction`); always ends with a newline.

    Upstream does not validate edit_info here (speed "more faster" yields "more more faster"); call
    validate_edit first for user input.
    """
    t = audio_text.strip() if audio_text else ""
    if edit_type in ("emotion", "speed"):
        if edit_info == "remove":
            return f"Remove any emotion in the following audio and the reference text is: {t}\n"
        return f"Make the following audio more {edit_info}. The text corresponding to the audio is: {t}\n"
    if edit_type == "style":
        if edit_info == "remove":
            return f"Remove any speaking styles in the following audio and the reference text is: {t}\n"
        return f"Make the following audio more {edit_info} style. The text corresponding to the audio is: {t}\n"
    if edit_type == "denoise":
        return ("Remove any noise from the given audio while preserving the voice content clearly. Ensure that "
                "the speech quality remains intact with minimal distortion, and eliminate all noise from the audio.\n")
    if edit_type == "vad":
        return ("Remove any silent portions from the given audio while preserving the voice content clearly. "
                "Ensure that the speech quality remains intact with minimal distortion, and eliminate all silence "
                "from the audio.\n")
    if edit_type == "paralinguistic":
        # sic: the space before the colon and the two leading spaces of the second line are upstream's
        return (f"Add some non-verbal sounds to make the audio more natural, the new text is : {target_text}\n"
                f"  The text corresponding to the audio is: {t}\n")
    raise EngineError(Reason.BAD_INPUT, f"unsupported edit type {edit_type!r}",
                      f"valid types: {', '.join(EDIT_TYPES)}")


def audio_token_string(tokens: AudioTokens) -> str:
    """`<audio_N>` rendering of mixed 0-based prompt tokens (vq02 0..1023, vq06 1024..5119;
    docs/engine/tokenizer.md#interleaving)."""
    if isinstance(tokens, str):
        return tokens
    bad = [t for t in tokens if not 0 <= int(t) < AUDIO_TOKEN_COUNT]
    if bad:
        raise EngineError(Reason.INTERNAL, f"audio prompt tokens out of range 0..{AUDIO_TOKEN_COUNT - 1}: {bad[:5]}",
                          "this is a bug in the audio tokenizer hand-off")
    return "".join(f"<audio_{int(t)}>" for t in tokens)


def speaker_id_for(prompt_text: str, samples: object) -> str:
    """`clone_` + the first 16 hex digits of SHA-256(UTF-8 prompt text ‖ float32 sample bytes)
    (docs/engine/audio.md#clone-voice-id).

    `samples` is the raw decoded reference audio as upstream sees it from torchaudio.load: float32, shape
    (channels, frames) or (frames,), before mono mixing or peak capping; more than 2000 values are cut to the
    first 1000 and the last 1000 of the channel-major flattening. Pass `bytes` to hash an already cut,
    little-endian float32 sample block as is.
    """
    hasher = hashlib.sha256(prompt_text.encode("utf-8"))
    if isinstance(samples, (bytes, bytearray)):
        hasher.update(bytes(samples))
    else:
        import numpy as np

        flat = np.ascontiguousarray(np.asarray(samples, dtype=np.float32)).reshape(-1)
        if flat.size > 2000:
            flat = np.concatenate([flat[:1000], flat[-1000:]])
        hasher.update(flat.astype("<f4").tobytes())
    return "clone_" + hasher.hexdigest()[:16]


class PromptBuilder:
    """Prompt ids for clone and edit, from the tokenizer files of an LLM folder."""

    def __init__(self, llm_folder: Path) -> None:
        self.tokenizer = TextTokenizer(Path(llm_folder))
        self.template = chat_template(Path(llm_folder))
        self.release = RELEASE_2026 if self.template is not None else RELEASE_2025
        self._special = _special_tokens(Path(llm_folder))

    def _enc(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)

    def _turns(self, system_text: str, user_ids: list[int]) -> list[int]:
        """<s> <|BOT|> system <|EOT|> <|BOT|> human⏎ user <|EOT|> <|BOT|> assistant⏎ (each part encoded alone)."""
        return ([BOS_ID, BOT_ID] + self._enc(f"system\n{system_text}") + [EOT_ID]
                + [BOT_ID] + self._enc("human\n") + user_ids + [EOT_ID]
                + [BOT_ID] + self._enc("assistant\n"))

    def chat_text(self, system_text: str, user_text: str) -> str:
        """The folder's chat template rendered as transformers' apply_chat_template renders it (sandboxed
        Jinja, trim_blocks + lstrip_blocks, add_generation_prompt=True)."""
        return render_chat_template(self.template or "", [{"role": "system", "content": system_text},
                                                          {"role": "user", "content": user_text}], self._special)

    def _chat(self, system_text: str, user_text: str) -> list[int]:
        # apply_chat_template(tokenize=True) encodes the rendered text once, with add_special_tokens=False
        return self.tokenizer.encode(self.chat_text(system_text, user_text), add_bos=False)

    def clone_prompt(self, ref_text: str, ref_audio: AudioTokens, target_text: str, speaker_id: str) -> list[int]:
        """Prompt ids to speak `target_text` in the voice of the reference (text + audio tokens + speaker id)."""
        system = CLONE_SYSTEM_TEMPLATE.format(speaker=speaker_id, prompt_text=ref_text,
                                              prompt_wav_tokens=audio_token_string(ref_audio))
        if self.template is not None:
            return self._chat(system, target_text)
        # encode "⏎"+target and drop as many ids as "⏎" alone gives: the target gets no leading ▁
        # (docs/engine/llm.md#prompts-exact)
        prefix = self._enc("\n")
        target = self._enc("\n" + target_text)[len(prefix):]
        return self._turns(system, target)

    def edit_prompt(self, audio_text: str, audio: AudioTokens, edit_type: str, edit_info: str = "",
                    target_text: str = "") -> list[int]:
        """Prompt ids to edit the audio (its transcript + audio tokens) as `edit_type`/`edit_info` says.
        `target_text` is the tagged text of a paralinguistic edit (ignored otherwise)."""
        validate_edit(edit_type, edit_info)
        if edit_type == "paralinguistic":
            if not target_text.strip():
                raise EngineError(Reason.BAD_INPUT, "a paralinguistic edit needs a target text",
                                  "give the transcript with tags where the sounds go, e.g. "
                                  f"{tags_for(self.release)[0]}")
            check_sound_tags(target_text, self.release)
        instruction = edit_instruction(edit_type, edit_info, audio_text, target_text)
        user = f"{instruction}\n{audio_token_string(audio).strip()}\n"
        if self.template is not None:
            return self._chat(EDIT_SYSTEM_PROMPT, user)
        return self._turns(EDIT_SYSTEM_PROMPT, self._enc(user))


def _special_tokens(folder: Path) -> dict[str, str]:
    """bos/eos/unk/pad token strings from tokenizer_config.json, as the template sees them."""
    import json

    defaults = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"}
    try:
        data = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return defaults
    for key in defaults:
        value = data.get(key)
        if isinstance(value, dict):  # AddedToken form
            value = value.get("content")
        if isinstance(value, str):
            defaults[key] = value
    return defaults


def render_chat_template(template: str, messages: list[dict], special: dict[str, str]) -> str:
    """Render a Hugging Face chat template the way transformers does, in Jinja's immutable sandbox (a
    template can read its inputs but not call into Python); no model code runs."""
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(template).render(messages=messages, add_generation_prompt=True, **special)
    except TemplateError as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"the model folder's chat template failed: {exc}",
                          "download tokenizer_config.json of the model again") from exc
