"""`stepaudio models`: what is installed (list), whether it loads (verify), and getting it (pull)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from stepaudio_cli.errors import CliError
from stepaudio_cli.options import flag
from stepaudio_cli.render import err, human_bytes, print_json
from stepaudio_protos.errors import Exit, Reason
from stepaudio_protos.facts import VARIANTS

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
        if p.complete and p.release:
            state += f", {p.release} release"
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
    json_out: bool = flag("--json", help="print as JSON"),
    models_dir: Optional[str] = typer.Option(None, "--models-dir", help=_MODELS_DIR_HELP),
) -> None:
    """List, verify and download the model folders (with no subcommand: list)."""
    if ctx.invoked_subcommand is None:
        list_models(ctx, json_out, models_dir)


@models_app.command("list")
def list_models(
    ctx: typer.Context,
    json_out: bool = flag("--json", help="print as JSON"),
    models_dir: Optional[str] = typer.Option(None, "--models-dir", help=_MODELS_DIR_HELP),
) -> None:
    """List the tokenizer and each variant: folder, complete or not, size on disk."""
    from stepaudio_cli.model_files import list_models as scan

    root = models_root(ctx, models_dir)
    parts = scan(root)
    if json_out:
        from stepaudio_protos.facts import CPU_LLM_BITS

        print_json({"models_dir": str(root), "parts": [p.to_dict() for p in parts], "cpu_llm_bits": CPU_LLM_BITS})
        return
    print(f"models in {root}")
    print(models_table(parts))
    from stepaudio_protos.facts import CPU_LLM_BITS

    print("on a CPU the LLM runs " + ", ".join(f"{v} {b}-bit" for v, b in CPU_LLM_BITS.items()) +
          " (onnxruntime, int8 activations; dtype fp32 keeps it exact); `stepaudio doctor` checks this CPU, "
          "`stepaudio status` shows what a loaded variant uses")
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
        raise CliError(f"no models installed in {root}", "download them with `stepaudio models pull base`",
                       Reason.MODEL_MISSING)
    return installed if TOKENIZER in installed else [TOKENIZER, *installed]


@models_app.command("verify")
def verify(
    ctx: typer.Context,
    part: Optional[str] = typer.Argument(None, metavar="PART",
                                         help=" | ".join(["tokenizer", *VARIANTS]) + " (default: all installed)"),
    json_out: bool = flag("--json", help="print as JSON"),
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


def _pull_parts(part: str, with_tokenizer: bool) -> list[str]:
    from stepaudio_cli.model_files import BNB_HINT, HF_REPOS, TOKENIZER, all_parts

    if part == "bnb":
        raise CliError("the bnb variant cannot be downloaded", BNB_HINT)
    if part not in HF_REPOS:
        raise CliError(f"unknown model part {part!r}", f"use one of: {', '.join(p for p in all_parts() if p != 'bnb')}",
                       Exit.USAGE)
    return [TOKENIZER, part] if with_tokenizer and part != TOKENIZER else [part]


def _download(repo: str, folder: Path, revision: str) -> None:
    """Every file of the repository at `revision` into folder, resumable across runs (hub_download.py):
    files already in place are kept, partial ones continue where the last run stopped."""
    try:
        from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, OfflineModeIsEnabled,
                                            RepositoryNotFoundError, RevisionNotFoundError)

        from stepaudio_cli import hub_download
    except ImportError:
        raise CliError("downloading needs the huggingface_hub package", "pip install 'huggingface_hub>=1.0'") \
            from None
    resume = "run the same command again: finished files are kept and partial ones continue"
    try:
        plan = hub_download.plan(repo, revision)
        todo = hub_download.missing(plan, folder)
        err(f"  {len(plan.files)} files at commit {plan.commit[:12]} ({human_bytes(plan.total_bytes)}); "
            f"{len(todo)} to fetch ({human_bytes(sum(f.size for f in todo))})")
        with _PullProgress() as progress:
            hub_download.download(plan, folder, progress)
    except OfflineModeIsEnabled:
        raise CliError(f"cannot download {repo}: HF_HUB_OFFLINE is set", "unset HF_HUB_OFFLINE") from None
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise CliError(f"{repo} was not found on the hub ({_first_line(exc)})",
                       "check the repository name and your access (`hf auth login` for gated repositories)") from None
    except RevisionNotFoundError as exc:
        raise CliError(f"{repo}: {_first_line(exc)}", "pass an existing --revision (default: main)") from None
    except hub_download.DownloadError as exc:
        raise CliError(f"downloading {repo} failed: {exc}", resume) from None
    except (HfHubHTTPError, OSError) as exc:
        raise CliError(f"downloading {repo} failed: {_first_line(exc)}", resume) from None
    except Exception as exc:  # the listing's network errors (httpx2 and the like)
        if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore"):
            raise CliError(f"cannot reach the model hub for {repo}: {type(exc).__name__}: {_first_line(exc)}",
                           "check the network (or HF_ENDPOINT); " + resume) from None
        raise


class _PullProgress:
    """A rich bar per file on a terminal; otherwise one line when each file starts (logs stay short)."""

    def __init__(self) -> None:
        self.bar: Any = None   # a rich Progress on a terminal
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "_PullProgress":
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)

            self.bar = Progress(TextColumn("  {task.description}"), BarColumn(), DownloadColumn(),
                                TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True))
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, f, done: int, size: int) -> None:
        if f.path not in self.tasks:
            self.tasks[f.path] = self.bar.add_task(f.path, total=size, completed=done) if self.bar else 0
            if self.bar is None:
                resumed = f", continuing at {human_bytes(done)}" if done else ""
                err(f"  fetching {f.path} ({human_bytes(size)}{resumed})")
        elif self.bar is not None:
            self.bar.update(self.tasks[f.path], completed=done)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@models_app.command("pull")
def pull(
    ctx: typer.Context,
    part: str = typer.Argument("base", metavar="PART",
                                help="base | awq | tokenizer (bnb is made from base, not downloaded)"),
    models_dir: Optional[str] = typer.Option(None, "--models-dir", help=_MODELS_DIR_HELP),
    revision: str = typer.Option("main", "--revision", help="branch, tag or commit of the repository"),
    no_tokenizer: bool = flag("--no-tokenizer", help="do not also fetch Step-Audio-Tokenizer"),
) -> None:
    """Download a variant (and the tokenizer it needs) from Hugging Face into the models folder.
    Run it again after a failure or Ctrl-C: finished files are kept, partial ones continue, and each
    weight file is checked against the hub's SHA-256. Prints each folder on stdout."""
    from stepaudio_cli.model_files import HF_REPOS, TOKENIZER, TOKENIZER_FOLDER, VARIANT_FOLDERS, part_status

    root = models_root(ctx, models_dir)
    parts = _pull_parts(part, not no_tokenizer)
    root.mkdir(parents=True, exist_ok=True)
    for name in parts:
        folder = root / (TOKENIZER_FOLDER if name == TOKENIZER else VARIANT_FOLDERS[name])
        err(f"pulling {HF_REPOS[name]} ({revision}) into {folder}")
        try:
            _download(HF_REPOS[name], folder, revision)
        except KeyboardInterrupt:
            raise CliError("interrupted", "run the same command again to resume", Exit.INTERRUPTED) from None
        status = part_status(root, name)
        if status.missing:
            base_vocoder = f"{VARIANT_FOLDERS['base']}/"
            if name != "base" and all(m.startswith(base_vocoder) for m in status.missing):
                raise CliError(f"{name} is downloaded but has no vocoder of its own", "it uses the base "
                               "variant's CosyVoice-300M-25Hz folder: stepaudio models pull base")
            raise CliError(f"{HF_REPOS[name]} downloaded, but {folder} lacks " + ", ".join(status.missing[:5]),
                           "the repository does not have the layout stepaudio expects; see README: Models")
        err(f"{name}: complete, {human_bytes(status.size_bytes)}")
        print(folder)
    err("check the files with `stepaudio models verify`")
