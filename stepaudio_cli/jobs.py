"""`stepaudio clone` and `stepaudio edit`: build a JobRequest, stream its events, print the result.

Audio `-` reads stdin / writes a WAV to stdout; text can come from --text-file (or `-`).
"""
from __future__ import annotations

import json
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer

from stepaudio_cli import audio_io, requests
from stepaudio_cli.context import CliContext
from stepaudio_cli.errors import CliError
from stepaudio_cli.inputs import check_input_audio
from stepaudio_cli.job_options import VARIANT_HELP, JobOptions, with_job_options
from stepaudio_cli.options import flag
from stepaudio_cli.render import ProgressView, err, human_seconds, print_json
from stepaudio_protos.errors import Exit

LANGUAGE_HELP = ("language of TEXT: mandarin, english, cantonese, sichuanese, japanese, korean (puts the model's "
                 "[Japanese]-style tag in front); japanese and korean references need --ref-text")


@with_job_options
def clone(
    ctx: typer.Context,
    ref: Optional[str] = typer.Argument(None, metavar="REF",
                                        help="reference recording whose voice to clone ('-' = stdin)"),
    text: Optional[str] = typer.Argument(None, metavar="TEXT", help="text to speak in that voice ('-' = stdin)"),
    ref_text: Optional[str] = typer.Option(None, "--ref-text", help="transcript of the reference recording "
                                                                    "(default: transcribe it)"),
    voice: Optional[str] = typer.Option(None, "--voice", help="use a saved voice instead of REF (voices add)"),
    language: Optional[str] = typer.Option(None, "--language", help=LANGUAGE_HELP),
    text_file: Optional[str] = typer.Option(None, "--text-file",
                                            help="read the text to speak from a file ('-' = stdin)"),
    json_out: bool = flag("--json", help="print the result as JSON"),
    opts: JobOptions = JobOptions(),
) -> None:
    """Say TEXT in the voice of the REF recording (or of a saved --voice)."""
    cli: CliContext = ctx.obj
    if voice is not None:
        from stepaudio_cli.voice_store import load_voice

        if text is None and ref is not None:
            ref, text = None, ref  # `clone --voice NAME "text"`: the one positional is the text
        if ref is not None:
            raise CliError("give either REF or --voice, not both", "", Exit.USAGE)
        if ref_text is not None:
            raise CliError("--ref-text does not go with --voice: a saved voice keeps its own transcript",
                           "drop --ref-text (or re-save the voice: stepaudio voices add NAME REF --text …)",
                           Exit.USAGE)
        ref, ref_text = load_voice(cli.paths, voice)
    if ref is None:
        raise CliError("missing REF: the reference recording", "stepaudio clone REF TEXT -o OUT", Exit.USAGE)
    if text is None and text_file is None and ref != "-" and not Path(ref).expanduser().exists():
        raise CliError(f"clone needs REF and TEXT, but got one argument ({ref!r}), and it is not a file",
                       "stepaudio clone REF TEXT -o OUT, or stepaudio clone --voice NAME TEXT -o OUT", Exit.USAGE)
    text = _text(text, text_file, "text to speak")
    with ExitStack() as stack:
        given = ref
        ref, out, final = _io(stack, cli, ref, opts.output, opts.force, "text" if text_file == "-" else "")
        with _named_stdio(ref if given == "-" else "", out if final == "-" else ""):
            request = requests.clone_request(ref, text, ref_text, opts.to(out, opts.force or final == "-"), language)
            run_job(cli, request, "clone", json_out, final)


@with_job_options
def edit(
    ctx: typer.Context,
    input_audio: str = typer.Argument(..., metavar="IN", help="recording to edit ('-' = stdin)"),
    emotion: Optional[str] = typer.Option(None, "--emotion", help="happy, sad, angry, … (see list-edits)"),
    style: Optional[str] = typer.Option(None, "--style", help="whisper, serious, child, … (see list-edits)"),
    speed: Optional[str] = typer.Option(None, "--speed", help="faster | slower | 'more faster' | 'more slower'"),
    paralinguistic: Optional[str] = typer.Option(
        None, "--paralinguistic", help="the transcript with sound tags, e.g. 'Well [laugh] okay' (see list-edits)"),
    denoise: bool = flag("--denoise", help="remove background noise"),
    vad: bool = flag("--vad", help="remove silences"),
    text: Optional[str] = typer.Option(None, "--text", help="transcript of IN (default: transcribe it)"),
    text_file: Optional[str] = typer.Option(None, "--text-file", help="read the transcript from a file ('-' = stdin)"),
    language: Optional[str] = typer.Option(None, "--language", help="language spoken in IN; japanese and korean "
                                           "need --text (the bundled recogniser cannot transcribe them)"),
    iterations: int = typer.Option(1, "--iterations", "-n", help="edit passes (1-10), each on the last output"),
    json_out: bool = flag("--json", help="print the result as JSON"),
    opts: JobOptions = JobOptions(),
) -> None:
    """Edit a recording: change its emotion, style or speed, add sounds, remove noise or silence."""
    cli: CliContext = ctx.obj
    edit_type, option = requests.edit_choice({"emotion": emotion, "style": style, "speed": speed,
                                              "paralinguistic": paralinguistic, "denoise": denoise, "vad": vad})
    if text_file is not None:
        text = _text(text, text_file, "transcript")
    with ExitStack() as stack:
        source, out, final = _io(stack, cli, input_audio, opts.output, opts.force, "text" if text_file == "-" else "")
        with _named_stdio(source if input_audio == "-" else "", out if final == "-" else ""):
            request = requests.edit_request(source, edit_type, option, text, iterations,
                                            opts.to(out, opts.force or final == "-"), language)
            run_job(cli, request, f"edit ({edit_type})", json_out, final)


