"""Saved voices: a reference recording and its transcript under a name, for `clone --voice NAME`.

Stored by stepaudio_cli.voice_store (shared with `stepaudio serve`). The prompt cache (keyed by the
decoded samples) makes every clone after the first one with a voice skip tokenisation.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from stepaudio_cli import voice_store
from stepaudio_cli.errors import CliError
from stepaudio_cli.inputs import check_input_audio, check_text
from stepaudio_cli.options import flag
from stepaudio_cli.render import err, print_json
from stepaudio_protos.errors import Reason

voices_app = typer.Typer(help="Save reference voices under a name (stepaudio clone --voice NAME).",
                         no_args_is_help=True)


def load_voice(ctx: typer.Context, name: str) -> tuple[str, str]:
    """(reference audio path, transcript) of a saved voice."""
    return voice_store.load_voice(ctx.obj.paths, name)


@voices_app.command("add")
def add(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="name to save the voice under"),
        ref: str = typer.Argument(..., metavar="REF", help="reference recording"),
        text: Optional[str] = typer.Option(None, "--text", help="transcript of the recording "
                                                                "(default: transcribe it)"),
        force: bool = flag("--force", "-f", help="replace a voice of the same name")) -> None:
    """Save REF and its transcript as voice NAME. REF is checked as `clone` checks a reference."""
    folder = voice_store.voice_dir(ctx.obj.paths, name)  # a bad name is reported before the file is looked at
    if folder.exists() and not force:
        raise CliError(f"a voice named '{name}' exists", "pass --force to replace it", Reason.OUTPUT_EXISTS)
    source = Path(check_input_audio(ref))
    if text is not None:
        check_text(text, "transcript")
    heard = _hear(ctx, str(source))  # with --text too: the engine's checks of the recording
    if text is None:
        if not heard.strip():
            raise CliError(f"no speech was heard in {ref}",
                           "use a recording in which the speaker is clearly audible, or pass --text")
        text = heard
        err(f"transcript: {heard}")
    voice_store.add_voice(ctx.obj.paths, name, source, text, force)
    err(f"saved voice '{name}'")


def _hear(ctx: typer.Context, path: str) -> str:
    """Transcribe REF through the daemon: the engine reads and checks it as it does a clone's reference
    (readable, at most 30 s), and the transcript fills in a missing --text."""
    from stepaudio_cli.jobs import submit_and_wait
    from stepaudio_cli.render import ProgressView
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    request = pb.JobRequest(transcribe=pb.TranscribeJob(audio=path))
    return str(submit_and_wait(ctx.obj.client(), request, ProgressView("voices add"))["report"].get("transcript", ""))


@voices_app.command("list")
def list_(ctx: typer.Context, json_out: bool = flag("--json", help="print as JSON")) -> None:
    """List saved voices."""
    voices = voice_store.list_voices(ctx.obj.paths)
    if json_out:
        print_json(voices)
        return
    for v in voices:
        print(f"{v['name']}\t{v['text']}")
    if not voices:
        err("no saved voices; add one with `stepaudio voices add NAME ref.wav --text \"…\"`")


@voices_app.command("remove")
def remove(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="voice to delete")) -> None:
    """Delete a saved voice."""
    voice_store.remove_voice(ctx.obj.paths, name)
    err(f"removed voice '{name}'")
