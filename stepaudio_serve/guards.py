"""ASGI middleware that guards every request before FastAPI sees it: the API key and the body size.

Plain ASGI (not BaseHTTPMiddleware) so streamed responses and client disconnects pass through untouched.
"""
from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = ("/healthz",)  # answered without a key: load balancers and service managers probe it


async def send_error(send: Send, status: int, message: str, code: str, type_: str,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class ApiKeyGuard:
    """Bearer token check on every path but /healthz, compared in constant time (hmac.compare_digest).
    With the web UI mounted, only the API's paths: the UI's own login asks for the same key."""

    def __init__(self, app: ASGIApp, api_key: str, protected: tuple[str, ...] | None = None) -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode()
        self.protected = protected  # path prefixes to check; None = every path (no web UI mounted)

    def _open(self, scope: Scope) -> bool:
        path = scope["path"]
        if scope["type"] != "http" or path in OPEN_PATHS or scope.get("method") == "OPTIONS":
            return True
        return self.protected is not None and not path.startswith(self.protected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._open(scope):
            return await self.app(scope, receive, send)
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if not hmac.compare_digest(given, self.expected):
            what = "wrong API key" if given else "missing API key"
            return await send_error(send, 401, f"{what}: send 'Authorization: Bearer <key>'", "INVALID_API_KEY",
                                    "authentication_error", [(b"www-authenticate", b"Bearer")])
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a body over `max_bytes`: at once from Content-Length, else while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._refuse(send)
        seen = 0
        over = started = False

        async def counted_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True  # the app sees a disconnect; its answer is replaced by our 413 below
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if over:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        mb = self.max_bytes / (1024 * 1024)
        await send_error(send, 413, f"the request body is larger than {mb:g} MiB", "TOO_LARGE",
                         "invalid_request_error")
