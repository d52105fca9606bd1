"""EngineActor: one Ray actor hosting one loaded engine for the whole run (a GPU per actor on a cluster).

Ray Data constructs it once per actor and then calls it with batches of task rows. Each job goes through
the worker's own engine call (stepaudiod.worker_main.run_engine_job) and the daemon's output rules
(stepaudiod.outputs): the engine writes a hidden temp file next to the target, which moves into place
atomically (link: no clobber; replace with --force) or is deleted when the job fails.

A node that cannot see the models folder fails the actor's construction with ActorStartError, whose
message names the node; the driver turns it into a clear error (runner.actor_start_error).
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from stepaudio_ray.tasks import ActorConfig, RayTask, error_result, ok_result

START_ERROR_MARK = "STEPAUDIO_ACTOR_START_ERROR"  # the driver finds the JSON after it in Ray's error text


class ActorStartError(RuntimeError):
    """The actor could not load the engine on its node; the message carries reason, message and hint."""

    def __init__(self, reason: str, message: str, hint: str) -> None:
        super().__init__(START_ERROR_MARK + json.dumps({"reason": reason, "message": message, "hint": hint}))


def node_name() -> str:
    """How a node is named in messages: host name and the IP Ray knows it by."""
    try:
        import ray

        ip = ray.util.get_node_ip_address()
    except Exception:  # outside Ray (unit tests) there is no node address
        ip = ""
    host = socket.gethostname()
    return f"{host} ({ip})" if ip and ip != host else host


class EngineActor:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = ActorConfig(**config)
        self.node = node_name()
        self.lock = threading.Lock()  # one engine call at a time, as in the worker
        started = time.monotonic()
        self.engine = self._load()
        self.load_s = time.monotonic() - started  # reported by this actor's first job, as the daemon does

    def _load(self) -> Any:
        from stepaudio_engine import api
        from stepaudio_engine.engine import Engine
        from stepaudio_engine.folders import find_model_folders

        options = dict(self.config.load)
        try:
            find_model_folders(options["models_dir"], options["variant"])  # a clear error before any import cost
        except api.EngineError as exc:
            raise ActorStartError(exc.reason.value, f"on node {self.node}: {exc.message}",
                                  "the models folder must be visible at the same path on every node "
                                  "(a shared filesystem), or pass that node's path with --models-dir; "
                                  + exc.hint) from None
        options["cache_dir"] = _usable_folder(self.config.cache_dir)
        engine = Engine()
        try:
            engine.load(api.LoadOptions(**options), api.no_progress)
        except api.EngineError as exc:
            raise ActorStartError(exc.reason.value, f"on node {self.node}: {exc.message}", exc.hint) from None
        return engine

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        lines, results = [], []
        for line, task_json in zip(batch["line"], batch["task"]):
            task = RayTask.from_row(str(task_json))
            with self.lock:
                result = self.run(task)
            lines.append(int(line))
            results.append(json.dumps(result, sort_keys=True, default=str))
        return {"line": lines, "result": results}

    def run(self, task: RayTask) -> dict[str, Any]:
        """One job: check, run the engine into a temp file, move it into place; a result line either way."""
        from stepaudio_engine import api
        from stepaudio_protos.v1 import stepaudio_pb2 as pb
        from stepaudiod import outputs
        from stepaudiod.errors import DaemonError
        from stepaudiod.job_payload import job_payload
        from stepaudiod.worker_main import engine_failure, run_engine_job

        began = time.time()
        job_id = f"ray-{self.config.run_id}-{task.line}"
        request = pb.JobRequest.FromString(bytes.fromhex(task.request))
        temp = None
        try:
            target = outputs.check_output(task.target, request.force)
            payload = job_payload(request, target, self.config.max_text_chars,  # the daemon's own checks
                                  self.config.max_edit_seconds)
            temp = outputs.temp_path_for(target, job_id)
            result = run_engine_job(self.engine, request.WhichOneof("job"), {**payload, "output": str(temp)},
                                    api.no_progress, api.CancelToken())
            outputs.commit(temp, target, request.force)
        except DaemonError as exc:
            message = exc.message
            if exc.reason.value == "BAD_INPUT" and "does not exist" in message:
                message += f" on node {self.node} (inputs must be on a filesystem every node sees)"
            return error_result(task.line, exc.reason.value, message, exc.hint)
        except Exception as exc:  # engine errors and bugs alike fail this line only
            failure = engine_failure(exc)
            return error_result(task.line, failure["reason"], failure["message"], failure["hint"])
        finally:
            if temp is not None:
                outputs.discard(temp)  # a no-op once committed
        result["output"] = str(target)
        result.setdefault("options", {})["variant"] = self.config.load["variant"]
        timings = {"queued": max(0.0, began - self.config.started_at)}
        if self.load_s:
            timings["load"], self.load_s = self.load_s, 0.0
        timings.update(result.get("timings") or {})
        timings["total"] = max(0.0, time.time() - self.config.started_at)
        return ok_result(task.line, job_id, result, timings)


def _usable_folder(path: str | None) -> str | None:
    """The prompt cache folder if this node can write it (it is keyed by content and written by rename,
    so nodes may share one); otherwise run without a cache rather than fail."""
    if not path:
        return None
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK | os.X_OK) else None
