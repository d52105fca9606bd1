"""The error model in-process: the Reason table, the engine's copy of it, CliError, and the server's
catch-all for unary calls (an unexpected exception is INTERNAL with a log line, never a traceback)."""
from __future__ import annotations

import asyncio
import logging

import grpc
import pytest

from stepaudio_protos import TOKEN_METADATA_KEY
from stepaudio_protos.errors import REASON_METADATA_KEY, Exit, Reason
from stepaudio_protos.v1 import stepaudio_pb2 as pb
from stepaudio_protos.v1 import stepaudio_pb2_grpc as pb_grpc


def test_engine_reasons_are_a_subset_of_the_protocols():
    from stepaudio_engine.api import Reason as EngineReason

    assert {r.value for r in EngineReason} <= {r.value for r in Reason}


def test_every_reason_has_an_exit_code_an_http_status_and_a_stable_name():
    for reason in Reason:
        assert reason.value == reason.name and reason.value.isupper()
        assert isinstance(reason.exit_code, Exit)
        assert 400 <= reason.http_status < 600
    documented = {Reason.BAD_INPUT: 400, Reason.USAGE: 400, Reason.UNKNOWN_VOICE: 404, Reason.UNKNOWN_VARIANT: 404,
                  Reason.TOO_LARGE: 413, Reason.BUSY: 429, Reason.UNAVAILABLE: 503, Reason.SHUTTING_DOWN: 503,
                  Reason.INTERNAL: 500, Reason.CANCELLED: 499, Reason.OUTPUT_EXISTS: 409}
    assert {r: r.http_status for r in documented} == documented
    assert Reason.BUSY.exit_code == Exit.BUSY and Reason.CANCELLED.exit_code == Exit.INTERRUPTED
    assert Reason.UNAVAILABLE.exit_code == Exit.UNAVAILABLE and Reason.USAGE.exit_code == Exit.USAGE


def test_a_reason_this_build_does_not_know_is_internal():
    assert Reason.parse("SOMETHING_NEW") is Reason.INTERNAL
    assert Reason.parse("BUSY") is Reason.BUSY


def test_cli_error_carries_its_reason():
    from stepaudio_cli.errors import CliError

    assert CliError("x").reason is Reason.BAD_INPUT and CliError("x").code == 1
    assert CliError("x", "", Exit.USAGE).reason is Reason.USAGE
    busy = CliError.from_reason("BUSY", "full")
    assert busy.code == Exit.BUSY and busy.hint == Reason.BUSY.hint
    assert busy.as_json() == {"reason": "BUSY", "message": "full", "hint": Reason.BUSY.hint}


def test_engine_failures_are_classified_in_one_place():
    from stepaudio_engine.api import EngineError, error_from_exception
    from stepaudio_engine.api import Reason as EngineReason

    class OutOfMemoryError(RuntimeError):  # torch's name, without importing torch
        pass

    assert error_from_exception(MemoryError()).reason is EngineReason.OUT_OF_MEMORY
    assert error_from_exception(OutOfMemoryError("CUDA")).reason is EngineReason.OUT_OF_MEMORY
    assert error_from_exception(RuntimeError("CUDA out of memory. Tried")).reason is EngineReason.OUT_OF_MEMORY
    assert error_from_exception(KeyError("x")).reason is EngineReason.INTERNAL
    own = EngineError(EngineReason.BAD_INPUT, "bad")
    assert error_from_exception(own) is own


class _Broken(pb_grpc.StepAudioServicer):
    async def Status(self, request, context):
        raise RuntimeError("secret internals")

    async def Unload(self, request, context):
        from stepaudiod.errors import DaemonError

        raise DaemonError(Reason.UNKNOWN_VARIANT, "unknown variant 'big'")


async def _call_broken(socket_path: str):
    from stepaudiod.rpc_errors import ErrorInterceptor

    server = grpc.aio.server(interceptors=[ErrorInterceptor()])
    pb_grpc.add_StepAudioServicer_to_server(_Broken(), server)
    server.add_insecure_port(f"unix:{socket_path}")
    await server.start()
    errors = []
    try:
        async with grpc.aio.insecure_channel(f"unix:{socket_path}") as channel:
            stub = pb_grpc.StepAudioStub(channel)
            for call in (stub.Status(pb.StatusRequest(), metadata=[(TOKEN_METADATA_KEY, "t")]),
                         stub.Unload(pb.UnloadRequest(variant="big"))):
                try:
                    await call
                except grpc.aio.AioRpcError as exc:
                    errors.append((exc.code(), exc.details(), dict(await call.trailing_metadata() or ())))
    finally:
        await server.stop(None)
    return errors


def test_unexpected_exception_in_a_unary_call_is_internal_with_a_log_line(tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="stepaudiod.rpc_errors")
    (status_code, details, trailer), (unload_code, unload_details, unload_trailer) = \
        asyncio.run(_call_broken(str(tmp_path / "s.sock")))
    assert status_code == grpc.StatusCode.INTERNAL
    assert trailer[REASON_METADATA_KEY] == "INTERNAL"
    assert "RuntimeError: secret internals" in details and "Traceback" not in details
    assert any("Status failed unexpectedly" in r.getMessage() and r.exc_info for r in caplog.records)
    assert unload_code == grpc.StatusCode.INVALID_ARGUMENT and unload_trailer[REASON_METADATA_KEY] == "UNKNOWN_VARIANT"
    assert "unknown variant 'big'" in unload_details


@pytest.mark.parametrize("reason, code", [("INTERNAL", 1), ("UNKNOWN_VARIANT", 2), ("BUSY", 4)])
def test_the_client_turns_the_reason_metadata_into_its_exit_code(reason, code):
    from stepaudio_cli.client import rpc_error
    from stepaudio_protos.errors import HINT_METADATA_KEY

    class Failure(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.INTERNAL

        def details(self):
            return "it broke"

        def trailing_metadata(self):
            return ((REASON_METADATA_KEY, reason), (HINT_METADATA_KEY, "do this …".encode()))

    error = rpc_error(Failure())
    assert (error.reason.value, error.code, error.message, error.hint) == (reason, code, "it broke", "do this …")


def test_docs_json_lists_every_reason_with_its_exit_code_and_http_status():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "json.md").read_text()
    rows = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r"^\| `([A-Z_]+)` \| (\d+) \| (\d+) \|", text, re.M)}
    assert rows == {r.value: (int(r.exit_code), r.http_status) for r in Reason}
