"""The options every job takes (clone, edit, batch lines), defined once.

`JobOptions` is both the value the commands pass on to `requests` and the single definition of the
command-line options: each field carries its typer.Option, and `with_job_options` adds those options to a
command and hands it one `opts: JobOptions`. Adding a job option means adding one field here (and using it
in requests._common).
"""
from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Optional

import typer

from stepaudio_cli.options import flag
from stepaudio_protos.facts import VARIANTS

VARIANT_HELP = f"model variant: {' | '.join(VARIANTS)} (bnb and awq are 4-bit); default: the daemon's"
KEEP_ALIVE_HELP = "seconds to keep the model loaded after this job (0 = unload now, negative = keep)"
OUTPUT_HELP = ("file to write (24 kHz; .wav, .flac, .mp3, .opus/.ogg or .pcm/.raw chooses the format); '-' streams "
               "the audio to stdout as it is made")
FORMAT_HELP = "output format: wav | flac | mp3 | opus | pcm (raw samples); default: from the -o name, else wav"
SAMPLE_FORMAT_HELP = "how samples are stored: s16 (16-bit, default) | float (32-bit; wav and pcm only)"


def _option(option: Any, annotation: Any) -> Any:
    return field(default=None, metadata={"option": option, "annotation": annotation})


@dataclass(frozen=True)
class JobOptions:
    """What a job is run with, besides its inputs. Defaults are those of a batch line without the key."""
    output: str = field(default="", metadata={
        "option": typer.Option(..., "-o", "--output", help=OUTPUT_HELP), "annotation": str})
    variant: Optional[str] = _option(typer.Option(None, "--variant", help=VARIANT_HELP), Optional[str])
    keep_alive: Optional[float] = _option(typer.Option(None, "--keep-alive", help=KEEP_ALIVE_HELP), Optional[float])
    seed: Optional[int] = _option(typer.Option(None, "--seed", help="seed for reproducible output"), Optional[int])
    check: bool = field(default=False, metadata={"annotation": bool, "option": flag(
        "--check", help="transcribe the result and score it (error rate, speaker similarity)")})
    candidates: int = field(default=1, metadata={"annotation": int, "option": typer.Option(
        1, "--candidates", help="generate N (1-8) with different seeds, keep the best")})
    force: bool = field(default=False, metadata={"annotation": bool, "option": flag(
        "--force", "-f", help="overwrite the output file if it exists")})
    format: Optional[str] = _option(typer.Option(None, "--format", help=FORMAT_HELP), Optional[str])
    sample_format: Optional[str] = _option(typer.Option(None, "--sample-format", help=SAMPLE_FORMAT_HELP),
                                           Optional[str])

    def to(self, output: str, force: bool) -> JobOptions:
        """The same options writing to `output` (the daemon's path when the CLI relays `-o -`)."""
        return replace(self, output=output, force=force)


def with_job_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add JobOptions' options to a Typer command whose last parameter is `opts: JobOptions`.

    In --help, -o/--output comes right after the arguments (as it did when each command listed it) and the
    others before a trailing `json_out`, so `--json` stays last as on every other command.
    """
    hints = typing.get_type_hints(command)  # real types: typer reads the wrapper's, outside jobs.py
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in inspect.signature(command).parameters.values()]
    if not own or own[-1].name != "opts":
        raise TypeError(f"{command.__name__} must end with an `opts: JobOptions` parameter")
    own = own[:-1]
    added = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.metadata["option"],
                               annotation=f.metadata["annotation"]) for f in fields(JobOptions)]
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]  # typer passes keywords
    after_args = 1 + max((i for i, p in enumerate(own) if isinstance(p.default, typer.models.ArgumentInfo)),
                         default=0)
    before_json = next((i for i, p in enumerate(own) if p.name == "json_out"), len(own))
    params = own[:after_args] + added[:1] + own[after_args:before_json] + added[1:] + own[before_json:]
    names = {f.name for f in fields(JobOptions)}

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        opts = JobOptions(**{name: kwargs.pop(name) for name in names})
        return command(*args, opts=opts, **kwargs)

    del wrapper.__wrapped__  # typer must see the new signature, not the command's
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper
