"""Every field of a clone/edit request, checked by type and range in one place (stdlib only).

Three callers use the same table: the CLI's flags (after typer parsed them), `stepaudio batch` lines
(parsed JSON, where "seed": "7", 1.5 or true can arrive) and the daemon, which re-checks what a client
sent (it never trusts one). A check returns the normalised value (e.g. 'HAPPY' → 'happy') or raises
Invalid with what was wrong and what to do.

To add a field (e.g. an output `format`), add one Field to FIELDS: its name, the job kinds that take it
and a check function. Nothing else has to change for batch lines to accept and check it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from stepaudio_protos import edits, formats, languages, pinyin
from stepaudio_protos.errors import Reason
from stepaudio_protos.facts import MAX_CANDIDATES, MAX_ITERATIONS, VARIANTS

SEED_RANGE = (-(2 ** 63), 2 ** 63 - 1)  # the protocol's int64
ITERATIONS = (1, MAX_ITERATIONS)
EDIT_FLAGS = ("emotion", "style", "speed", "paralinguistic", "denoise", "vad")
KINDS = ("clone", "edit")


class Invalid(ValueError):
    """A field with a wrong type or value. `field` names it as the user wrote it (a batch key)."""

    def __init__(self, field: str, message: str, hint: str = "", reason: Reason = Reason.USAGE) -> None:
        super().__init__(message)
        self.field, self.message, self.hint, self.reason = field, message, hint, reason


# ---- checks for one value -------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def integer(name: str, value: Any, low: int, high: int, hint: str = "") -> int:
    """An int (never a bool, float or string: "7", 1.5 and true are refused, not coerced)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(name, f"{name} must be an integer, not {_type_name(value)} ({value!r})",
                      hint or f"e.g. {name} {low}")
    if not low <= value <= high:
        raise Invalid(name, f"{name} must be {low} to {high}, not {value}", hint)
    return value


def seed(value: Any, name: str = "seed") -> int:
    return integer(name, value, *SEED_RANGE, hint="use a whole number that fits in 64 bits, e.g. 0 to 2**63-1")


def iterations(value: Any, name: str = "iterations") -> int:
    return integer(name, value, *ITERATIONS, hint="each pass edits the last output; 1 to 10 passes")


def candidates(value: Any, name: str = "candidates") -> int:
    return integer(name, value, 1, MAX_CANDIDATES, hint="each candidate is a full generation")


