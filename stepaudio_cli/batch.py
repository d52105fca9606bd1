"""`stepaudio batch JOBS.jsonl`: many clone/edit jobs from JSON lines, results as JSON lines.

One line, one job (schema in docs/json.md). Results come out on stdout in input order; a bad line fails
that line only. `--jobs N` keeps N jobs submitted so the daemon's queue never runs dry; a full queue is
waited out, not failed. A job whose output already exists is skipped (so re-running resumes after a
crash) unless --force. Exit code 0 if every line succeeded or was skipped, 1 otherwise.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Optional

import typer

from stepaudio_cli import requests
from stepaudio_cli.errors import CliError
from stepaudio_cli.job_options import JobOptions
from stepaudio_cli.options import flag
from stepaudio_cli.render import ProgressView, err
from stepaudio_protos.errors import Exit, Reason

CLONE_KEYS = {"kind", "ref", "voice", "ref_text", "text", "output", "seed", "variant", "keep_alive", "check",
              "candidates"}
EDIT_KEYS = {"kind", "input", "text", "output", "iterations", "seed", "variant", "keep_alive", "check", "candidates",
             *requests.EDIT_FLAGS}
BUSY_RETRY_S = (0.05, 2.0)


def batch(
    ctx: typer.Context,
    jobs_file: str = typer.Argument(..., metavar="JOBS", help="JSON-lines file of jobs ('-' = stdin)"),
    jobs: int = typer.Option(4, "--jobs", "-j", min=1, max=64, help="jobs kept submitted at once"),
    force: bool = flag("--force", "-f", help="redo jobs whose output exists (default: skip them)"),
    variant: Optional[str] = typer.Option(None, "--variant", help="variant for lines that name none"),
) -> None:
    """Run clone/edit jobs from JSON lines; print one JSON result per line, in input order."""
    lines = _read_lines(jobs_file)
    prepared = [_prepare(ctx, n, line, force, variant) for n, line in lines]
    todo = [p for p in prepared if "request" in p]
    client = ctx.obj.client() if todo else None
    started = time.monotonic()
    view = ProgressView("batch")
    results: dict[int, dict] = {p["line"]: p["result"] for p in prepared if "result" in p}
    printed = _Printer([p["line"] for p in prepared])
    printed.flush(results)
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="batch") as pool:
        futures: dict[Future, int] = {pool.submit(_run_one, client, p, stop): p["line"] for p in todo}
        done = len(results)
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                done += 1
                view.update(f"{done} of {len(prepared)} done", done / max(1, len(prepared)))
                printed.flush(results)
        except KeyboardInterrupt:
            stop.set()
            for future in futures:
                future.cancel()
            view.close()
            raise CliError("interrupted: queued and running batch jobs were cancelled",
                           "run the same batch again to resume: finished outputs are skipped", Exit.INTERRUPTED) from None
        finally:
            view.close()
    _summary(results, time.monotonic() - started)
    if any(r["status"] == "error" for r in results.values()):
        raise typer.Exit(Exit.FAILED)


class _Printer:
    """Prints results in input order as soon as every earlier line has its result."""

    def __init__(self, order: list[int]) -> None:
        self.order = order
        self.next = 0

    def flush(self, results: dict[int, dict]) -> None:
        while self.next < len(self.order) and self.order[self.next] in results:
            print(json.dumps(results[self.order[self.next]], sort_keys=True, default=str), flush=True)
            self.next += 1


def _read_lines(source: str) -> list[tuple[int, str]]:
    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read {source}: {exc}", "give a UTF-8 JSON-lines file") from None
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.lstrip().startswith("#")]


def _prepare(ctx: typer.Context, n: int, line: str, force: bool, variant: Optional[str]) -> dict:
    try:
        spec = json.loads(line)
        if not isinstance(spec, dict):
            raise CliError("a job line must be a JSON object", "see docs/json.md", Exit.USAGE)
        request = _request(ctx, spec, force, variant)
    except json.JSONDecodeError as exc:
        return {"line": n, "result": _error(n, Reason.BAD_INPUT, f"invalid JSON: {exc.msg} at column {exc.colno}",
                                            "each line must be one JSON object")}
    except CliError as exc:
        if exc.reason is Reason.OUTPUT_EXISTS and not force:
            output = os.path.abspath(os.path.expanduser(str(spec.get("output"))))  # as `ok` lines give it
            return {"line": n, "result": {"line": n, "status": "skipped", "output": output,
                                          "reason": "the output exists (pass --force to redo it)"}}
        return {"line": n, "result": _error(n, exc.reason, exc.message, exc.hint)}
    return {"line": n, "request": request}


def _request(ctx: typer.Context, spec: dict, force: bool, variant: Optional[str]):
    kind = spec.get("kind") or ("edit" if "input" in spec else "clone")
    allowed = {"clone": CLONE_KEYS, "edit": EDIT_KEYS}.get(kind)
    if allowed is None:
        raise CliError(f"unknown kind '{kind}'", "kind is clone or edit", Exit.USAGE)
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise CliError(f"unknown field(s) for {kind}: {', '.join(unknown)}", "see docs/json.md", Exit.USAGE)
    if not isinstance(spec.get("output"), str):
        raise CliError("the job has no output path", 'add "output": "out.wav"', Exit.USAGE)
    opts = JobOptions(output=spec["output"], force=force, variant=spec.get("variant", variant),
                      keep_alive=spec.get("keep_alive"), seed=spec.get("seed"), check=bool(spec.get("check", False)),
                      candidates=int(spec.get("candidates", 1)))
    if kind == "clone":
        ref, ref_text = spec.get("ref"), spec.get("ref_text")
        if spec.get("voice"):
            from stepaudio_cli.voices import load_voice

            ref, voice_text = load_voice(ctx, str(spec["voice"]))
            ref_text = ref_text if ref_text is not None else voice_text
        if not isinstance(ref, str):
            raise CliError("the clone job has no reference", 'add "ref": "ref.wav" or "voice": "name"', Exit.USAGE)
        return requests.clone_request(ref, str(spec.get("text", "")), ref_text, opts)
    edit_type, option = requests.edit_choice({k: spec.get(k) for k in requests.EDIT_FLAGS})
    return requests.edit_request(str(spec.get("input")), edit_type, option, spec.get("text"),
                                 int(spec.get("iterations", 1)), opts)


def _run_one(client, prepared: dict, stop: threading.Event) -> dict:
    from stepaudio_cli.jobs import submit_and_wait

    n = prepared["line"]
    delay = BUSY_RETRY_S[0]
    while not stop.is_set():
        try:
            result = submit_and_wait(client, prepared["request"], ProgressView("", quiet=True))
            return {"line": n, "status": "ok", **result}
        except CliError as exc:
            if exc.reason is Reason.BUSY:  # the queue is full: wait for room instead of failing the line
                time.sleep(delay)
                delay = min(delay * 2, BUSY_RETRY_S[1])
                continue
            return _error(n, exc.reason, exc.message, exc.hint)
    return _error(n, Reason.CANCELLED, "the batch was interrupted", "run it again to resume")


def _error(n: int, reason: Reason, message: str, hint: str = "") -> dict:
    return {"line": n, "status": "error", "error": CliError(message, hint, reason).as_json()}


def _summary(results: dict[int, dict], seconds: float) -> None:
    counts = {s: sum(1 for r in results.values() if r["status"] == s) for s in ("ok", "skipped", "error")}
    err(f"batch: {counts['ok']} ok, {counts['skipped']} skipped, {counts['error']} failed in {seconds:.1f} s")
