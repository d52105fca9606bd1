"""`stepaudio batch JOBS --ray [ADDRESS]`: the same batch on a Ray cluster (extra `ray`).

The lines are read and checked exactly as the local batch does (batch._prepare: bad lines fail alone,
existing outputs are skipped unless --force); the good ones run on a pool of Ray actors that each host
the engine (stepaudio_ray), and the results come out on stdout in input order with the local batch's
schema. This module is imported only on the --ray path, and it imports stepaudio_ray (and so ray) only
inside `run_on_ray`, so the CLI's start-up never pays for Ray (tests/test_imports.py).
"""
from __future__ import annotations

import json
import os
import sys
import time
import uuid
from contextlib import contextmanager
from typing import Iterator, Optional, TextIO

import typer

from stepaudio_cli.errors import CliError
from stepaudio_cli.render import ProgressView, err
from stepaudio_protos.errors import Reason

INSTALL_HINT = "install the Ray extra on this machine and every node: pip install 'stepaudio[engine,cpu,ray]'"


def run_on_ray(ctx: typer.Context, prepared: list[dict], address: str, actors: Optional[int],
               gpus_per_actor: Optional[float], variant: Optional[str]) -> dict[int, dict]:
    """Run the prepared lines on Ray; print every result line in input order; return them by line."""
    settings = _settings(ctx)
    run_variant = variant or settings.settings.default_variant
    results: dict[int, dict] = {p["line"]: p["result"] for p in prepared if "result" in p}
    tasks = []
    for p in prepared:
        if "request" in p:
            task_or_error = _task(p["line"], p["request"], run_variant)
            if isinstance(task_or_error, dict):
                results[p["line"]] = task_or_error
            else:
                tasks.append(task_or_error)
    with _stdout_for_results(ctx.obj.debug) as out:
        printer = _Printer([p["line"] for p in prepared], out)
        printer.flush(results)
        if tasks:
            _run_tasks(tasks, results, printer, settings, address, actors, gpus_per_actor, run_variant,
                       len(prepared), ctx.obj.debug)
    return results


@contextmanager
def _stdout_for_results(debug: bool) -> Iterator[TextIO]:
    """Stdout carries result lines only, but Ray prints cluster errors to the driver's sys.stdout (a
    thread of ray.init) and its C++ core writes to fd 1. While Ray runs, fd 1 points at stderr and
    sys.stdout at nothing (at stderr with --debug); the results go to a stream on the real stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    results = os.fdopen(os.dup(saved), "w", encoding="utf-8")
    previous = sys.stdout
    os.dup2(2, 1)
    sys.stdout = sys.stderr if debug else open(os.devnull, "w", encoding="utf-8")
    try:
        yield results
    finally:
        results.flush()
        if sys.stdout is not sys.stderr:
            sys.stdout.close()
        sys.stdout = previous
        os.dup2(saved, 1)
        os.close(saved)
        results.close()


def _run_tasks(tasks, results, printer, settings, address, actors, gpus_per_actor, run_variant, total,
               debug: bool) -> None:
    import importlib.util

    if importlib.util.find_spec("ray") is None:  # found, not imported: `--ray local` must set up first
        raise CliError("--ray needs Ray, which is not installed", INSTALL_HINT)
    from stepaudio_ray import runner
    from stepaudio_ray.tasks import ActorConfig, error_result
    view = ProgressView("batch")
    run_id = uuid.uuid4().hex[:10]
    targets = [t.target for t in tasks]
    runner.sweep_temp_files(targets)  # temp files a killed earlier run left next to these outputs
    done = len(results)
    try:
        view.update(f"connecting to Ray ({address})")
        with runner.Cluster(address, verbose=debug) as cluster:
            s = settings.settings
            pool = runner.plan_pool(cluster.resources, len(tasks), actors, gpus_per_actor, s.threads)
            load = {"models_dir": str(settings.effective_models_dir().expanduser().resolve()),
                    "variant": run_variant, "device": s.device, "dtype": s.dtype,
                    # a CPU actor gets the threads it reserved; the daemon's setting otherwise
                    "threads": s.threads or (int(pool.cpus_per_actor) if pool.gpus_per_actor == 0 else 0),
                    "flow_bf16": s.flow_bf16,  # the rest as the daemon's scheduler._load_options gives them
                    "cache_max_bytes": s.cache_max_mb * 1024 * 1024}
            config = ActorConfig(load=load, max_text_chars=s.max_text_chars, max_edit_seconds=s.max_edit_seconds,
                                 run_id=run_id, started_at=time.time(), cache_dir=str(settings.paths.prompt_cache_dir))
            err(f"batch: {len(tasks)} job(s) on {pool.actors} Ray actor(s) "
                f"({pool.gpus_per_actor:g} GPU, {pool.cpus_per_actor:g} CPU each), variant {run_variant}, "
                f"models {load['models_dir']}")
            view.update(f"starting {pool.actors} actor(s)", 0.0)
            stream = runner.run_on_ray(tasks, config, pool, verbose=debug)
            try:
                for line, result in stream:
                    results[line] = result
                    done += 1
                    view.update(f"{done} of {total} done", done / max(1, total))
                    printer.flush(results)
            finally:
                stream.close()  # on Ctrl-C: stops the dataset before the cluster goes
    except KeyboardInterrupt:
        view.close()
        raise CliError("interrupted: the Ray run was cancelled (its actors end with it)",
                       "run the same batch again to resume: finished outputs are skipped", Reason.CANCELLED) from None
    except runner.RayRunError as exc:
        view.close()
        if exc.reason == "UNAVAILABLE":  # no cluster: nothing ran (the CLI prints the error once)
            raise CliError(exc.message, exc.hint, Reason.UNAVAILABLE) from None
        err(f"error: {exc.message}")
        if exc.hint:
            err(f"hint: {exc.hint}")
        for task in tasks:  # every line that did not finish fails with the run's reason
            results.setdefault(task.line, error_result(task.line, exc.reason, exc.message, exc.hint))
        printer.flush(results)
    finally:
        view.close()
        runner.sweep_temp_files(targets, run_id)


def _task(line: int, request, run_variant: str):
    """A RayTask for a good line, or the error result of a line this run cannot serve."""
    from stepaudio_ray.tasks import RayTask, error_result

    if request.variant and request.variant != run_variant:
        return error_result(line, "USAGE", f"the line asks for variant {request.variant}, but this Ray run "
                            f"hosts {run_variant}", f"run those lines separately with --variant {request.variant}")
    return RayTask(line=line, request=request.SerializeToString().hex(), target=os.path.abspath(request.output))


class _Printer:
    """Prints results in input order as soon as every earlier line has its result."""

    def __init__(self, order: list[int], out: TextIO) -> None:
        self.order, self.out, self.next = order, out, 0

    def flush(self, results: dict[int, dict]) -> None:
        while self.next < len(self.order) and self.order[self.next] in results:
            print(json.dumps(results[self.order[self.next]], sort_keys=True, default=str), file=self.out, flush=True)
            self.next += 1


def _settings(ctx: typer.Context):
    from stepaudio_protos.settings import SettingsError, load_settings

    try:
        return load_settings({"models_dir": ctx.obj.models_dir})
    except SettingsError as exc:
        raise CliError(str(exc), "fix the setting (stepaudio config show)") from None
