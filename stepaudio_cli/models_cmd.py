"""`stepaudio models`: what is installed (list), whether it loads (verify), and getting it (pull)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from stepaudio_cli.errors import CliError
from stepaudio_cli.render import err, human_bytes, print_json
from stepaudio_protos.errors import Exit

models_app = typer.Typer(help="List, verify and download the model folders.", invoke_without_command=True)

_MODELS_DIR_HELP = "models root (default: --models-dir before the command, STEPAUDIO_MODELS_DIR or models_dir)"


def models_root(ctx: typer.Context, override: Optional[str] = None) -> Path:
    """The models root: this command's --models-dir, the global one (or its env var), else the setting."""
    chosen = override or (ctx.obj.models_dir if ctx.obj else None)
    if chosen:
        return Path(chosen).expanduser()
    from stepaudio_protos.settings import SettingsError, load_settings

    try:
        return load_settings().effective_models_dir()
    except SettingsError as exc:
        raise CliError(str(exc), "fix it with `stepaudio config set` or edit `stepaudio config path`") from None


def models_table(parts: list) -> str:
    rows = [("PART", "STATE", "SIZE", "FOLDER")]
    for p in parts:
        state = "complete" if p.complete else ("incomplete" if p.installed else "not installed")
        if p.complete and p.tiny:
            state += " (tiny test model)"
        rows.append((p.name, state, human_bytes(p.size_bytes) if p.installed else "-", str(p.folder)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    for p in parts:
        if p.installed and p.missing:
            lines.append(f"{p.name}: missing " + ", ".join(p.missing[:6]) +
                         (f" … (+{len(p.missing) - 6} more)" if len(p.missing) > 6 else ""))
    return "\n".join(lines)


@models_app.callback()
def models_main(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="print as JSON"),
    models_dir: Optional[str] = typer.Option(None, "--models-dir", help=_MODELS_DIR_HELP),
) -> None:
    """List, verify and download the model folders (with no subcommand: list)."""
    if ctx.invoked_subcommand is None:
        list_models(ctx, json_out, models_dir)


@models_app.command("list")
def list_models(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="print as JSON"),
    models_dir: Optional[str] = typer.Option(None, "--models-dir", help=_MODELS_DIR_HELP),
) -> None:
    """List the tokenizer and each variant: folder, complete or not, size on disk."""
    from stepaudio_cli.model_files import list_models as scan

    root = models_root(ctx, models_dir)
    parts = scan(root)
    if json_out:
        print_json({"models_dir": str(root), "parts": [p.to_dict() for p in parts]})
        return
    print(f"models in {root}")
    print(models_table(parts))
    if not any(p.installed for p in parts):
        err(f"nothing is installed in {root}; download with `stepaudio models pull base`")


def _verify_parts(root: Path, part: Optional[str]) -> list[str]:
    from stepaudio_cli.model_files import TOKENIZER, all_parts, part_status

    if part:
        if part not in all_parts():
            raise CliError(f"unknown model part {part!r}", f"use one of: {', '.join(all_parts())}", Exit.USAGE)
        return [part]
    installed = [name for name in all_parts() if part_status(root, name).installed]
    if not installed:
        raise CliError(f"no models installed in {root}", "download them with `stepaudio models pull base`")
    return installed if TOKENIZER in installed else [TOKENIZER, *installed]


@models_app.command("verify")
def verify(
    ctx: typer.Context,
    part: Optional[str] = typer.Argument(None, help="tokenizer | base | bnb | awq (default: all installed)"),
    json_out: bool = typer.Option(False, "--json", help="print as JSON"),
    models_dir: Optional[str] = typer.Option(None, "--models-dir", help=_MODELS_DIR_HELP),
) -> None:
    """Check every model file: present, readable, tensor names and shapes as the loaders expect.
    Exit code 1 if any check fails."""
    root = models_root(ctx, models_dir)
    parts = _verify_parts(root, part)
    # The checks need torch, which this process must never import: run them in the engine's interpreter.
    cmd = [sys.executable, "-m", "stepaudio_engine.verify", "--json", "--models-dir", str(root), *parts]
    err(f"verifying {', '.join(parts)} in {root} …")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    try:
        checks = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise CliError(f"the verifier did not run: {tail}",
                       "is the engine installed? (pip install 'stepaudio[engine,cpu]')") from None
    failed = [c for c in checks if not c["ok"]]
    if json_out:
        print_json({"models_dir": str(root), "ok": not failed, "checks": checks})
    else:
        for c in checks:
            print(f"{'pass' if c['ok'] else 'FAIL'}  {c['part']:<9}  {_short(c['file'], root)}: {c['message']}")
            if not c["ok"] and c["fix"]:
                print(f"      fix: {c['fix']}")
        err(f"{len(checks) - len(failed)} of {len(checks)} checks passed")
    if failed:
        raise typer.Exit(Exit.FAILED)


def _short(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path
