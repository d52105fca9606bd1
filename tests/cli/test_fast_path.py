"""The fast paths (status, --help) must say exactly what the full CLI says."""
from __future__ import annotations

import json
import subprocess
import sys

from stepaudio_cli.fast import gen_help, wire
from stepaudio_cli.messages import _repeated, message_dict
from stepaudio_protos.v1 import stepaudio_pb2 as pb


def test_help_text_is_fresh():
    assert gen_help.TARGET.read_text() == gen_help.module_source(gen_help.render_top_help()), \
        "run: python -m stepaudio_cli.fast.gen_help"


def test_wire_schema_matches_the_generated_descriptor():
    from google.protobuf.descriptor import FieldDescriptor as F

    kinds = {F.TYPE_STRING: "string", F.TYPE_DOUBLE: "double", F.TYPE_INT32: "int32", F.TYPE_UINT32: "uint32",
             F.TYPE_UINT64: "uint64", F.TYPE_BOOL: "bool"}
    for name, fields in wire.SCHEMA.items():
        descriptor = getattr(pb, name).DESCRIPTOR
        assert set(fields) == {f.number for f in descriptor.fields}, name
        for f in descriptor.fields:
            field_name, kind, repeated = fields[f.number]
            assert field_name == f.name
            assert kind == (f.message_type.name if f.message_type else kinds[f.type]), (name, f.name)
            assert repeated == _repeated(f)


def test_wire_decoder_equals_protobuf_on_a_full_reply():
    reply = pb.StatusReply(
        daemon_version="9.9", protocol_version=1, pid=-5, uptime_s=1.5, socket="/s", queue_capacity=16,
        settings=[pb.Setting(name="a", value="b", source="env")],
        variants=[pb.VariantStatus(variant="base", tier="loaded", worker_pid=77, rss_bytes=2**40 + 3,
                                   load_time_s=0.25, next_tier_in_s=-1.0, folder="ü/ß")],
        queue=[pb.QueuedJob(job_id="x", kind="clone", variant="bnb", position=2, waited_s=3.0)],
        cache=pb.CacheStatus(path="/c", hits=5), daemon_rss_bytes=123, log_file="/l", idle_shutdown_in_s=-1)
    assert wire.decode("StatusReply", reply.SerializeToString()) == message_dict(reply)
    assert wire.decode("StatusReply", b"") == message_dict(pb.StatusReply())


def test_fast_status_equals_the_full_client(sa):
    assert sa.run("daemon", "start").returncode == 0
    full = sa.run("--debug", "status", "--json")  # the extra flag routes around the fast path
    fast = sa.run("status", "--json")
    assert full.returncode == fast.returncode == 0
    a, b = json.loads(full.stdout), json.loads(fast.stdout)
    for volatile in ("uptime_s", "daemon_rss_bytes", "idle_shutdown_in_s"):
        a.pop(volatile), b.pop(volatile)
    assert a == b


def test_fast_status_imports_neither_grpc_nor_typer(sa):
    assert sa.run("daemon", "start").returncode == 0
    code = ("import sys, runpy; sys.argv = ['stepaudio', 'status']\n"
            "from stepaudio_cli.entry import main\nrc = main()\n"
            "print('MODS', 'grpc' in sys.modules, 'typer' in sys.modules, 'google.protobuf' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=sa.env, capture_output=True, text=True, timeout=30)
    assert "MODS False False False" in out.stdout, out.stderr
