"""Saved voices: a reference recording and its transcript under a name, for `clone --voice NAME`.

Stored as <data dir>/voices/<name>/reference.<ext> + voice.json. The prompt cache (keyed by the
decoded samples) makes every clone after the first one with a voice skip tokenisation.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Optional

import typer

from stepaudio_cli.errors import CliError
from stepaudio_cli.inputs import check_input_audio, check_text
from stepaudio_cli.options import flag
from stepaudio_cli.render import err, print_json
from stepaudio_protos.errors import Exit

voices_app = typer.Typer(help="Save reference voices under a name (stepaudio clone --voice NAME).",
                         no_args_is_help=True)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def voice_dir(ctx: typer.Context, name: str) -> Path:
    if not NAME.match(name):
        raise CliError(f"invalid voice name '{name}'", "use letters, digits, '.', '_' or '-' (at most 64)", Exit.USAGE)
    return ctx.obj.paths.voices_dir / name


def load_voice(ctx: typer.Context, name: str) -> tuple[str, str]:
    """(reference audio path, transcript) of a saved voice."""
    folder = voice_dir(ctx, name)
    try:
        meta = json.loads((folder / "voice.json").read_text())
    except (OSError, ValueError):
        known = ", ".join(v["name"] for v in _all(ctx)) or "none saved yet"
        raise CliError(f"no voice named '{name}'", f"saved voices: {known}; add one with `stepaudio voices add`") from None
    return str(folder / meta["file"]), meta["text"]


@voices_app.command("add")
def add(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="name to save the voice under"),
        ref: str = typer.Argument(..., metavar="REF", help="reference recording"),
        text: str = typer.Option(..., "--text", help="transcript of the recording"),
        force: bool = flag("--force", "-f", help="replace a voice of the same name")) -> None:
    """Save REF and its transcript as voice NAME."""
    folder = voice_dir(ctx, name)
    source = Path(check_input_audio(ref))
    check_text(text, "transcript")
    if folder.exists() and not force:
        raise CliError(f"a voice named '{name}' exists", "pass --force to replace it")
    tmp = folder.with_name(f".{name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    target = "reference" + (source.suffix.lower() or ".wav")
    shutil.copyfile(source, tmp / target)
    (tmp / "voice.json").write_text(json.dumps({"name": name, "file": target, "text": text,
                                                 "source": str(source), "added": time.strftime("%Y-%m-%dT%H:%M:%S")},
                                                indent=2))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    err(f"saved voice '{name}'")


@voices_app.command("list")
def list_(ctx: typer.Context, json_out: bool = flag("--json", help="print as JSON")) -> None:
    """List saved voices."""
    voices = _all(ctx)
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
    folder = voice_dir(ctx, name)
    if not (folder / "voice.json").exists():
        raise CliError(f"no voice named '{name}'", "see `stepaudio voices list`")
    shutil.rmtree(folder)
    err(f"removed voice '{name}'")


def _all(ctx: typer.Context) -> list[dict]:
    out: list[dict] = []
    root: Optional[Path] = ctx.obj.paths.voices_dir
    if root is None or not root.is_dir():
        return out
    for meta in sorted(root.glob("*/voice.json")):
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        out.append({"name": data["name"], "text": data["text"], "file": str(meta.parent / data["file"]),
                    "added": data.get("added", "")})
    return out
