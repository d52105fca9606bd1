"""A clone or edit JobRequest → the engine request fields (stepaudio_engine.api.CloneRequest/EditRequest,
without `output`), with the daemon's own checks of everything a client may send. Raises DaemonError.

Shared by the daemon's server (the payload the worker gets) and the Ray batch actors (stepaudio_ray),
so the same line reaches the same engine call on both paths and a seeded job gives the same audio.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from stepaudio_protos import edits, formats, validate
from stepaudio_protos.errors import Reason
from stepaudio_protos.facts import checks_needed
from stepaudiod.errors import DaemonError


def job_payload(request: Any, target: Path, max_text_chars: int, max_edit_seconds: float) -> dict:
    """The engine request of a clone or edit JobRequest whose output was checked (outputs.check_output);
    the limits are the daemon settings of the same names."""
    if request.WhichOneof("job") == "clone":
        c = request.clone
        payload: dict[str, Any] = {"ref_audio": c.ref_audio, "ref_text": c.ref_text, "text": c.text,
                                   "language": c.language}
        require_input(c.ref_audio)
        check_text_length(c.text, max_text_chars)
        _check_text_controls(c.text, c.language)
    else:
        payload = _edit_payload(request.edit)
        payload["max_seconds"] = max_edit_seconds
        require_input(request.edit.input_audio)
    payload.update(_output_format(request, target))
    payload["seed"] = request.seed if request.HasField("seed") else None
    payload["candidates"] = _checked(validate.candidates, request.candidates or 1)  # 0 = not set (proto3)
    payload["check"] = checks_needed(request.check, payload["candidates"])
    return payload


def check_text_length(text: str, limit: int) -> None:
    if len(text) > limit:
        raise DaemonError(Reason.BAD_INPUT, f"the text to speak has {len(text)} characters; the limit is {limit}",
                          "split it into several jobs, or raise the limit: stepaudio config set max_text_chars N")


def _checked(check: Callable, value, *args):
    """A value through stepaudio_protos.validate (the CLI ran the same check; other clients may not)."""
    try:
        return check(value, *args)
    except validate.Invalid as exc:
        raise DaemonError(Reason.BAD_INPUT, exc.message, exc.hint) from None


def _edit_payload(e: Any) -> dict:
    if e.edit_type not in edits.EDIT_TYPES:
        raise DaemonError(Reason.BAD_INPUT, f"unknown edit type '{e.edit_type}'",
                          f"edit types: {', '.join(edits.EDIT_TYPES)}")
    option, target = e.edit_info, e.text
    if e.edit_type in ("emotion", "style", "speed"):
        option = _checked(validate.edit_option, e.edit_type, e.edit_info)
    elif e.edit_type == "paralinguistic":
        target = _checked(validate.paralinguistic, e.text)
    _check_text_controls(target, e.language)
    return {"input_audio": e.input_audio, "audio_text": e.audio_text, "edit_type": e.edit_type,
            "edit_info": option, "text": target, "iterations": _checked(validate.iterations, e.iterations or 1),
            "language": e.language}


def require_input(path: str) -> None:
    if not path or not os.path.isabs(path):
        raise DaemonError(Reason.BAD_INPUT, f"input path must be absolute: {path!r}", "the CLI sends absolute paths")
    if not os.path.exists(path):
        raise DaemonError(Reason.BAD_INPUT, f"{path} does not exist")


def _check_text_controls(text: str, language: str) -> None:
    """--language and pinyin in the text, checked as the CLI checks them (other clients may send anything)."""
    from stepaudio_protos import languages, pinyin

    problem = languages.check_language(language) or pinyin.check_pinyin(text)
    if problem:
        raise DaemonError(Reason.BAD_INPUT, problem, "see `stepaudio clone --help` (--language, pinyin)")


def _output_format(request: Any, target: Path) -> dict:
    """The daemon's own check of the format a client asked for: never a file whose name says another format.
    No format given: the one the output's name says, else WAV."""
    named = formats.from_extension(str(target))
    try:
        if named is not None and request.format and formats.check(request.format, "")[0] != named:
            raise formats.FormatProblem(f"the output {target.name} is named as {named}, but the format asked for "
                                        f"is {request.format}", "name the file for its format")
        fmt, sample = formats.check(request.format or named or "", request.sample_format)
    except formats.FormatProblem as exc:
        raise DaemonError(Reason.BAD_INPUT, exc.message, exc.hint) from None
    return {"format": fmt, "sample_format": sample, "stream": bool(request.stream_audio)}
