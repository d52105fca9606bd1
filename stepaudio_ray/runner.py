"""The driver side of `stepaudio batch --ray`: connect to a cluster, size the actor pool, stream results.

    connect("local" | "auto" | ADDRESS)    a cluster for this run (local: started on loopback, stopped after)
    plan_pool(...)                          actors and resources per actor (defaults from the cluster)
    run_on_ray(tasks, config, pool)         yields (line, result) as each job finishes, in any order

Ray Data runs the rows (one job per block) through `map_batches(EngineActor, batch_size=1,
compute=ActorPoolStrategy(size=n))`: the actor class is constructed once per actor and keeps its engine
for the run (research-2026-12 §5: batch_size is required with GPUs, ray #42340; `compute=` replaces the
deprecated `concurrency=` since 2.51). Each actor gets one job at a time so a long job never holds a
queue of short ones behind it while another actor idles.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator, Optional

from stepaudio_ray.actor import START_ERROR_MARK, EngineActor
from stepaudio_ray.tasks import ActorConfig, RayTask

# Ray turns 127.0.0.1 into the machine's routable address unless clusters are "disabled" on this
# platform, in which case every Ray process binds loopback (ray._private.services.get_node_ip_address).
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class RayRunError(Exception):
    """A run-level failure (no cluster, an actor that cannot start): reason, message, hint."""

    def __init__(self, reason: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.reason, self.message, self.hint = reason, message, hint


@dataclass
class Pool:
    actors: int
    gpus_per_actor: float
    cpus_per_actor: float


class Cluster:
    """A connection for one run; `close()` disconnects (and stops the cluster `local` started)."""

    def __init__(self, address: str, verbose: bool = False) -> None:
        self.address = address
        self.verbose = verbose
        self.level = logging.INFO if verbose else logging.ERROR
        self.resources: dict[str, float] = {}

    def __enter__(self) -> "Cluster":
        bootstrap = self.address if self.address not in ("local", "auto") else _current_cluster()
        if bootstrap:
            _check_reachable(bootstrap, given=self.address != "auto")
        if self.address == "local" or (bootstrap and _is_loopback(bootstrap)):
            # read when ray is first imported (before any `import ray`); a driver joining a loopback cluster
            # needs it too, or Ray swaps 127.0.0.1 for this machine's routable address and finds nothing
            os.environ[LOOPBACK_ENV] = "0"
        if not self.verbose:
            # Ray's C++ core logs at ERROR that Ray Data's actors may restart with their constructor
            # arguments in the object store: true of every run, and nothing the user can act on
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        import ray

        kwargs: dict[str, Any] = dict(include_dashboard=False, logging_level=self.level,
                                      log_to_driver=self.verbose, configure_logging=True, namespace="stepaudio")
        try:
            if self.address == "local":
                ray.init(**kwargs)
            else:
                kwargs.pop("include_dashboard")  # a setting of the cluster, not of a driver that joins it
                ray.init(address=self.address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayRunError("UNAVAILABLE", f"cannot connect to the Ray cluster at {self.address!r}: {exc}",
                              "start one (`ray start --head` on the head node), give its address "
                              "(--ray HOST:6379), or run on this machine with --ray local") from None
        self.resources = {k: float(v) for k, v in ray.cluster_resources().items()}
        return self

    def __exit__(self, *exc: object) -> None:
        import ray

        ray.shutdown()  # the driver's actors end with it; `local` also stops its cluster


def _current_cluster() -> str:
    """The address `--ray auto` would join: RAY_ADDRESS, else the file Ray's head writes on its machine."""
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    base = Path(os.environ.get("RAY_TMPDIR") or "/tmp") / "ray" / "ray_current_cluster"
    try:
        return base.read_text().strip()
    except OSError:
        return ""  # none on this machine: ray.init(address="auto") says so


def _host_port(address: str) -> tuple[str, int]:
    address = address.split("://", 1)[-1]
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _is_loopback(address: str) -> bool:
    try:
        host = _host_port(address)[0]
    except ValueError:
        return False
    return host in ("localhost", "::1") or host.startswith("127.")


