"""`stepaudio clone` and `stepaudio edit`: build a JobRequest, stream its events, print the result."""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from stepaudio_cli.context import CliContext
from stepaudio_cli.errors import CliError
from stepaudio_cli.inputs import check_input_audio, check_output_path, check_text
from stepaudio_cli.render import ProgressView, err, human_seconds, print_json
from stepaudio_protos import edits
from stepaudio_protos.errors import Exit

VARIANT_HELP = "model variant: base | bnb (4-bit) | awq (4-bit); default: the daemon's"
KEEP_ALIVE_HELP = "seconds to keep the model loaded after this job (0 = unload now, negative = keep)"


def clone(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="reference recording whose voice to clone"),
    text: str = typer.Argument(..., help="text to speak in that voice"),
    output: str = typer.Option(..., "-o", "--output", help="WAV file to write (24 kHz)"),
    ref_text: Optional[str] = typer.Option(None, "--ref-text", help="transcript of the reference recording"),
    variant: Optional[str] = typer.Option(None, "--variant", help=VARIANT_HELP),
    keep_alive: Optional[float] = typer.Option(None, "--keep-alive", help=KEEP_ALIVE_HELP),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed for reproducible output"),
    force: bool = typer.Option(False, "--force", "-f", help="overwrite the output file if it exists"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Say TEXT in the voice of the REF recording."""
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    if ref_text is None:
        raise CliError("--ref-text is required: the transcript of the reference recording",
                       'pass --ref-text "what the reference says"', Exit.USAGE)
    job = pb.CloneJob(ref_audio=check_input_audio(ref), ref_text=check_text(ref_text, "reference text"),
                      text=check_text(text, "text to speak"))
    request = pb.JobRequest(clone=job, output=check_output_path(output, force), force=force,
                            variant=_variant(variant))
    _options(request, keep_alive, seed)
    run_job(ctx.obj, request, "clone", json_out)


def edit(
    ctx: typer.Context,
    input_audio: str = typer.Argument(..., metavar="IN", help="recording to edit"),
    output: str = typer.Option(..., "-o", "--output", help="WAV file to write (24 kHz)"),
    emotion: Optional[str] = typer.Option(None, "--emotion", help="happy, sad, angry, … (see list-edits)"),
    style: Optional[str] = typer.Option(None, "--style", help="whisper, serious, child, … (see list-edits)"),
    speed: Optional[str] = typer.Option(None, "--speed", help="faster | slower | 'more faster' | 'more slower'"),
    paralinguistic: Optional[str] = typer.Option(
        None, "--paralinguistic", help="the transcript with sound tags, e.g. 'Well [Laughter] okay'"),
    denoise: bool = typer.Option(False, "--denoise", help="remove background noise"),
    vad: bool = typer.Option(False, "--vad", help="remove silences"),
    text: Optional[str] = typer.Option(None, "--text", help="transcript of IN (needed except for --denoise/--vad)"),
    iterations: int = typer.Option(1, "--iterations", "-n", min=1, max=10, help="edit passes, each on the last output"),
    variant: Optional[str] = typer.Option(None, "--variant", help=VARIANT_HELP),
    keep_alive: Optional[float] = typer.Option(None, "--keep-alive", help=KEEP_ALIVE_HELP),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed for reproducible output"),
    force: bool = typer.Option(False, "--force", "-f", help="overwrite the output file if it exists"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Edit a recording: change its emotion, style or speed, add sounds, remove noise or silence."""
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    edit_type, info = _edit_choice(emotion, style, speed, paralinguistic, denoise, vad)
    transcript = text or ""
    if edit_type in ("emotion", "style", "speed", "paralinguistic") and not transcript.strip():
        raise CliError(f"--text is required for a {edit_type} edit: the transcript of {input_audio}",
                       '--text "what the recording says"', Exit.USAGE)
    target = ""
    if edit_type == "paralinguistic":
        target, info = check_text(info, "paralinguistic text"), ""
    job = pb.EditJob(input_audio=check_input_audio(input_audio), audio_text=transcript, edit_type=edit_type,
                     edit_info=info, text=target, iterations=iterations)
    request = pb.JobRequest(edit=job, output=check_output_path(output, force), force=force,
                            variant=_variant(variant))
    _options(request, keep_alive, seed)
    run_job(ctx.obj, request, f"edit ({edit_type})", json_out)


def _edit_choice(emotion, style, speed, paralinguistic, denoise, vad) -> tuple[str, str]:
    chosen = [(name, value) for name, value in (("emotion", emotion), ("style", style), ("speed", speed),
                                                ("paralinguistic", paralinguistic))
              if value is not None]
    chosen += [(name, "") for name, flag in (("denoise", denoise), ("vad", vad)) if flag]
    if len(chosen) != 1:
        raise CliError("choose exactly one edit: --emotion, --style, --speed, --paralinguistic, --denoise or --vad",
                       "run `stepaudio edit --help`; several edits: run edit several times", Exit.USAGE)
    edit_type, value = chosen[0]
    if edit_type in ("emotion", "style", "speed"):
        problem = edits.check_option(edit_type, value)
        if problem:
            raise CliError(problem, f"{edit_type} options: {', '.join(edits.EDIT_TYPES[edit_type])}", Exit.USAGE)
    return edit_type, value


def _variant(variant: Optional[str]) -> str:
    if variant is not None and variant not in ("base", "bnb", "awq"):
        hint = edits.suggest(variant, ["base", "bnb", "awq"])
        raise CliError(f"unknown variant '{variant}'" + (f"; {hint}" if hint else ""),
                       "variants: base, bnb, awq", Exit.USAGE)
    return variant or ""


def _options(request, keep_alive: Optional[float], seed: Optional[int]) -> None:
    if keep_alive is not None:
        request.keep_alive_s = keep_alive
    if seed is not None:
        request.seed = seed


def run_job(cli: CliContext, request, label: str, json_out: bool) -> None:
    """Submit, show progress on stderr, print the result on stdout. Ctrl-C cancels the job."""
    from stepaudio_cli.client import iterate_events

    client = cli.client()
    call = client.submit(request)
    view = ProgressView(label)
    job_id = ""
    try:
        for event in iterate_events(call):
            job_id = event.job_id or job_id
            kind = event.WhichOneof("event")
            if kind == "queued" and event.queued.position > 0:
                view.update("queued", extra=f"position {event.queued.position}")
            elif kind == "progress":
                p = event.progress
                extra = f"{p.tokens} tokens" if p.tokens else p.detail
                view.update(p.stage, p.fraction, extra)
            elif kind == "failed":
                view.close()
                raise CliError.from_reason(event.failed.reason, event.failed.message, event.failed.hint)
            elif kind == "done":
                view.close()
                _print_result(job_id, event.done, json_out)
                return
    except KeyboardInterrupt:
        call.cancel()  # closing the stream cancels the job in the daemon (queued or running)
        view.close()
        raise CliError("interrupted: the job was cancelled", "", Exit.INTERRUPTED) from None
    finally:
        view.close()
    raise CliError("the daemon ended the job without a result", "see `stepaudio daemon logs`", Exit.UNAVAILABLE)


def _print_result(job_id: str, done, json_out: bool) -> None:
    options = json.loads(done.options_json or "{}")
    if json_out:
        print_json({"job_id": job_id, "output": done.output, "sample_rate": done.sample_rate,
                    "duration_s": done.duration_s, "timings": dict(done.timings), "options": options,
                    "notes": list(done.notes)})
    else:
        print(done.output)
    total = done.timings.get("total", 0.0)
    err(f"wrote {done.output}: {done.duration_s:.2f} s of audio in {human_seconds(total)}")
    for note in done.notes:
        err(f"note: {note}")
    sys.stdout.flush()
