"""Run a planned request (stepaudio_serve.speech) as daemon jobs, one after the other, in a private
scratch folder. JobRequests are built by the CLI's own builders (stepaudio_cli.requests), so the
HTTP API and the CLI check options alike."""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Iterator, Optional

from starlette.requests import Request

from stepaudio_cli import audio_io, requests as job_requests
from stepaudio_cli.job_options import JobOptions
from stepaudio_protos import formats
from stepaudio_serve.daemon_client import AsyncDaemonClient, JobEvent, JobResult
from stepaudio_protos.errors import Reason
from stepaudio_serve.errors import ApiError
from stepaudio_serve.speech import SpeechPlan, Step


@dataclass
class RunOptions:
    seed: Optional[int] = None
    candidates: int = 1
    check: bool = False
    keep_alive: Optional[float] = None
    format: str = "wav"       # of the last step's output (the daemon writes it: stepaudio_protos/formats.py)
    stream: bool = False      # the last step sends its audio as it is made (AudioChunk events)


@dataclass
class Reference:
    audio: str           # a path in our scratch folder or a saved voice's file
    text: Optional[str]  # None: transcribe it


def build_request(step: Step, index: int, last: bool, source: str, ref: Reference, spoken: str,
                  variant: str, folder: Path, opts: RunOptions):
    """The JobRequest of step `index`: its source is the reference (clone, reference edits) or the
    previous step's output. `spoken` is what the audio says after the clone step (the input text)."""
    keep = opts.keep_alive if last else None
    check, candidates = (opts.check, opts.candidates) if index == 0 else (False, 1)
    fmt = opts.format if last else "wav"  # steps before the last are inputs of the next edit
    job = JobOptions(output=str(folder / f"out{index}{formats.FORMATS[fmt].extensions[0]}"), variant=variant or None,
                     keep_alive=keep, seed=opts.seed, check=check, candidates=candidates)
    if step.kind == "clone":
        request = job_requests.clone_request(ref.audio, step.text, ref.text, job)
    elif step.on_reference:
        transcript = ref.text if step.edit_type == "paralinguistic" else (ref.text or spoken)
        option = step.text if step.edit_type == "paralinguistic" else step.edit_info
        request = job_requests.edit_request(ref.audio, step.edit_type, option, transcript, step.iterations, job)
    else:
        request = job_requests.edit_request(source, step.edit_type, step.edit_info, spoken, step.iterations, job)
    request.format = fmt
    request.stream_audio = opts.stream and last
    return request


async def run_plan(client: AsyncDaemonClient, plan: SpeechPlan, ref: Reference, spoken: str, folder: Path,
                   opts: RunOptions) -> AsyncIterator[JobEvent]:
    """Every event of every step; the last step's JobResult is the request's result (its `report`
    and `options` are the main step's, merged)."""
    source, first_result = ref.audio, None
    for index, step in enumerate(plan.steps):
        last = index == len(plan.steps) - 1
        request = build_request(step, index, last, source, ref, spoken, plan.variant, folder, opts)
        async for event in client.submit(request):
            if isinstance(event, JobResult):
                first_result = first_result or event
                source = event.output
                if last:
                    if first_result is not event:
                        event.report = {**first_result.report, **event.report}
                        event.options = {**first_result.options, **event.options,
                                         "seed": first_result.options.get("seed")}
                    yield event
            else:
                yield event


async def last_result(events: AsyncIterator[JobEvent]) -> JobResult:
    """Drain a plan's events; its result."""
    result = None
    async for event in events:
        if isinstance(event, JobResult):
            result = event
    assert result is not None
    return result


@contextlib.contextmanager
def scratch_folder(request: Request) -> Iterator[Path]:
    """A fresh 0700 folder in the runtime dir for this request's uploads and outputs."""
    with audio_io.scratch(request.app.state.config.paths) as folder:
        yield folder


@contextlib.asynccontextmanager
async def upload_slot(request: Request) -> AsyncIterator[None]:
    """At most http_max_uploads requests carrying audio at once; beyond that 429 at once."""
    uploads = request.app.state.uploads
    if uploads.locked():
        limit = request.app.state.config.limits.max_uploads
        raise ApiError.of(Reason.BUSY, f"{limit} requests with audio are being handled; try again shortly",
                          hint="raise http_max_uploads to allow more", headers={"Retry-After": "2"})
    async with uploads:
        yield


def result_headers(result: JobResult, plan: SpeechPlan) -> dict[str, str]:
    """What a client may want besides the audio, as ASCII-safe headers."""
    headers = {"X-Stepaudio-Job-Id": result.job_id, "X-Stepaudio-Duration": f"{result.duration_s:.3f}"}
    if result.options.get("seed") is not None:
        headers["X-Stepaudio-Seed"] = str(result.options["seed"])
    if plan.applied:
        headers["X-Stepaudio-Edits"] = json.dumps(plan.applied)
    if result.notes:
        headers["X-Stepaudio-Notes"] = json.dumps(result.notes)
    if result.report:
        headers["X-Stepaudio-Report"] = json.dumps(result.report)
    return headers
