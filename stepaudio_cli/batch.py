"""`stepaudio batch JOBS.jsonl`: many clone/edit jobs from JSON lines, results as JSON lines.

One line, one job (schema in docs/json.md). Results come out on stdout in input order; a bad line fails
that line only. `--jobs N` keeps N jobs submitted so the daemon's queue never runs dry; a full queue is
waited out, not failed. A job whose output already exists is skipped (so re-running resumes after a
crash) unless --force. Exit code 0 if every line succeeded or was skipped, 1 otherwise.
"""
from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, TimeoutError
from typing import Iterable, Iterator, Optional

import typer

from stepaudio_cli import audio_io, requests
from stepaudio_cli.errors import CliError
from stepaudio_cli.job_options import JobOptions
from stepaudio_cli.options import flag
from stepaudio_cli.render import ProgressView, err
from stepaudio_protos import validate
from stepaudio_protos.errors import Exit, Reason

BUSY_RETRY_S = (0.05, 2.0)


def batch(
    ctx: typer.Context,
    jobs_file: str = typer.Argument(..., metavar="JOBS", help="JSON-lines file of jobs ('-' = stdin)"),
    jobs: int = typer.Option(4, "--jobs", "-j", min=1, max=64, help="jobs kept submitted at once"),
    force: bool = flag("--force", "-f", help="redo jobs whose output exists (default: skip them)"),
    variant: Optional[str] = typer.Option(None, "--variant", help="variant for lines that name none"),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS",
                                      help="run on a Ray cluster instead of the daemon: 'local' (start one on "
                                           "this machine), 'auto' (join the running one) or its address "
                                           "(extra `ray`; docs/ray.md)"),
    ray_actors: Optional[int] = typer.Option(None, "--ray-actors", min=1,
                                             help="engine actors (default: one per GPU, or per CPU without GPUs)"),
    ray_gpus_per_actor: Optional[float] = typer.Option(None, "--ray-gpus-per-actor", min=0,
                                                       help="GPUs per actor (default: 1 if the cluster has GPUs)"),
) -> None:
    """Run clone/edit jobs from JSON lines; print one JSON result per line, in input order."""
    from stepaudio_cli.requests import check_variant

    variant = check_variant(variant, "--variant") or None
    started = time.monotonic()
    if ray is None and (ray_actors is not None or ray_gpus_per_actor is not None):
        raise CliError("--ray-actors and --ray-gpus-per-actor go with --ray", "add --ray local|auto|ADDRESS",
                       Exit.USAGE)
    if ray is not None:  # the whole file is checked first, then runs on the cluster (docs/ray.md)
        from stepaudio_cli.batch_ray import run_on_ray

        prepared = [_prepare(ctx, n, line, force, variant) for n, line in _lines(jobs_file)]
        results = run_on_ray(ctx, prepared, ray, ray_actors, ray_gpus_per_actor, variant)
        _summary(results, time.monotonic() - started)
        if any(r["status"] == "error" for r in results.values()):
            raise typer.Exit(Exit.FAILED)
        return
    run = _Run(ctx, jobs, force, variant)
    try:
        # Lines are read as they arrive (`batch -` from a pipe): each starts as soon as it is read.
        for n, line in _lines(jobs_file):
            run.add(n, line)
        run.wait()
    except KeyboardInterrupt:
        run.stop()
        raise CliError("interrupted: queued and running batch jobs were cancelled",
                       "run the same batch again to resume: finished outputs are skipped",
                       Exit.INTERRUPTED) from None
    finally:
        run.close()
    _summary(run.results, time.monotonic() - started)
    if any(r["status"] == "error" for r in run.results.values()):
        raise typer.Exit(Exit.FAILED)


class _Run:
    """The lines of one batch: prepared on the main thread, run on a pool, printed in input order."""

    def __init__(self, ctx: typer.Context, jobs: int, force: bool, variant: Optional[str]) -> None:
        self.ctx, self.force, self.variant = ctx, force, variant
        self.pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="batch")
        self.futures: list[Future] = []
        self.results: dict[int, dict] = {}
        self.order: list[int] = []
        self.printed = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.calls: set = set()  # job streams in flight (closing one cancels its job in the daemon)
        self.client = None
        self.view = ProgressView("batch")

    def add(self, n: int, line: str) -> None:
        prepared = _prepare(self.ctx, n, line, self.force, self.variant)
        with self.lock:
            self.order.append(n)
        if "result" in prepared:
            self._finish(n, prepared["result"])
            return
        if self.client is None:
            self.client = self.ctx.obj.client()
        future = self.pool.submit(_run_one, self.client, prepared, self.stopping, self.calls)
        future.add_done_callback(functools.partial(self._done, n))
        self.futures.append(future)

    def _done(self, n: int, future: Future) -> None:
        self._finish(n, _outcome(n, future))

    def wait(self) -> None:
        for future in list(self.futures):
            while not future.done():  # a timed wait, so Ctrl-C reaches the main thread
                try:
                    future.exception(timeout=0.2)
                except TimeoutError:
                    continue
                except CancelledError:
                    break

    def stop(self) -> None:
        self.stopping.set()
        for future in self.futures:
            future.cancel()
        for call in list(self.calls):
            call.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.view.close()

    def _finish(self, n: int, result: dict) -> None:
        with self.lock:
            self.results[n] = result
            done = len(self.results)
            self.view.update(f"{done} of {len(self.order)} done", done / max(1, len(self.order)))
            # print in input order as soon as every earlier line has its result
            while self.printed < len(self.order) and self.order[self.printed] in self.results:
                _emit(self.results[self.order[self.printed]])
                self.printed += 1


