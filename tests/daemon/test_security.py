"""Access control: permissions, the token, SO_PEERCRED, no TCP, no abstract socket."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import psutil
import pytest


def test_socket_dir_token_permissions_and_no_tcp(sa):
    pid = sa.status()["pid"]
    run_dir = sa.socket.parent
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(sa.socket.stat().st_mode)  # a filesystem socket, not an abstract one
    assert stat.S_IMODE(sa.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE((run_dir / "stepaudiod.token").stat().st_mode) == 0o600
    assert psutil.Process(pid).net_connections(kind="inet") == []  # no TCP/UDP at all
    with open("/proc/net/unix") as fh:
        abstract = [line for line in fh if "@stepaudio" in line]
    assert abstract == []


def test_calls_without_or_with_a_wrong_token_are_refused(sa):
    sa.status()
    code = f"""
import grpc, sys
from stepaudio_protos.v1 import stepaudio_pb2 as pb, stepaudio_pb2_grpc as g
stub = g.StepAudioStub(grpc.insecure_channel("unix:{sa.socket}"))
for md in ([], [("x-stepaudio-token", "wrong")]):
    for call in (lambda: stub.Status(pb.StatusRequest(), metadata=md, timeout=5),
                 lambda: list(stub.Submit(pb.JobRequest(), metadata=md, timeout=5))):
        try:
            call()
            print("ALLOWED")
        except grpc.RpcError as e:
            print(e.code().name)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["UNAUTHENTICATED"] * 4, out.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid (setpriv)")
def test_a_client_of_another_uid_cannot_reach_the_socket(sa):
    import shutil

    if not shutil.which("setpriv"):
        pytest.skip("setpriv not available")
    sa.status()
    code = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect('{sa.socket}'); print('CONNECTED')"
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                         capture_output=True, text=True, timeout=30)
    assert "CONNECTED" not in out.stdout
    assert "Permission denied" in out.stderr
