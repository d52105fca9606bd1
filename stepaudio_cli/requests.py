"""Build and check JobRequests from what the user typed (clone/edit commands) or wrote (batch lines).

Every check here is cheap and runs before anything is sent to the daemon; a problem is a CliError
with a hint. The daemon and the engine check again for real (files can change, audio can be bad).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from stepaudio_cli.errors import CliError
from stepaudio_cli.inputs import check_input_audio, check_output_path, check_text
from stepaudio_protos import edits
from stepaudio_protos.facts import MAX_CANDIDATES, MAX_ITERATIONS, VARIANTS, checks_needed
from stepaudio_protos.errors import Exit, Reason

if TYPE_CHECKING:  # job_options imports typer; building requests does not need it
    from stepaudio_cli.job_options import JobOptions

EDIT_FLAGS = ("emotion", "style", "speed", "paralinguistic", "denoise", "vad")
TRANSCRIPT_NEEDED = ("emotion", "style", "speed", "paralinguistic")


def check_variant(variant: Optional[str]) -> str:
    if variant is not None and variant not in VARIANTS:
        hint = edits.suggest(variant, list(VARIANTS))
        raise CliError(f"unknown variant '{variant}'" + (f"; {hint}" if hint else ""),
                       f"variants: {', '.join(VARIANTS)}", Reason.UNKNOWN_VARIANT)
    return variant or ""


def edit_choice(values: dict[str, object]) -> tuple[str, str]:
    """(edit type, option) from the edit flags; exactly one must be set. Flags are strings, except
    denoise/vad which are booleans."""
    chosen = [(k, v) for k, v in values.items() if k in EDIT_FLAGS and v not in (None, False, "")]
    if len(chosen) != 1:
        raise CliError("choose exactly one edit: --emotion, --style, --speed, --paralinguistic, --denoise or --vad",
                       "run `stepaudio edit --help`; for several edits, run edit several times", Exit.USAGE)
    edit_type, value = chosen[0]
    option = "" if isinstance(value, bool) else str(value)
    if edit_type in ("emotion", "style", "speed"):
        problem = edits.check_option(edit_type, option)
        if problem:
            raise CliError(problem, f"{edit_type} options: {', '.join(edits.EDIT_TYPES[edit_type])}", Exit.USAGE)
    return edit_type, option


def clone_request(ref: str, text: str, ref_text: Optional[str], opts: JobOptions):
    """A clone JobRequest; no ref_text (None) means: transcribe the reference with the bundled ASR."""
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    if ref_text is not None:
        check_text(ref_text, "reference text")
    job = pb.CloneJob(ref_audio=check_input_audio(ref), ref_text=ref_text or "",
                      text=check_text(text, "text to speak"))
    return _common(pb.JobRequest(clone=job), opts)


def edit_request(source: str, edit_type: str, option: str, transcript: Optional[str], iterations: int,
                 opts: JobOptions):
    """An edit JobRequest; no transcript (None) means: transcribe the input with the bundled ASR."""
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    if transcript is not None and edit_type in TRANSCRIPT_NEEDED:
        check_text(transcript, "transcript")
    transcript = transcript or ""
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise CliError(f"iterations must be 1 to {MAX_ITERATIONS}, not {iterations}", "", Exit.USAGE)
    target = ""
    if edit_type == "paralinguistic":
        target, option = check_text(option, "paralinguistic text"), ""
        problem = edits.check_paralinguistic(target)
        if problem:
            raise CliError(problem, "", Exit.USAGE)
    job = pb.EditJob(input_audio=check_input_audio(source), audio_text=transcript, edit_type=edit_type,
                     edit_info=option, text=target, iterations=iterations)
    return _common(pb.JobRequest(edit=job), opts)


SEED_RANGE = (-(2 ** 63), 2 ** 63 - 1)  # the protocol's int64


def _common(request, opts: JobOptions):
    """Fill in (and check) the JobOptions part of a request whose job is already set."""
    request.output = check_output_path(opts.output, opts.force)
    request.force = opts.force
    request.variant = check_variant(opts.variant)
    candidates, keep_alive, seed = opts.candidates, opts.keep_alive, opts.seed
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise CliError(f"--candidates must be 1 to {MAX_CANDIDATES}, not {candidates}",
                       "each candidate is a full generation", Exit.USAGE)
    request.check = checks_needed(opts.check, candidates)
    request.candidates = candidates
    if keep_alive is not None and keep_alive != keep_alive:  # NaN: no deadline could ever compare to it
        raise CliError("--keep-alive must be a number of seconds, not nan", "e.g. --keep-alive 300, or -1 to keep",
                       Exit.USAGE)
    if seed is not None and not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise CliError(f"--seed {seed} is out of range", "use a seed that fits in 64 bits, e.g. 0 to 2**63-1",
                       Exit.USAGE)
    if keep_alive is not None:
        request.keep_alive_s = keep_alive
    if seed is not None:
        request.seed = seed
    return request
