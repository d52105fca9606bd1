"""The saved-voice store, without typer: <data dir>/voices/<name>/reference.<ext> + voice.json.

Shared by `stepaudio voices` and `stepaudio serve` (/v1/audio/voices), so both see the same voices.
Errors are CliErrors; front ends translate them (the HTTP server: 400/404).
"""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

from stepaudio_cli.errors import CliError
from stepaudio_protos.errors import Exit, Reason
from stepaudio_protos.paths import Paths

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class UnknownVoice(CliError):
    """No voice of that name is saved: reason UNKNOWN_VOICE (the HTTP server answers 404)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, Reason.UNKNOWN_VOICE)


def voice_dir(paths: Paths, name: str) -> Path:
    if not NAME.match(name):
        raise CliError(f"invalid voice name '{name}'", "use letters, digits, '.', '_' or '-' (at most 64)", Exit.USAGE)
    return paths.voices_dir / name


def load_voice(paths: Paths, name: str) -> tuple[str, str]:
    """(reference audio path, transcript) of a saved voice."""
    folder = voice_dir(paths, name)
    try:
        meta = json.loads((folder / "voice.json").read_text())
    except (OSError, ValueError):
        known = ", ".join(v["name"] for v in list_voices(paths)) or "none saved yet"
        raise UnknownVoice(f"no voice named '{name}'",
                           f"saved voices: {known}; add one with `stepaudio voices add`") from None
    return str(folder / meta["file"]), meta["text"]


def add_voice(paths: Paths, name: str, source: Path, text: str, force: bool, origin: str = "") -> dict:
    """Copy `source` (an already checked recording) in as voice `name`; replaced only with force.
    Written to a temp folder and renamed, so a voice is never half-saved."""
    folder = voice_dir(paths, name)
    if folder.exists() and not force:
        raise CliError(f"a voice named '{name}' exists", "pass --force to replace it", Reason.OUTPUT_EXISTS)
    tmp = folder.with_name(f".{name}.tmp")
    target = "reference" + (source.suffix.lower() or ".wav")
    meta = {"name": name, "file": target, "text": text, "source": origin or str(source),
            "added": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        shutil.copyfile(source, tmp / target)
        (tmp / "voice.json").write_text(json.dumps(meta, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except OSError as exc:  # a full disk or a read-only STEPAUDIO_HOME: no half-saved .NAME.tmp/ left behind
        raise CliError(f"cannot save the voice '{name}' in {folder.parent}: {exc.strerror}",
                       "free some space there (or set STEPAUDIO_HOME elsewhere) and run it again",
                       Reason.OUTPUT_UNWRITABLE) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"name": name, "text": text, "file": str(folder / target), "added": meta["added"]}


def remove_voice(paths: Paths, name: str) -> None:
    folder = voice_dir(paths, name)
    if not (folder / "voice.json").exists():
        raise UnknownVoice(f"no voice named '{name}'", "see `stepaudio voices list`")
    shutil.rmtree(folder)


def list_voices(paths: Paths) -> list[dict]:
    out: list[dict] = []
    root = paths.voices_dir
    if not root.is_dir():
        return out
    for meta in sorted(root.glob("*/voice.json")):
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        out.append({"name": data["name"], "text": data["text"], "file": str(meta.parent / data["file"]),
                    "added": data.get("added", "")})
    return out
