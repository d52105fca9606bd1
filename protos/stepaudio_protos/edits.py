"""Edit types and their options, as upstream offers them (engine-spec.md §8.1; UP:config/edit_config.py,
UP:tts_infer.py choices). Pure data, shared by the CLI (validation, completion, list-edits) and the
daemon. The engine has its own copy (stepaudio_engine.llm.prompts.EDIT_TYPES); a test keeps them equal.
"""
from __future__ import annotations

import difflib

EMOTIONS = [
    "happy", "angry", "sad", "humour", "confusion", "disgusted", "empathy", "embarrass", "fear",
    "surprised", "excited", "depressed", "coldness", "admiration", "remove",
]
STYLES = [
    "serious", "arrogant", "child", "older", "girl", "pure", "sister", "sweet", "ethereal", "whisper",
    "gentle", "recite", "generous", "act_coy", "warm", "shy", "comfort", "authority", "chat", "radio",
    "soulful", "story", "vivid", "program", "news", "advertising", "roar", "murmur", "shout", "deeply",
    "loudly", "remove", "exaggerated",
]
SPEEDS = ["faster", "slower", "more faster", "more slower"]
PARALINGUISTIC_TAGS = [
    "[Breathing]", "[Laughter]", "[Surprise-oh]", "[Confirmation-en]", "[Uhm]", "[Surprise-ah]",
    "[Surprise-wa]", "[Sigh]", "[Question-ei]", "[Dissatisfaction-hnn]",
]

# edit type -> options ([] = the type takes no option)
EDIT_TYPES: dict[str, list[str]] = {
    "emotion": EMOTIONS,
    "style": STYLES,
    "speed": SPEEDS,
    "paralinguistic": [],
    "denoise": [],
    "vad": [],
}

DESCRIPTIONS: dict[str, str] = {
    "emotion": "change the emotion of the speech (remove = neutral)",
    "style": "change the speaking style (remove = plain)",
    "speed": "speak faster or slower",
    "paralinguistic": "insert sounds such as [Laughter] or [Sigh] where the target text has them",
    "denoise": "remove background noise",
    "vad": "remove silences",
}


def suggest(value: str, choices: list[str]) -> str:
    """'did you mean …?' text for a near miss, or '' when nothing is close."""
    close = difflib.get_close_matches(value.lower(), choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def check_option(edit_type: str, option: str) -> str | None:
    """None if `option` is valid for `edit_type`, else an error message with a suggestion."""
    choices = EDIT_TYPES[edit_type]
    if option in choices:
        return None
    hint = suggest(option, choices)
    return f"unknown {edit_type} '{option}'" + (f"; {hint}" if hint else "") + \
        f" (see `stepaudio list-edits`)"
