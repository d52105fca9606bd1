"""Saved voices: a reference recording and its transcript under a name, for `clone --voice NAME`.

Stored by stepaudio_cli.voice_store (shared with `stepaudio serve`). The prompt cache (keyed by the
decoded samples) makes every clone after the first one with a voice skip tokenisation.
"""
from __future__ import annotations

from pathlib import Path

import typer

from stepaudio_cli import voice_store
from stepaudio_cli.inputs import check_input_audio, check_text
from stepaudio_cli.options import flag
from stepaudio_cli.render import err, print_json

voices_app = typer.Typer(help="Save reference voices under a name (stepaudio clone --voice NAME).",
                         no_args_is_help=True)


def load_voice(ctx: typer.Context, name: str) -> tuple[str, str]:
    """(reference audio path, transcript) of a saved voice."""
    return voice_store.load_voice(ctx.obj.paths, name)


@voices_app.command("add")
def add(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="name to save the voice under"),
        ref: str = typer.Argument(..., metavar="REF", help="reference recording"),
        text: str = typer.Option(..., "--text", help="transcript of the recording"),
        force: bool = flag("--force", "-f", help="replace a voice of the same name")) -> None:
    """Save REF and its transcript as voice NAME."""
    voice_store.voice_dir(ctx.obj.paths, name)  # a bad name is reported before the file is looked at
    source = Path(check_input_audio(ref))
    check_text(text, "transcript")
    voice_store.add_voice(ctx.obj.paths, name, source, text, force)
    err(f"saved voice '{name}'")


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
