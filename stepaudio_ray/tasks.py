"""What travels between the driver and the actors: plain dataclasses, JSON-encoded in the dataset rows
(Arrow cannot unify the varying nested result dicts across blocks, a string column always works).

No ray, no engine, no protobuf here: the driver side of the CLI builds these from its JobRequests.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional


@dataclass
class RayTask:
    """One good batch line: its JobRequest (serialized protobuf, hex) as the CLI built and checked it.
    The actor turns it into the engine request with the daemon's own code (stepaudiod.job_payload)."""

    line: int
    request: str                  # JobRequest.SerializeToString().hex()
    target: str                   # absolute output path (on the shared filesystem)

    def row(self) -> dict[str, Any]:
        return {"line": self.line, "task": json.dumps(asdict(self))}

    @classmethod
    def from_row(cls, task_json: str) -> "RayTask":
        return cls(**json.loads(task_json))


@dataclass
class ActorConfig:
    """What every actor of one run needs: how to load the engine, and the run's identity and clock."""

    load: dict[str, Any]          # stepaudio_engine.api.LoadOptions fields (models_dir is the folder every node sees)
    max_text_chars: int = 20000   # the daemon's settings of these names, applied by job_payload
    max_edit_seconds: float = 600.0
    run_id: str = ""              # names temp files, so a run's own leftovers can be told from others'
    started_at: float = 0.0       # driver wall clock at the start of the run (timings.queued, timings.total)
    cache_dir: Optional[str] = None  # the driver's prompt cache folder; an actor that cannot use it runs without
    extra: dict[str, Any] = field(default_factory=dict)


def error_result(line: int, reason: str, message: str, hint: str = "") -> dict[str, Any]:
    """A failed line, exactly as the local batch writes it (docs/json.md)."""
    return {"line": line, "status": "error", "error": {"reason": reason, "message": message, "hint": hint}}


def ok_result(line: int, job_id: str, result: dict[str, Any], timings: dict[str, float]) -> dict[str, Any]:
    """A finished line with the fields and rounding of the CLI's result_dict (docs/json.md)."""
    return {"line": line, "status": "ok", "job_id": job_id, "output": result["output"],
            "sample_rate": int(result.get("sample_rate", 0) or 0),
            "duration_s": round(float(result.get("duration_s", 0.0) or 0.0), 4),
            "timings": {stage: round(float(s), 4) for stage, s in timings.items()},
            "options": dict(result.get("options") or {}), "notes": list(result.get("notes") or []),
            "report": dict(result.get("report") or {})}