def transcribe(
    ctx: typer.Context,
    files: list[str] = typer.Argument(..., metavar="FILES", help="recordings to transcribe"),
    variant: Optional[str] = typer.Option(None, "--variant", help=VARIANT_HELP),
    json_out: bool = flag("--json", help="print one JSON object per file"),
) -> None:
    """Print what each recording says (the Paraformer ASR that ships with the tokenizer). '-' reads one
    recording from stdin. A file that fails is reported and the others are still transcribed (exit 1)."""
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    cli: CliContext = ctx.obj
    if files.count("-") > 1:
        raise CliError("stdin ('-') can be given once", "", Exit.USAGE)
    chosen = requests.check_variant(variant)
    failed, client = 0, None
    with ExitStack() as stack:
        for name in files:
            path = ""
            try:
                path = audio_io.stdin_audio(stack.enter_context(audio_io.scratch(cli.paths))) if name == "-" \
                    else check_input_audio(name)
                request = pb.JobRequest(transcribe=pb.TranscribeJob(audio=path), variant=chosen)
                client = client or cli.client()
                result = submit_and_wait(client, request, ProgressView(f"transcribe {Path(name).name}"))
            except CliError as exc:
                if name == "-":
                    exc = audio_io.name_stdin(exc, path)
                if len(files) == 1 or exc.code in (Exit.UNAVAILABLE, Exit.INTERRUPTED, Exit.USAGE):
                    raise  # one file, or the daemon, Ctrl-C or the command line: nothing else to do
                failed += 1
                _transcribe_failure(name, exc, json_out, several=len(files) > 1)
                continue
            _transcribe_line("-" if name == "-" else path, result, json_out, several=len(files) > 1)
    if failed:
        raise typer.Exit(Exit.FAILED)


def _transcribe_line(name: str, result: dict, json_out: bool, several: bool) -> None:
    text = result["report"].get("transcript", "")
    if json_out:
        print(json.dumps({"file": name, "text": text, "duration_s": result["duration_s"]}, ensure_ascii=False),
              flush=True)
    else:
        print(f"{name}\t{text}" if several else text, flush=True)


def _transcribe_failure(name: str, exc: CliError, json_out: bool, several: bool) -> None:
    if json_out:
        print(json.dumps({"file": name, "error": exc.as_json()}, ensure_ascii=False), flush=True)
    err(f"error: {name}: {exc.message}" if several else f"error: {exc.message}")
    if exc.hint:
        err(f"hint: {exc.hint}")


def _text(text: Optional[str], text_file: Optional[str], what: str) -> str:
    if text_file is not None:
        if text is not None:
            raise CliError(f"give the {what} as an argument or with --text-file, not both", "", Exit.USAGE)
        return audio_io.read_text_file(text_file, what)
    if text is None:
        raise CliError(f"missing the {what}", "give it as an argument, or with --text-file", Exit.USAGE)
    return audio_io.stdin_text(what) if text == "-" else text


@contextmanager
def _named_stdio(stdin_copy: str, stdout_copy: str) -> Iterator[None]:
    """Errors name the private temp copies of stdin/stdout as the user knows them: 'stdin', 'stdout'."""
    try:
        yield
    except CliError as exc:
        exc = audio_io.name_stdin(exc, stdin_copy)
        if stdout_copy:
            exc.message, exc.hint = exc.message.replace(stdout_copy, "stdout"), exc.hint.replace(stdout_copy, "stdout")
        raise exc from None