def _check_reachable(address: str, given: bool) -> None:
    """Ray retries an unreachable address for minutes, printing warnings: try the port first."""
    try:
        host, port = _host_port(address)
        socket.create_connection((host, port), timeout=5).close()
    except ValueError:
        raise RayRunError("UNAVAILABLE", f"--ray {address!r} is not a Ray address",
                          "give HOST:PORT (e.g. 10.0.0.5:6379), auto, or local") from None
    except OSError as exc:
        where = "given" if given else "of the running cluster recorded on this machine"
        raise RayRunError("UNAVAILABLE", f"no Ray cluster answers at {address} (the address {where}): "
                          f"{exc.strerror or exc}",
                          "start one (`ray start --head` on the head node), check the address and port, or run "
                          "on this machine with --ray local") from None


def plan_pool(resources: dict[str, float], jobs: int, actors: Optional[int], gpus_per_actor: Optional[float],
              threads: int) -> Pool:
    """Defaults from the cluster: a GPU per actor and one actor per GPU when it has GPUs; otherwise one
    actor per `threads` CPUs (1 when threads is 0). Never more actors than jobs."""
    gpus = resources.get("GPU", 0.0)
    cpus = resources.get("CPU", 1.0)
    per_gpu = (1.0 if gpus >= 1 else 0.0) if gpus_per_actor is None else float(gpus_per_actor)
    if per_gpu > gpus:
        raise RayRunError("UNSUPPORTED", f"--ray-gpus-per-actor {per_gpu:g}, but the cluster has {gpus:g} GPU(s)",
                          "use --ray-gpus-per-actor 0 to run on CPUs, or add GPU nodes")
    per_cpu = float(max(1, threads))
    if actors is None:
        actors = int(gpus // per_gpu) if per_gpu > 0 else int(cpus // per_cpu)
    return Pool(actors=max(1, min(actors, jobs)), gpus_per_actor=per_gpu, cpus_per_actor=per_cpu)


def run_on_ray(tasks: list[RayTask], config: ActorConfig, pool: Pool,
               verbose: bool = False) -> Generator[tuple[int, dict], None, None]:
    """Run the tasks on the pool; yield (line, result line) as each finishes. Raises RayRunError when an
    actor cannot start (the message names its node). Closing the generator cancels the run."""
    import ray
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = verbose  # the CLI shows its own progress line; two would fight over stderr
    ctx.print_on_execution_start = verbose
    ctx.enable_auto_log_stats = False
    _ray_log_level(logging.INFO if verbose else logging.ERROR)  # ray.data sets its loggers up on import
    ds = ray.data.from_items([t.row() for t in tasks], override_num_blocks=len(tasks))
    results = ds.map_batches(
        EngineActor, fn_constructor_kwargs={"config": config.__dict__}, batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=pool.actors, max_tasks_in_flight_per_actor=1),
        num_gpus=pool.gpus_per_actor, num_cpus=pool.cpus_per_actor)
    try:
        for row in results.iter_rows():
            yield int(row["line"]), json.loads(row["result"])
    except ray.exceptions.RayError as exc:
        raise actor_start_error(exc) or RayRunError("INTERNAL", f"the Ray run failed: {_first_line(exc)}",
                                                    "see the Ray logs (/tmp/ray/session_latest/logs)") from None


def actor_start_error(exc: BaseException) -> Optional[RayRunError]:
    """The EngineActor start failure inside Ray's error text, if that is what `exc` is."""
    text = str(exc)
    at = text.find(START_ERROR_MARK)
    if at < 0:
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(text, at + len(START_ERROR_MARK))
    except ValueError:
        return None
    return RayRunError(data["reason"], data["message"], data["hint"])


def sweep_temp_files(targets: list[str], run_id: str = "") -> list[Path]:
    """Delete Ray temp files next to these targets: this run's (run_id) or, without one, those killed runs
    left. Only hidden names of our own form for exactly these targets are touched; one listing per folder."""
    from stepaudiod.outputs import TEMP_MARK

    by_folder: dict[Path, set[str]] = {}
    for target in targets:
        path = Path(target)
        by_folder.setdefault(path.parent, set()).add(path.name)
    deleted = []
    prefix = f"{TEMP_MARK}ray-{run_id + '-' if run_id else ''}"
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name, sep, _ = entry.name[1:].partition(prefix)
            if entry.name.startswith(".") and sep and name in names and entry.is_file(follow_symlinks=False):
                try:
                    os.unlink(entry.path)
                    deleted.append(Path(entry.path))
                except OSError:
                    pass
    return deleted


def _ray_log_level(level: int) -> None:
    """Ray logs each execution (INFO) and its defaults (WARNING: token auth is on, progress bars are off)
    on stderr, which belongs to the batch's own progress and errors; --debug lets it all through."""
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
