"""A client that goes away cancels its job: the route's work runs next to a watcher of the connection.

Cancelling the work task closes the job's gRPC stream, and the daemon cancels a job whose stream is
closed (a queued job is dropped, a running one stops between steps). Streamed responses get the same
from Starlette, which cancels the response's generator when the client disconnects.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Awaitable, TypeVar

from starlette.requests import Request

T = TypeVar("T")
log = logging.getLogger("stepaudio_serve")


class ClientGone(Exception):
    """The HTTP client disconnected before its answer was ready."""


async def _disconnected(request: Request) -> None:
    # The body has been read by now, so the next ASGI message is the disconnect (or nothing, until
    # the response has been sent and this watcher is cancelled).
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    task = asyncio.ensure_future(work)
    watcher = asyncio.create_task(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        log.info("client disconnected from %s; cancelling its job", request.url.path)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise ClientGone()
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
