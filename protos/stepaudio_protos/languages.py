"""Languages of the text to speak, and the tag upstream puts in front of it (docs/engine/upstream-2026.md
"Languages"; README at UP@4164504: "add a [Sichuanese] / [Cantonese] / [Japanese] / [Korean] tag before your
text"). Mandarin and English are the model's default and have no tag. Pure data and checks, shared by the CLI
and the daemon; the engine keeps its own copy (stepaudio_engine.llm.languages), a test keeps them equal.
"""
from __future__ import annotations

import difflib

# --language value -> the tag upstream documents ("" = none: the default languages)
LANGUAGES: dict[str, str] = {
    "mandarin": "", "english": "", "cantonese": "[Cantonese]", "sichuanese": "[Sichuanese]",
    "japanese": "[Japanese]", "korean": "[Korean]",
}
LANGUAGE_TAGS = [tag for tag in LANGUAGES.values() if tag]
# What the Paraformer in Step-Audio-Tokenizer/ transcribes (its name: zh-cantonese-en; docs/engine/asr.md).
# Sichuanese is a Mandarin dialect the model was not trained on as such; we let it through.
TRANSCRIBABLE = ("mandarin", "english", "cantonese", "sichuanese")


def check_language(language: str) -> str | None:
    """None for a known --language value (or ""), else an error message with a suggestion."""
    if not language or language in LANGUAGES:
        return None
    close = difflib.get_close_matches(language.lower(), list(LANGUAGES), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown language '{language}'{hint} (languages: {', '.join(LANGUAGES)})"


def leading_tag(text: str) -> str:
    """The language tag the text starts with (after spaces), or ""."""
    stripped = text.lstrip()
    return next((tag for tag in LANGUAGE_TAGS if stripped.startswith(tag)), "")


def tagged_text(text: str, language: str) -> tuple[str, str | None]:
    """(text with the language's tag in front, None) or (text, error message).

    A text that already starts with the same tag is left alone; a tag that disagrees with `language`
    (including any tag with mandarin/english) is an error, since the model would get two languages."""
    problem = check_language(language)
    if problem:
        return text, problem
    present = leading_tag(text)
    if not language:
        return text, None
    wanted = LANGUAGES[language]
    if present and present != wanted:
        return text, f"the text starts with {present} but --language is {language}: keep one of them"
    if present or not wanted:
        return text, None
    return f"{wanted}{text.lstrip()}", None


def transcribable(language: str) -> bool:
    """Whether the bundled ASR can transcribe speech in `language` ("" = unknown: assume yes)."""
    return not language or language in TRANSCRIBABLE