def _io(stack: ExitStack, cli: CliContext, source: str, output: str, force: bool,
        stdin_taken: str) -> tuple[str, str, str]:
    """Resolve '-' for input and output: (input path, output path the daemon writes, final output)."""
    refuse_audio_to_terminal(output)
    if source == "-" or output == "-":
        scratch = stack.enter_context(audio_io.scratch(cli.paths))
    if source == "-":
        if stdin_taken:
            raise CliError(f"stdin can't carry both the audio and the {stdin_taken}", "put one of them in a file",
                           Exit.USAGE)
        source = audio_io.stdin_audio(scratch)
    if output == "-":  # no extension: the format is --format's (WAV by default)
        return source, str(scratch / "out"), "-"
    return source, output, output


def refuse_audio_to_terminal(output: str) -> None:
    """`-o -` writes binary WAV to stdout: never onto a terminal (checked before any work is done)."""
    if output == "-" and sys.stdout.isatty():
        raise CliError("-o - writes the WAV to standard output, which is a terminal here",
                       "redirect or pipe it (… -o - > out.wav, … -o - | play -), or give -o FILE", Exit.USAGE)


def run_job(cli: CliContext, request, label: str, json_out: bool, final_output: str = "") -> dict:
    """Submit, show progress on stderr, print the result on stdout. Ctrl-C cancels the job.
    `-o -` in WAV or raw PCM streams: audio goes to stdout as the daemon sends it (stream_out)."""
    from stepaudio_protos import formats

    streamer = None
    if final_output == "-" and formats.FORMATS[request.format or "wav"].streamable:
        from stepaudio_cli.stream_out import StdoutStream

        request.stream_audio = True
        streamer = StdoutStream(request.format or "wav")
    result = submit_and_wait(cli.client(), request, ProgressView(label), on_audio=streamer)
    if final_output == "-":
        if streamer is None or not streamer.pieces:
            audio_io.copy_to_stdout(result["output"])
        else:
            streamer.finish()
        result["output"] = "-"
        if json_out:  # stdout carries the audio: the JSON result goes to stderr
            print_json(result, file=sys.stderr)
    elif json_out:
        print_json(result)
    else:
        print(result["output"], flush=True)
    report_to_stderr(result["report"])
    total = result["timings"].get("total", 0.0)
    seed = result["options"].get("seed")
    err(f"wrote {result['output']}: {result['duration_s']:.2f} s of audio in {human_seconds(total)}"
        + (f" (seed {seed})" if seed is not None else ""))
    for note in result["notes"]:
        err(f"note: {note}")
    return result


def report_to_stderr(report: dict) -> None:
    """Transcripts and quality scores, for people (the same data is in --json's "report")."""
    for key, label in (("reference_transcript", "reference transcript"), ("input_transcript", "input transcript")):
        if key in report:
            err(f"{label}: {report[key]}")
    for c in report.get("candidates", []):
        err(f"candidate seed {c['seed']}: error rate {c['error_rate']:.1%}, similarity {c['similarity']:.3f}"
            + ("  <- kept" if c["kept"] else ""))
    q = report.get("quality")
    if q:
        err(f"check: error rate {q['error_rate']:.1%} ({q['errors']} errors in {q['ref_length']} {q['unit']} units), "
            f"speaker similarity {q['similarity']:.3f}; heard: {q['transcript']}")


def submit_and_wait(client, request, view: ProgressView, calls: Optional[set] = None, on_audio=None) -> dict:
    """Stream one job's events to `view`; returns the result dict (see result_dict) or raises CliError.
    `calls` (batch) holds the streams in flight, so another thread can cancel them on Ctrl-C. Audio pieces
    (streamed jobs) go to `on_audio`; a CliError from it (e.g. the reader of stdout went away) cancels the job."""
    from stepaudio_cli.client import iterate_events

    call = client.submit(request)
    if calls is not None:
        calls.add(call)
    job_id = ""
    try:
        for event in iterate_events(call):
            job_id = event.job_id or job_id
            kind = event.WhichOneof("event")
            if kind == "audio" and on_audio is not None:
                try:
                    on_audio(event.audio)
                except CliError:
                    call.cancel()  # closing the stream cancels the job in the daemon
                    raise
            elif kind == "queued" and event.queued.position > 0:
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
        if calls is not None:
            calls.discard(call)
        view.close()
    raise CliError("the daemon ended the job without a result", "see `stepaudio daemon logs`", Exit.UNAVAILABLE)


def result_dict(job_id: str, done) -> dict:
    """The documented JSON result of a job (docs/json.md)."""
    return {"job_id": job_id, "output": done.output, "sample_rate": done.sample_rate,
            "duration_s": round(done.duration_s, 4),
            "timings": {stage: round(s, 4) for stage, s in done.timings.items()},  # 0.1 ms is plenty
            "options": json.loads(done.options_json or "{}"), "notes": list(done.notes),
            "report": json.loads(done.report_json or "{}")}
