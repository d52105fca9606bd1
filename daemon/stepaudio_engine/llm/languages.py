"""Language tags for the text to speak (docs/engine/upstream-2026.md "Languages"). The engine's copy of
stepaudio_protos.languages' table (the engine imports nothing of the protocol; a test keeps them equal)."""
from __future__ import annotations

from stepaudio_engine.api import EngineError, Reason

LANGUAGES: dict[str, str] = {
    "mandarin": "", "english": "", "cantonese": "[Cantonese]", "sichuanese": "[Sichuanese]",
    "japanese": "[Japanese]", "korean": "[Korean]",
}
LANGUAGE_TAGS = [tag for tag in LANGUAGES.values() if tag]
TRANSCRIBABLE = ("mandarin", "english", "cantonese", "sichuanese")   # what the bundled Paraformer covers


def check_language(language: str) -> None:
    if language and language not in LANGUAGES:
        raise EngineError(Reason.BAD_INPUT, f"unknown language {language!r}",
                          f"languages: {', '.join(LANGUAGES)}")


def with_language_tag(text: str, language: str) -> str:
    """`text` with the language's tag in front (none for mandarin/english, none if already there);
    BAD_INPUT if the text starts with another language's tag."""
    check_language(language)
    if not language:
        return text
    stripped = text.lstrip()
    present = next((tag for tag in LANGUAGE_TAGS if stripped.startswith(tag)), "")
    wanted = LANGUAGES[language]
    if present and present != wanted:
        raise EngineError(Reason.BAD_INPUT, f"the text starts with {present} but the language is {language}",
                          "keep one of them")
    return text if present or not wanted else wanted + stripped


def text_language(text: str, language: str) -> str:
    """`language`, or the language whose tag the text starts with ("" if none): a long text is spoken in
    chunks, and every chunk needs the tag, not only the first."""
    check_language(language)
    if language:
        return language
    stripped = text.lstrip()
    return next((name for name, tag in LANGUAGES.items() if tag and stripped.startswith(tag)), "")


def require_transcript(language: str, what: str, option: str) -> None:
    """BAD_INPUT when the ASR would have to transcribe speech in a language it does not know."""
    if language and language not in TRANSCRIBABLE:
        raise EngineError(Reason.BAD_INPUT,
                          f"the {what} is in {language.capitalize()}, which the bundled speech recogniser "
                          f"cannot transcribe (it knows Mandarin, Cantonese and English)",
                          f"give its transcript with {option} \"...\" (what is said in it, in {language.capitalize()})")