def _emit(result: dict) -> None:
    print(json.dumps(result, sort_keys=True, default=str), flush=True)


def _outcome(n: int, future: Future) -> dict:
    if future.cancelled():
        return _error(n, Reason.CANCELLED, "the batch was interrupted", "run it again to resume")
    exc = future.exception()
    if exc is not None:  # a bug in one line must not take the others with it
        return _error(n, Reason.INTERNAL, f"{type(exc).__name__}: {exc}", "this is a bug; please report it")
    return future.result()


def _lines(source: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each job line, read lazily; blank lines and # comments are skipped."""
    if source == "-":
        stream: Iterable[str] = iter(sys.stdin.readline, "")
        yield from _numbered(stream)
        return
    try:
        with open(source, encoding="utf-8") as fh:
            yield from _numbered(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise audio_io.text_file_error(source, "the batch", exc, "JSON-lines") from None


def _numbered(stream: Iterable[str]) -> Iterator[tuple[int, str]]:
    for n, line in enumerate(stream, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield n, line


def _prepare(ctx: typer.Context, n: int, line: str, force: bool, variant: Optional[str]) -> dict:
    spec: object = None
    try:
        spec = json.loads(line)
        if not isinstance(spec, dict):
            raise CliError("a job line must be a JSON object", "see docs/json.md", Exit.USAGE)
        request = _request(ctx, spec, force, variant)
    except json.JSONDecodeError as exc:
        return {"line": n, "result": _error(n, Reason.BAD_INPUT, f"invalid JSON: {exc.msg} at column {exc.colno}",
                                            "each line must be one JSON object")}
    except validate.Invalid as exc:
        return {"line": n, "result": _error(n, exc.reason, exc.message, exc.hint or "see docs/json.md",
                                            field=exc.field)}
    except CliError as exc:
        if exc.reason is Reason.OUTPUT_EXISTS and not force and isinstance(spec, dict):
            output = os.path.abspath(os.path.expanduser(str(spec.get("output"))))  # as `ok` lines give it
            return {"line": n, "result": {"line": n, "status": "skipped", "output": output,
                                          "reason": "the output exists (pass --force to redo it)"}}
        return {"line": n, "result": _error(n, exc.reason, exc.message, exc.hint)}
    return {"line": n, "request": request}


def _request(ctx: typer.Context, spec: dict, force: bool, variant: Optional[str]):
    """A JobRequest from one line; every field is checked by stepaudio_protos.validate first."""
    kind, fields = validate.check_fields(spec)
    if "output" not in fields:
        raise validate.Invalid("output", "the job has no output path", 'add "output": "out.wav"')
    opts = JobOptions(output=fields["output"], force=force, variant=fields.get("variant", variant),
                      keep_alive=fields.get("keep_alive"), seed=fields.get("seed"), check=fields.get("check", False),
                      candidates=fields.get("candidates", 1), format=fields.get("format") or None,
                      sample_format=fields.get("sample_format") or None)
    if kind == "clone":
        ref, ref_text = fields.get("ref"), fields.get("ref_text")
        if "voice" in fields:
            from stepaudio_cli.voices import load_voice

            if "ref" in fields:
                raise validate.Invalid("voice", "give either ref or voice, not both", "")
            ref, voice_text = load_voice(ctx, fields["voice"])
            ref_text = ref_text if ref_text is not None else voice_text
        if ref is None:
            raise validate.Invalid("ref", "the clone job has no reference", 'add "ref": "ref.wav" or "voice": "name"')
        return requests.clone_request(ref, fields.get("text", ""), ref_text, opts, fields.get("language"))
    if "input" not in fields:
        raise validate.Invalid("input", "the edit job has no input", 'add "input": "in.wav"')
    edit_type, option = validate.edit_choice(fields)
    option = "" if isinstance(option, bool) else option
    return requests.edit_request(fields["input"], edit_type, option, fields.get("text"), fields.get("iterations", 1),
                                 opts, fields.get("language"))


def _run_one(client, prepared: dict, stop: threading.Event, calls: set) -> dict:
    from stepaudio_cli.jobs import submit_and_wait

    n = prepared["line"]
    delay = BUSY_RETRY_S[0]
    while not stop.is_set():
        try:
            result = submit_and_wait(client, prepared["request"], ProgressView("", quiet=True), calls)
            return {"line": n, "status": "ok", **result}
        except CliError as exc:
            if exc.reason is Reason.BUSY:  # the queue is full: wait for room instead of failing the line
                time.sleep(delay)
                delay = min(delay * 2, BUSY_RETRY_S[1])
                continue
            return _error(n, exc.reason, exc.message, exc.hint)
    return _error(n, Reason.CANCELLED, "the batch was interrupted", "run it again to resume")


def _error(n: int, reason: Reason, message: str, hint: str = "", field: str = "") -> dict:
    error = CliError(message, hint, reason).as_json()
    if field:
        error["field"] = field
    return {"line": n, "status": "error", "error": error}


def _summary(results: dict[int, dict], seconds: float) -> None:
    counts = {s: sum(1 for r in results.values() if r["status"] == s) for s in ("ok", "skipped", "error")}
    err(f"batch: {counts['ok']} ok, {counts['skipped']} skipped, {counts['error']} failed in {seconds:.1f} s")
