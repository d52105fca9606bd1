"""`stepaudio serve`: the OpenAI-compatible HTTP API (docs/http.md). The server lives in the optional
package stepaudio_serve (extra `http`), imported only when this command runs, so `stepaudio --help`
and every other command stay as fast as before."""
from __future__ import annotations

import os
from typing import Optional

import typer

from stepaudio_cli.errors import CliError
from stepaudio_protos.errors import Exit


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on; any but loopback needs an API "
                                                         "key (STEPAUDIO_API_KEY or http_api_key_file)"),
    port: int = typer.Option(7860, "--port", help="TCP port to listen on"),
    cors_origin: Optional[list[str]] = typer.Option(None, "--cors-origin",
                                                    help="allow browser calls from this origin (repeatable; "
                                                         "default: CORS off)"),
    log_level: str = typer.Option("info", "--log-level", help="debug | info | warning | error"),
) -> None:
    """Serve the OpenAI-compatible HTTP API (/v1/audio/speech, ...) on the daemon's model. Needs the
    `http` extra: pip install 'stepaudio[http]'. API reference: /docs on the server, docs/http.md."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise CliError(f"`stepaudio serve` needs the http extra ({exc.name} is not installed)",
                       "pip install 'stepaudio[http]'", Exit.USAGE) from None
    from stepaudio_serve.config import ConfigError, ServeConfig, read_api_key
    from stepaudio_serve.server import run

    try:
        config = ServeConfig(host=host, port=port, api_key=read_api_key(dict(os.environ), ""),
                             cors_origins=list(cors_origin or []), paths=ctx.obj.paths,
                             daemon_args=ctx.obj.daemon_args(), autostart=ctx.obj.autostart)
        config.check()
    except ConfigError as exc:
        message, hint = (exc.args + ("",))[:2]
        raise CliError(message, hint, Exit.USAGE) from None
    run(config, log_level)
