"""Helpers of the fault-injection suite: follow a job's plain progress lines, damage copies of the tiny
model folder, and check what every fault test must leave behind (a healthy daemon, no output, no temp
files, no orphan workers)."""
from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path


from sa_helpers import StepAudio, process_gone, wait_for, write_wav


class FollowedJob:
    """A CLI job started with stderr on a pipe; a thread collects the plain progress lines
    ("clone: tokenizing", …) so a test can act the moment a stage begins."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)

    def wait_stage(self, stage: str, timeout: float = 120.0) -> None:
        """Block until a progress line of `stage` appears (fails if the job ends first)."""
        end = time.monotonic() + timeout
        while not any(line.endswith(": " + stage) for line in self.lines):
            if self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"job ended (rc {self.proc.returncode}) before {stage!r}:\n" + self.stderr)
            try:
                self._new.get(timeout=max(0.01, min(0.5, end - time.monotonic())))
            except queue.Empty:
                if time.monotonic() > end:
                    raise AssertionError(f"no {stage!r} progress within {timeout} s:\n" + self.stderr) from None

    def finish(self, timeout: float = 120.0) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return rc

    def last_stage(self) -> str:
        stages = [line.split(": ", 1)[1] for line in self.lines if line.startswith(("clone: ", "edit"))]
        return stages[-1] if stages else ""

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


def follow(inst: StepAudio, *args: str) -> FollowedJob:
    return FollowedJob(inst.popen(*args))


def fresh_ref(inst: StepAudio, name: str, seconds: float) -> Path:
    """A reference recording of its own length, so the prompt cache never serves it (tokenizing runs)."""
    return write_wav(inst.work / name, seconds=seconds)


def clone_args(inst: StepAudio, ref: Path, text: str, out: str, *extra: str) -> list[str]:
    return ["clone", str(ref), text, "--ref-text", "a reference", "-o", str(inst.work / out), *extra]


def kill_when_stopped(pid: int) -> None:
    """SIGSTOP then SIGKILL: the worker freezes at once wherever it is, so the stage we saw is the stage
    it dies in (a bare SIGKILL would race the few milliseconds the stage line took to reach us)."""
    os.kill(pid, signal.SIGSTOP)
    os.kill(pid, signal.SIGKILL)


def gone(pid: int) -> bool:
    return process_gone(pid)


def assert_daemon_healthy(inst: StepAudio, pid: int | None = None) -> dict:
    """The daemon answers status (the same process if `pid` is given) and nothing is left running."""
    status = inst.status()
    if pid is not None:
        assert status["pid"] == pid, "the daemon was replaced"
    assert inst.daemon_pids() == [status["pid"]]
    return status


def assert_no_output(inst: StepAudio, *names: str) -> None:
    for name in names:
        assert not (inst.work / name).exists(), f"{name} was written by a failed job"
    assert not inst.stray_files(), inst.stray_files()


def assert_no_workers(inst: StepAudio, timeout: float = 15.0) -> None:
    wait_for(lambda: not inst.worker_pids(), timeout=timeout, what="workers of this home to exit")


def overlay(source: Path, target: Path) -> Path:
    """A copy of a model folder made of symlinks (cheap); a test replaces the files it damages with real
    files via `own`. The source folder is shared by the whole session and is never modified."""
    for folder, _dirs, files in os.walk(source):
        rel = Path(folder).relative_to(source)
        (target / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            os.symlink(Path(folder) / name, target / rel / name)
    return target


def own(path: Path) -> Path:
    """Replace an overlay symlink with a private copy of the file, ready to be damaged."""
    real = path.resolve()
    path.unlink()
    shutil.copyfile(real, path)
    return path


def load_outcome(inst: StepAudio, variant: str = "base", timeout: float = 300.0) -> dict:
    """Load `variant` through the daemon's gRPC API and return the final event as a dict
    ({"event": "done"} or {"event": "failed", "reason", "message", "hint"}): the CLI prints only message
    and hint, the tests also want the stable reason code."""
    import grpc

    from stepaudio_protos import TOKEN_METADATA_KEY
    from stepaudio_protos.v1 import stepaudio_pb2 as pb
    from stepaudio_protos.v1 import stepaudio_pb2_grpc as pb_grpc

    inst.status()  # starts the daemon of this installation if needed
    token = (inst.socket.parent / "stepaudiod.token").read_text().strip()
    with grpc.insecure_channel(f"unix:{inst.socket}") as channel:
        stub = pb_grpc.StepAudioStub(channel)
        for event in stub.Load(pb.LoadRequest(variant=variant), metadata=[(TOKEN_METADATA_KEY, token)],
                               timeout=timeout):
            kind = event.WhichOneof("event")
            if kind == "failed":
                f = event.failed
                return {"event": "failed", "reason": f.reason, "message": f.message, "hint": f.hint}
            if kind == "done":
                return {"event": "done"}
    raise AssertionError("the Load stream ended without done or failed")


def copy_models(source: Path, target: Path, variant_folder: str = "Step-Audio-EditX") -> Path:
    """A real copy (not symlinks) of what the base variant loads: its folder, the tokenizer, the marker."""
    target.mkdir(parents=True)
    for name in (variant_folder, "Step-Audio-Tokenizer"):
        shutil.copytree(source / name, target / name)
    for marker in source.glob("*.json"):
        shutil.copyfile(marker, target / marker.name)
    return target
