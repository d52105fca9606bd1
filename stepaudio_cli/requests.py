"""Build and check JobRequests from what the user typed (clone/edit commands) or wrote (batch lines).

Every check here is cheap and runs before anything is sent to the daemon; a problem is a CliError
with a hint. The daemon and the engine check again for real (files can change, audio can be bad).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from stepaudio_cli.errors import CliError
from stepaudio_cli.inputs import check_input_audio, check_output_path, check_text
from stepaudio_protos import formats, languages, pinyin, validate
from stepaudio_protos.errors import Exit
from stepaudio_protos.facts import checks_needed

if TYPE_CHECKING:  # job_options imports typer; building requests does not need it
    from stepaudio_cli.job_options import JobOptions

EDIT_FLAGS = validate.EDIT_FLAGS
TRANSCRIPT_NEEDED = ("emotion", "style", "speed", "paralinguistic")


def usage_error(exc: validate.Invalid) -> CliError:
    """A field that failed stepaudio_protos.validate, as the CLI reports it (exit 2)."""
    return CliError(exc.message, exc.hint, exc.reason)


def check_variant(variant: Optional[str], name: str = "variant") -> str:
    if variant is None:
        return ""
    try:
        return validate.variant(variant, name)
    except validate.Invalid as exc:
        raise usage_error(exc) from None


def edit_choice(values: dict[str, object]) -> tuple[str, str]:
    """(edit type, option) from the edit flags; exactly one must be set. Flags are strings, except
    denoise/vad which are booleans. Options are case-insensitive (HAPPY = happy)."""
    try:
        edit_type, value = validate.edit_choice(values)
        value = validate.FIELDS[edit_type].check(value)
    except validate.Invalid as exc:
        if exc.field == "edit":
            raise CliError("choose exactly one edit: --emotion, --style, --speed, --paralinguistic, --denoise "
                           "or --vad", exc.hint, Exit.USAGE) from None
        raise usage_error(exc) from None
    return edit_type, "" if isinstance(value, bool) else str(value)


def check_language(language: Optional[str], text: str = "") -> str:
    """The --language value ("" when not given); a usage error for an unknown one or one that disagrees
    with a language tag the text already starts with."""
    language = (language or "").lower()
    _, problem = languages.tagged_text(text, language)
    if problem:
        raise CliError(problem, f"languages: {', '.join(languages.LANGUAGES)}", Exit.USAGE)
    return language


def check_pinyin(text: str, what: str) -> None:
    problem = pinyin.check_pinyin(text)
    if problem:
        raise CliError(f"{what}: {problem}", "", Exit.USAGE)


def needs_transcript(language: str, given: Optional[str], option: str, what: str) -> None:
    """Japanese/Korean speech cannot be transcribed by the bundled ASR: ask for the transcript up front."""
    if given is None and not languages.transcribable(language):
        raise CliError(f"the {what} is in {language.capitalize()}, which the bundled speech recogniser cannot "
                       "transcribe (it knows Mandarin, Cantonese and English)",
                       f"give its transcript with {option} \"...\"", Exit.USAGE)


def clone_request(ref: str, text: str, ref_text: Optional[str], opts: JobOptions, language: Optional[str] = None):
    """A clone JobRequest; no ref_text (None) means: transcribe the reference with the bundled ASR.
    `language` is the text's (docs/engine/upstream-2026.md#languages)."""
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    if ref_text is not None:
        check_text(ref_text, "reference text")
    text = check_text(text, "text to speak")
    lang = check_language(language, text)
    check_pinyin(text, "text to speak")
    needs_transcript(lang, ref_text, "--ref-text", "reference")
    job = pb.CloneJob(ref_audio=check_input_audio(ref), ref_text=ref_text or "", text=text, language=lang)
    return _common(pb.JobRequest(clone=job), opts)


def edit_request(source: str, edit_type: str, option: str, transcript: Optional[str], iterations: int,
                 opts: JobOptions, language: Optional[str] = None):
    """An edit JobRequest; no transcript (None) means: transcribe the input with the bundled ASR."""
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    if transcript is not None and edit_type in TRANSCRIPT_NEEDED:
        check_text(transcript, "transcript")
    transcript = transcript or ""
    try:
        iterations = validate.iterations(iterations)
    except validate.Invalid as exc:
        raise usage_error(exc) from None
    target = ""
    if edit_type == "paralinguistic":
        target, option = check_text(option, "paralinguistic text"), ""
        try:
            validate.paralinguistic(target)   # sound tags and pinyin
        except validate.Invalid as exc:
            raise usage_error(exc) from None
    lang = check_language(language)
    if edit_type in TRANSCRIPT_NEEDED:
        needs_transcript(lang, transcript or None, "--text", "input")
    job = pb.EditJob(input_audio=check_input_audio(source), audio_text=transcript, edit_type=edit_type,
                     edit_info=option, text=target, iterations=iterations, language=lang)
    return _common(pb.JobRequest(edit=job), opts)


def output_format(output: str, fmt: Optional[str], sample_format: Optional[str]) -> tuple[str, str]:
    """(format, sample format) from -o's name and --format/--sample-format; a mismatch is a usage error."""
    try:
        return formats.resolve(output, fmt, sample_format)
    except formats.FormatProblem as exc:
        raise CliError(exc.message, exc.hint, Exit.USAGE) from None


def _common(request, opts: JobOptions):
    """Fill in (and check) the JobOptions part of a request whose job is already set."""
    request.output = check_output_path(opts.output, opts.force)
    request.format, request.sample_format = output_format(opts.output, opts.format, opts.sample_format)
    request.force = opts.force
    request.variant = check_variant(opts.variant)
    candidates, keep_alive, seed = opts.candidates, opts.keep_alive, opts.seed
    try:  # the checks batch lines and the daemon use too (stepaudio_protos.validate)
        candidates = validate.candidates(candidates, "--candidates")
        if keep_alive is not None:
            keep_alive = validate.keep_alive(keep_alive, "--keep-alive")
        if seed is not None:
            seed = validate.seed(seed, "--seed")
    except validate.Invalid as exc:
        raise usage_error(exc) from None
    request.check = checks_needed(opts.check, candidates)
    request.candidates = candidates
    if keep_alive is not None:
        request.keep_alive_s = keep_alive
    if seed is not None:
        request.seed = seed
    return request
