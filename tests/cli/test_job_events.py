"""How `stepaudio clone` renders the daemon's job events, in-process with a stand-in client: queue
positions, a full queue (exit 4 with a hint) and Ctrl-C while queued (the stream is closed, exit 130).
The scheduler side of the same cases: tests/daemon/test_scheduler.py."""
from __future__ import annotations

import pytest

from sa_helpers import write_wav
from stepaudio_cli import app
from stepaudio_cli.context import CliContext
from stepaudio_protos.v1 import stepaudio_pb2 as pb


class FakeCall:
    def __init__(self, events, interrupt_after: int = -1) -> None:
        self.events, self.interrupt_after, self.cancelled = events, interrupt_after, False

    def __iter__(self):
        for n, event in enumerate(self.events):
            if n == self.interrupt_after:
                raise KeyboardInterrupt
            yield event

    def cancel(self) -> None:
        self.cancelled = True


class FakeClient:
    def __init__(self, call: FakeCall) -> None:
        self.call = call

    def submit(self, request):
        return self.call


def _clone(tmp_path, monkeypatch, call: FakeCall) -> int:
    write_wav(tmp_path / "ref.wav")
    monkeypatch.setattr(CliContext, "client", lambda self: FakeClient(call))
    return app.main(["clone", str(tmp_path / "ref.wav"), "hello", "--ref-text", "r", "-o", str(tmp_path / "o.wav")])


def test_a_queued_job_shows_its_position(tmp_path, monkeypatch, capsys):
    done = pb.Done(output=str(tmp_path / "o.wav"), sample_rate=24000, duration_s=1.0, options_json="{}",
                   report_json="{}")
    events = [pb.JobEvent(job_id="j", queued=pb.Queued(position=1)), pb.JobEvent(job_id="j", queued=pb.Queued()),
              pb.JobEvent(job_id="j", done=done)]
    assert _clone(tmp_path, monkeypatch, FakeCall(events)) == 0
    assert "queued (position 1)" in capsys.readouterr().err


def test_a_full_queue_exits_4_with_a_hint(tmp_path, monkeypatch, capsys):
    busy = pb.Failed(reason="BUSY", message="the queue is full (1 jobs waiting)")
    assert _clone(tmp_path, monkeypatch, FakeCall([pb.JobEvent(failed=busy)])) == 4
    err = capsys.readouterr().err
    assert "error: the queue is full" in err and "hint:" in err


def test_ctrl_c_while_queued_closes_the_stream_and_exits_130(tmp_path, monkeypatch, capsys):
    call = FakeCall([pb.JobEvent(job_id="j", queued=pb.Queued(position=1))] * 2, interrupt_after=1)
    assert _clone(tmp_path, monkeypatch, call) == 130
    assert call.cancelled  # closing the stream is what cancels the job in the daemon (server._stream)
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("reason, code", [("OUT_OF_MEMORY", 1), ("UNKNOWN_VARIANT", 2), ("SHUTTING_DOWN", 3),
                                          ("CANCELLED", 130)])
def test_a_failed_event_exits_with_its_reasons_code_and_json_names_it(tmp_path, monkeypatch, capsys, reason, code):
    import json

    failed = pb.JobEvent(failed=pb.Failed(reason=reason, message="it failed"))
    write_wav(tmp_path / "ref.wav")
    monkeypatch.setattr(CliContext, "client", lambda self: FakeClient(FakeCall([failed])))
    rc = app.main(["clone", str(tmp_path / "ref.wav"), "hello", "--ref-text", "r", "-o", str(tmp_path / "o.wav"),
                   "--json"])
    assert rc == code
    assert json.loads(capsys.readouterr().out)["error"]["reason"] == reason