def keep_alive(value: Any, name: str = "keep_alive") -> float:
    """Seconds; negative = keep loaded. A finite number (NaN would never compare, inf is not a time)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(name, f"{name} must be a number of seconds, not {_type_name(value)} ({value!r})",
                      "e.g. 300, 0 to unload right after, or -1 to keep loaded")
    if not math.isfinite(value):
        raise Invalid(name, f"{name} must be a finite number of seconds, not {value}",
                      "e.g. 300, 0 to unload right after, or -1 to keep loaded")
    return float(value)


def flag_value(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(name, f"{name} must be true or false, not {_type_name(value)} ({value!r})",
                      f'e.g. "{name}": true')
    return value


def string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise Invalid(name, f"{name} must be a string, not {_type_name(value)} ({value!r})")
    return value


def path(value: Any, name: str) -> str:
    if string(value, name) == "":
        raise Invalid(name, f"{name} is empty", "give a file path")
    return value


def variant(value: Any, name: str = "variant") -> str:
    text = string(value, name).strip().lower()
    if text not in VARIANTS:
        close = edits.suggest(text, list(VARIANTS))
        raise Invalid(name, f"unknown variant '{value}'" + (f"; {close}" if close else ""), "variants: base, bnb, awq",
                      Reason.UNKNOWN_VARIANT)
    return text


def edit_option(edit_type: str, value: Any) -> str:
    """An emotion/style/speed option, case-insensitive ('HAPPY', 'More Faster')."""
    text = " ".join(string(value, edit_type).split()).lower()
    problem = edits.check_option(edit_type, text)
    if problem:
        raise Invalid(edit_type, problem.replace(f"'{text}'", f"'{value}'"),
                      f"{edit_type} options: {', '.join(edits.EDIT_TYPES[edit_type])}")
    return text


def paralinguistic(value: Any, name: str = "paralinguistic") -> str:
    text = string(value, name)
    if not text.strip():
        raise Invalid(name, "the paralinguistic text is empty", "e.g. 'Well [Laughter] that was fun'")
    problem = edits.check_paralinguistic(text) or pinyin.check_pinyin(text)
    if problem:
        raise Invalid(name, problem)
    return text


def language(value: Any, name: str = "language") -> str:
    """A --language value (docs/engine/upstream-2026.md#languages), case-insensitive."""
    text = string(value, name).strip().lower()
    problem = languages.check_language(text)
    if problem:
        raise Invalid(name, problem, f"languages: {', '.join(languages.LANGUAGES)}")
    return text


def output_format(value: Any, name: str = "format") -> str:
    """wav | flac | mp3 | opus | pcm (stepaudio_protos.formats), case-insensitive; "" = not given."""
    try:
        return formats.check(string(value, name), "s16")[0] if value else ""
    except formats.FormatProblem as exc:
        raise Invalid(name, exc.message, exc.hint) from None


def sample_format(value: Any, name: str = "sample_format") -> str:
    text = string(value, name).strip().lower()
    if text and text not in formats.SAMPLE_FORMATS:
        raise Invalid(name, f"unknown sample format '{value}'", f"sample formats: {', '.join(formats.SAMPLE_FORMATS)}")
    return text


def kind(value: Any, name: str = "kind") -> str:
    text = string(value, name).strip().lower()
    if text not in KINDS:
        raise Invalid(name, f"unknown kind '{value}'", "kind is clone or edit")
    return text


# ---- the table of request fields ------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str                          # as in a batch line (docs/json.md)
    kinds: tuple[str, ...]             # job kinds that take it
    check: Callable[[Any], Any]        # value -> normalised value, or raises Invalid


def _edit(edit_type: str) -> Callable[[Any], Any]:
    return lambda v: edit_option(edit_type, v)


BOTH = KINDS
FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("kind", BOTH, kind),
    Field("ref", ("clone",), lambda v: path(v, "ref")),
    Field("voice", ("clone",), lambda v: path(v, "voice")),
    Field("ref_text", ("clone",), lambda v: string(v, "ref_text")),
    Field("input", ("edit",), lambda v: path(v, "input")),
    Field("text", BOTH, lambda v: string(v, "text")),
    Field("output", BOTH, lambda v: path(v, "output")),
    Field("seed", BOTH, seed),
    Field("variant", BOTH, variant),
    Field("keep_alive", BOTH, keep_alive),
    Field("check", BOTH, lambda v: flag_value(v, "check")),
    Field("candidates", BOTH, candidates),
    Field("language", BOTH, language),
    Field("format", BOTH, output_format),
    Field("sample_format", BOTH, sample_format),
    Field("iterations", ("edit",), iterations),
    Field("emotion", ("edit",), _edit("emotion")),
    Field("style", ("edit",), _edit("style")),
    Field("speed", ("edit",), _edit("speed")),
    Field("paralinguistic", ("edit",), paralinguistic),
    Field("denoise", ("edit",), lambda v: flag_value(v, "denoise")),
    Field("vad", ("edit",), lambda v: flag_value(v, "vad")),
)}


def add_field(field: Field) -> None:
    """Register a field (for a module that owns one, e.g. output formats)."""
    FIELDS[field.name] = field


def job_kind(spec: dict[str, Any]) -> str:
    """The kind a line names, or the one its keys imply (an "input" means edit)."""
    if "kind" in spec and spec["kind"] is not None:
        return kind(spec["kind"])
    return "edit" if "input" in spec else "clone"


def check_fields(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, normalised fields) of a job given as plain values; null means 'not given'.

    Raises Invalid for an unknown field, a field of the other kind, or a bad type or value."""
    job = job_kind(spec)
    unknown = sorted(k for k in spec if k not in FIELDS or job not in FIELDS[k].kinds)
    if unknown:
        allowed = sorted(n for n, f in FIELDS.items() if job in f.kinds)
        raise Invalid(unknown[0], f"unknown field(s) for {job}: {', '.join(unknown)}",
                      f"{job} takes: {', '.join(allowed)} (see docs/json.md)")
    out: dict[str, Any] = {"kind": job}
    for name, value in spec.items():
        if name != "kind" and value is not None:
            out[name] = FIELDS[name].check(value)
    return job, out


def edit_choice(values: dict[str, Any]) -> tuple[str, Any]:
    """(edit type, raw value) of the one edit chosen among EDIT_FLAGS; false, null and "" are unset."""
    chosen = [(k, v) for k, v in values.items() if k in EDIT_FLAGS and v not in (None, False, "")]
    if len(chosen) != 1:
        raise Invalid("edit", "choose exactly one edit: emotion, style, speed, paralinguistic, denoise or vad",
                      "run `stepaudio edit --help`; for several edits, run edit several times")
    return chosen[0]
