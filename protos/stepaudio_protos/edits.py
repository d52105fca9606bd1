"""Edit types and their options, as upstream offers them (docs/engine/llm.md#edit-types; UP:config/edit_config.py,
UP:tts_infer.py choices; the 2026 sound tags: docs/engine/upstream-2026.md). Pure data, shared by the CLI
(validation, completion, list-edits) and the
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
# The model releases we know (docs/engine/upstream-2026.md "Telling the releases apart").
RELEASE_2025 = "2025-11"
RELEASE_2026 = "2026-01"
RELEASES = (RELEASE_2025, RELEASE_2026)

# The ten tags of the 2025 weights (README at UP@aacb90a).
TAGS_2025 = [
    "[Breathing]", "[Laughter]", "[Surprise-oh]", "[Confirmation-en]", "[Uhm]", "[Surprise-ah]",
    "[Surprise-wa]", "[Sigh]", "[Question-ei]", "[Dissatisfaction-hnn]",
]
# The 22 tags of the 2026-01 weights, in the order of upstream's table (README at UP@4d66378); exact
# spelling matters, the model reads them as text.
TAGS_2026 = [
    "[sigh]", "[inhale]", "[laugh]", "[chuckle]", "[exhale]", "[clears throat]", "[snort]", "[giggle]",
    "[cough]", "[breath]", "[uhm]", "[Confirmation-en]", "[Surprise-oh]", "[Surprise-ah]", "[Surprise-wa]",
    "[Surprise-yo]", "[Dissatisfaction-hnn]", "[Question-ei]", "[Question-ah]", "[Question-en]",
    "[Question-yi]", "[Question-oh]",
]
# 2025 spellings the same README still lists next to the new table; accepted with 2026 weights too.
LEGACY_TAGS = ["[Breathing]", "[Laughter]", "[Uhm]", "[Sigh]"]

# every tag some release knows, 2026 first (what `list-edits` and completion offer)
PARALINGUISTIC_TAGS = TAGS_2026 + [t for t in TAGS_2025 if t not in TAGS_2026]


def tags_for(release: str | None) -> list[str]:
    """The tags a release accepts; None (release unknown, e.g. in the CLI) = every tag of any release."""
    if release == RELEASE_2025:
        return list(TAGS_2025)
    if release == RELEASE_2026:
        return TAGS_2026 + LEGACY_TAGS
    return list(PARALINGUISTIC_TAGS)


def tag_releases(tag: str) -> list[str]:
    """The releases that accept `tag`."""
    return [r for r in RELEASES if tag in tags_for(r)]


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
    "paralinguistic": "insert sounds such as [laugh] or [sigh] where the target text has them",
    "denoise": "remove background noise",
    "vad": "remove silences",
}


def suggest(value: str, choices: list[str]) -> str:
    """'did you mean …?' text for a near miss, or '' when nothing is close."""
    close = difflib.get_close_matches(value.lower(), choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def check_paralinguistic(text: str, release: str | None = None) -> str | None:
    """None if the target text carries at least one sound tag and every bracketed word is a tag of
    `release` (None: of any release); else an error message (with a suggestion for a near miss such as
    [Laugh] or [laughter]). Language tags such as [Japanese] at the start are not sound tags."""
    import re

    from stepaudio_protos.languages import LANGUAGE_TAGS

    known = tags_for(release)
    brackets = [b for b in re.findall(r"\[[^\[\]]*\]", text) if b not in LANGUAGE_TAGS]
    if not brackets:
        return ("the paralinguistic text has no sound tag: write the transcript with tags where the sounds go, "
                f"e.g. 'Well {known[0]} that was fun' (tags: stepaudio list-edits)")
    by_lower = {t.lower(): t for t in known}
    for tag in brackets:
        if tag not in known:
            close = by_lower.get(tag.lower()) or \
                next(iter(difflib.get_close_matches(tag.lower(), list(by_lower), n=1, cutoff=0.6)), None)
            hint = f"; did you mean '{by_lower.get(close, close)}'?" if close else ""
            other = tag_releases(tag)
            why = f" of the {release} model (it is a tag of the {other[0]} model)" if release and other else ""
            return f"unknown sound tag '{tag}'{why}{hint} (see `stepaudio list-edits`)"
    return None


def check_option(edit_type: str, option: str) -> str | None:
    """None if `option` is valid for `edit_type`, else an error message with a suggestion."""
    choices = EDIT_TYPES[edit_type]
    if option in choices:
        return None
    hint = suggest(option, choices)
    return f"unknown {edit_type} '{option}'" + (f"; {hint}" if hint else "") + \
        " (see `stepaudio list-edits`)"


# One line per option for `stepaudio list-edits` and shell completion help. The option names are upstream's
# (docs/engine/llm.md#edit-types); the wording is ours. Upstream's UI labels are Chinese, so some English names are
# loose
# (e.g. "sister", "program"): the descriptions say what the label means.
OPTION_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "emotion": {
        "happy": "cheerful, joyful", "angry": "angry, irritated", "sad": "sad, downcast",
        "humour": "playful, joking", "confusion": "puzzled, unsure", "disgusted": "repelled, disgusted",
        "empathy": "sympathetic, understanding", "embarrass": "embarrassed, awkward", "fear": "afraid, anxious",
        "surprised": "surprised, astonished", "excited": "excited, thrilled", "depressed": "low, dejected",
        "coldness": "cold, distant", "admiration": "admiring, impressed",
        "remove": "remove the emotion (neutral delivery)",
    },
    "style": {
        "serious": "serious, earnest", "arrogant": "arrogant, haughty", "child": "a child's voice",
        "older": "an elderly voice", "girl": "a young girl's voice", "pure": "clear, innocent",
        "sister": "mature 'big sister' voice", "sweet": "sweet, cute", "ethereal": "airy, dreamy",
        "whisper": "whispered (often needs 2+ iterations)", "gentle": "soft, gentle", "recite": "reciting, declaiming",
        "generous": "open, magnanimous", "act_coy": "coquettish, acting cute", "warm": "warm, kind",
        "shy": "shy, timid", "comfort": "comforting, soothing", "authority": "authoritative, commanding",
        "chat": "casual conversation", "radio": "radio host", "soulful": "heartfelt, emotional",
        "story": "storytelling", "vivid": "lively, animated", "program": "programme presenter",
        "news": "news anchor", "advertising": "advertisement voice-over", "roar": "roaring",
        "murmur": "murmuring, muttering", "shout": "shouting", "deeply": "deep, affectionate",
        "loudly": "loud", "remove": "remove the style (plain delivery)", "exaggerated": "exaggerated, theatrical",
    },
    "speed": {
        "faster": "speak faster", "slower": "speak slower",
        "more faster": "speak much faster", "more slower": "speak much slower",
    },
}

TAG_DESCRIPTIONS: dict[str, str] = {
    "[sigh]": "a sigh", "[inhale]": "an audible breath in", "[laugh]": "laughter", "[chuckle]": "a chuckle",
    "[exhale]": "an audible breath out", "[clears throat]": "clearing the throat", "[snort]": "a snort",
    "[giggle]": "a giggle", "[cough]": "a cough", "[breath]": "an audible breath", "[uhm]": "a hesitant 'uhm'",
    "[Confirmation-en]": "an agreeing 'mm-hm' (Chinese 嗯, en)", "[Surprise-oh]": "a surprised 'oh'",
    "[Surprise-ah]": "a surprised 'ah'", "[Surprise-wa]": "an amazed 'wow' (Chinese 哇, wa)",
    "[Surprise-yo]": "a surprised 'yo' (Chinese 哟, yo)",
    "[Dissatisfaction-hnn]": "a displeased 'hmph' (Chinese 哼, hng)",
    "[Question-ei]": "a questioning 'eh?' (Chinese 诶, ei)", "[Question-ah]": "a questioning 'ah?'",
    "[Question-en]": "a questioning 'hm?' (Chinese 嗯, en)", "[Question-yi]": "a questioning 'yi?' (Chinese 咦, yi)",
    "[Question-oh]": "a questioning 'oh?'",
    "[Breathing]": "an audible breath (2025 spelling)", "[Laughter]": "laughter (2025 spelling)",
    "[Uhm]": "a hesitant 'uhm' (2025 spelling)", "[Sigh]": "a sigh (2025 spelling)",
}


def catalog() -> dict[str, object]:
    """Every edit type with its options and descriptions, in a JSON-friendly shape (list-edits --json)."""
    types = []
    for name, options in EDIT_TYPES.items():
        described = OPTION_DESCRIPTIONS.get(name, {})
        types.append({"type": name, "description": DESCRIPTIONS[name],
                      "options": [{"name": o, "description": described.get(o, "")} for o in options]})
    tags = [{"tag": t, "description": TAG_DESCRIPTIONS.get(t, ""), "releases": tag_releases(t)}
            for t in PARALINGUISTIC_TAGS]
    return {"edit_types": types, "paralinguistic_tags": tags}
