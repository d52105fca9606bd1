"""The FastAPI application of `stepaudio serve`: routers, error handlers, guards.

`build_app(config)` returns the ASGI app uvicorn runs: CORS (only when origins are listed) → API key →
body size limit → FastAPI. The daemon client is made on start-up and shared by every request.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from stepaudio_cli.errors import CliError
from stepaudio_protos import __version__
from stepaudio_serve import routes_audio, routes_models, routes_speech
from stepaudio_serve.config import ServeConfig
from stepaudio_serve.daemon_client import AsyncDaemonClient, DaemonUnavailable, JobFailed
from stepaudio_serve.disconnect import ClientGone
from stepaudio_serve.errors import ApiError, api_error_from, bad_request
from stepaudio_serve.guards import ApiKeyGuard, BodyLimit

DESCRIPTION = """OpenAI-compatible speech API for Step-Audio-EditX, served by the local stepaudio daemon
(one lazily loaded model shared with the `stepaudio` CLI). See docs/http.md."""


def create_app(config: ServeConfig, client: Optional[AsyncDaemonClient] = None) -> FastAPI:
    """The FastAPI app without the guards (tests and the web UI mount it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.client = client or AsyncDaemonClient(config.paths, config.autostart, config.daemon_args)
        app.state.uploads = asyncio.Semaphore(config.limits.max_uploads)
        try:
            yield
        finally:
            await app.state.client.close()

    app = FastAPI(title="stepaudio", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.config = config
    app.include_router(routes_models.router)
    app.include_router(routes_speech.router)
    app.include_router(routes_audio.router)
    _install_error_handlers(app)
    return app


def build_app(config: ServeConfig, client: Optional[AsyncDaemonClient] = None) -> Any:
    """The ASGI app `stepaudio serve` runs: guards around create_app(), with the web UI (extra `web`)
    mounted at `/` unless config.web_ui is off."""
    app = create_app(config, client)
    protected: Optional[tuple[str, ...]] = None  # None: the Bearer check covers every path
    if config.web_ui:
        from stepaudio_web.mount import API_PREFIXES, mount_ui

        app = mount_ui(app, config)
        protected = API_PREFIXES  # the UI has its own login with the same key
    asgi: Any = BodyLimit(app, int(config.limits.max_body_mb * 1024 * 1024))  # type: ignore[arg-type]
    if config.api_key:
        asgi = ApiKeyGuard(asgi, config.api_key, protected)
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        asgi = CORSMiddleware(asgi, allow_origins=config.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                              allow_headers=["authorization", "content-type"])
    return asgi


def _json_error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return _json_error(exc)

    @app.exception_handler(JobFailed)
    @app.exception_handler(DaemonUnavailable)
    @app.exception_handler(CliError)
    async def _known(request: Request, exc: Exception) -> JSONResponse:
        return _json_error(api_error_from(exc))

    @app.exception_handler(ClientGone)
    async def _gone(request: Request, exc: ClientGone) -> Response:
        return Response(status_code=499)  # nobody reads it: the client has gone

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return _json_error(bad_request(f"the body is not valid JSON ({first.get('ctx', {}).get('error', '')})"))
        where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "form")]
        param = ".".join(where) or None
        message = f"{param}: {first.get('msg', 'invalid value')}" if param else first.get("msg", "invalid request")
        return _json_error(bad_request(message, param))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return _json_error(ApiError(exc.status_code, str(exc.detail), code))

    @app.exception_handler(Exception)
    async def _other(request: Request, exc: Exception) -> JSONResponse:
        return _json_error(api_error_from(exc))
