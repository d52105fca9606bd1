"""`stepaudio clone` and `stepaudio edit`: build a JobRequest, stream its events, print the result.

Audio `-` reads stdin / writes a WAV to stdout; text can come from --text-file (or `-`).
"""
from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Optional

import typer

from stepaudio_cli import audio_io, requests
from stepaudio_cli.context import CliContext
from stepaudio_cli.errors import CliError
from stepaudio_cli.render import ProgressView, err, human_seconds, print_json
from stepaudio_protos.errors import Exit

VARIANT_HELP = "model variant: base | bnb (4-bit) | awq (4-bit); default: the daemon's"
KEEP_ALIVE_HELP = "seconds to keep the model loaded after this job (0 = unload now, negative = keep)"
OUTPUT_HELP = "WAV file to write (24 kHz); '-' writes the WAV to stdout"


def clone(
    ctx: typer.Context,
    ref: Optional[str] = typer.Argument(None, help="reference recording whose voice to clone ('-' = stdin)"),
    text: Optional[str] = typer.Argument(None, help="text to speak in that voice ('-' = stdin)"),
    output: str = typer.Option(..., "-o", "--output", help=OUTPUT_HELP),
    ref_text: Optional[str] = typer.Option(None, "--ref-text", help="transcript of the reference recording"),
    voice: Optional[str] = typer.Option(None, "--voice", help="use a saved voice instead of REF (voices add)"),
    text_file: Optional[str] = typer.Option(None, "--text-file", help="read the text to speak from a file ('-' = stdin)"),
    variant: Optional[str] = typer.Option(None, "--variant", help=VARIANT_HELP),
    keep_alive: Optional[float] = typer.Option(None, "--keep-alive", help=KEEP_ALIVE_HELP),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed for reproducible output"),
    force: bool = typer.Option(False, "--force", "-f", help="overwrite the output file if it exists"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Say TEXT in the voice of the REF recording (or of a saved --voice)."""
    cli: CliContext = ctx.obj
    if voice is not None:
        from stepaudio_cli.voices import load_voice

        if text is None and ref is not None:
            ref, text = None, ref  # `clone --voice NAME "text"`: the one positional is the text
        if ref is not None:
            raise CliError("give either REF or --voice, not both", "", Exit.USAGE)
        ref, voice_text = load_voice(ctx, voice)
        ref_text = ref_text if ref_text is not None else voice_text
    if ref is None:
        raise CliError("missing REF: the reference recording", "stepaudio clone REF TEXT -o OUT", Exit.USAGE)
    text = _text(text, text_file, "text to speak")
    with ExitStack() as stack:
        ref, out, final = _io(stack, cli, ref, output, force, "text" if text_file == "-" else "")
        request = requests.clone_request(ref, text, ref_text, out, force or final == "-", variant, keep_alive, seed)
        run_job(cli, request, "clone", json_out, final)


def edit(
    ctx: typer.Context,
    input_audio: str = typer.Argument(..., metavar="IN", help="recording to edit ('-' = stdin)"),
    output: str = typer.Option(..., "-o", "--output", help=OUTPUT_HELP),
    emotion: Optional[str] = typer.Option(None, "--emotion", help="happy, sad, angry, … (see list-edits)"),
    style: Optional[str] = typer.Option(None, "--style", help="whisper, serious, child, … (see list-edits)"),
    speed: Optional[str] = typer.Option(None, "--speed", help="faster | slower | 'more faster' | 'more slower'"),
    paralinguistic: Optional[str] = typer.Option(
        None, "--paralinguistic", help="the transcript with sound tags, e.g. 'Well [Laughter] okay'"),
    denoise: bool = typer.Option(False, "--denoise", help="remove background noise"),
    vad: bool = typer.Option(False, "--vad", help="remove silences"),
    text: Optional[str] = typer.Option(None, "--text", help="transcript of IN (needed except for --denoise/--vad)"),
    text_file: Optional[str] = typer.Option(None, "--text-file", help="read the transcript from a file ('-' = stdin)"),
    iterations: int = typer.Option(1, "--iterations", "-n", help="edit passes (1-10), each on the last output"),
    variant: Optional[str] = typer.Option(None, "--variant", help=VARIANT_HELP),
    keep_alive: Optional[float] = typer.Option(None, "--keep-alive", help=KEEP_ALIVE_HELP),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed for reproducible output"),
    force: bool = typer.Option(False, "--force", "-f", help="overwrite the output file if it exists"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Edit a recording: change its emotion, style or speed, add sounds, remove noise or silence."""
    cli: CliContext = ctx.obj
    edit_type, option = requests.edit_choice({"emotion": emotion, "style": style, "speed": speed,
                                              "paralinguistic": paralinguistic, "denoise": denoise, "vad": vad})
    if text_file is not None:
        text = _text(text, text_file, "transcript")
    with ExitStack() as stack:
        source, out, final = _io(stack, cli, input_audio, output, force, "text" if text_file == "-" else "")
        request = requests.edit_request(source, out, edit_type, option, text, iterations, force or final == "-",
                                        variant, keep_alive, seed)
        run_job(cli, request, f"edit ({edit_type})", json_out, final)


def _text(text: Optional[str], text_file: Optional[str], what: str) -> str:
    if text_file is not None:
        if text is not None:
            raise CliError(f"give the {what} as an argument or with --text-file, not both", "", Exit.USAGE)
        return audio_io.read_text_file(text_file, what)
    if text is None:
        raise CliError(f"missing the {what}", "give it as an argument, or with --text-file", Exit.USAGE)
    return audio_io.stdin_text(what) if text == "-" else text


def _io(stack: ExitStack, cli: CliContext, source: str, output: str, force: bool,
        stdin_taken: str) -> tuple[str, str, str]:
    """Resolve '-' for input and output: (input path, output path the daemon writes, final output)."""
    if source == "-" or output == "-":
        scratch = stack.enter_context(audio_io.scratch(cli.paths))
    if source == "-":
        if stdin_taken:
            raise CliError(f"stdin can't carry both the audio and the {stdin_taken}", "put one of them in a file",
                           Exit.USAGE)
        source = audio_io.stdin_audio(scratch)
    if output == "-":
        return source, str(scratch / "out.wav"), "-"
    return source, output, output


def run_job(cli: CliContext, request, label: str, json_out: bool, final_output: str = "") -> dict:
    """Submit, show progress on stderr, print the result on stdout. Ctrl-C cancels the job."""
    result = submit_and_wait(cli.client(), request, ProgressView(label))
    if final_output == "-":
        audio_io.copy_to_stdout(result["output"])
        result["output"] = "-"
    elif json_out:
        print_json(result)
    else:
        print(result["output"], flush=True)
    total = result["timings"].get("total", 0.0)
    err(f"wrote {result['output']}: {result['duration_s']:.2f} s of audio in {human_seconds(total)}")
    for note in result["notes"]:
        err(f"note: {note}")
    return result


def submit_and_wait(client, request, view: ProgressView) -> dict:
    """Stream one job's events to `view`; returns the result dict (see result_dict) or raises CliError."""
    from stepaudio_cli.client import iterate_events

    call = client.submit(request)
    job_id = ""
    try:
        for event in iterate_events(call):
            job_id = event.job_id or job_id
            kind = event.WhichOneof("event")
            if kind == "queued" and event.queued.position > 0:
                view.update("queued", extra=f"position {event.queued.position}")
            elif kind == "progress":
                p = event.progress
                view.update(p.stage, p.fraction, f"{p.tokens} tokens" if p.tokens else p.detail)
            elif kind == "failed":
                raise CliError.from_reason(event.failed.reason, event.failed.message, event.failed.hint)
            elif kind == "done":
                return result_dict(job_id, event.done)
    except KeyboardInterrupt:
        call.cancel()  # closing the stream cancels the job in the daemon (queued or running)
        raise CliError("interrupted: the job was cancelled", "", Exit.INTERRUPTED) from None
    finally:
        view.close()
    raise CliError("the daemon ended the job without a result", "see `stepaudio daemon logs`", Exit.UNAVAILABLE)


def result_dict(job_id: str, done) -> dict:
    """The documented JSON result of a job (docs/json.md)."""
    return {"job_id": job_id, "output": done.output, "sample_rate": done.sample_rate,
            "duration_s": done.duration_s, "timings": dict(done.timings),
            "options": json.loads(done.options_json or "{}"), "notes": list(done.notes)}
