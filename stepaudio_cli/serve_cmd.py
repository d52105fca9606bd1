"""`stepaudio serve`: the OpenAI-compatible HTTP API (docs/http.md). The server lives in the optional
package stepaudio_serve (extra `http`), imported only when this command runs, so `stepaudio --help`
and every other command stay as fast as before."""
from __future__ import annotations

import os
from typing import Optional

import typer

from stepaudio_cli.errors import CliError
from stepaudio_protos.errors import Exit


# In the docstring, '\\[http]' keeps rich (Typer's help) from reading [http] as markup and dropping it.
def serve(
    ctx: typer.Context,
    host: Optional[str] = typer.Option(None, "--host", help="address to listen on (default: http_host, "
                                                            "127.0.0.1); any but loopback needs an API key"),
    port: Optional[int] = typer.Option(None, "--port", help="TCP port (default: http_port, 7860)"),
    log_level: str = typer.Option("info", "--log-level", help="debug | info | warning | error"),
    ui: Optional[bool] = typer.Option(None, "--ui/--no-ui", help="serve the web UI at / (default: when the "
                                                               "web extra is installed)"),
) -> None:
    """Serve the OpenAI-compatible HTTP API (/v1/audio/speech, ...) on the daemon's model. Needs the
    `http` extra: pip install 'stepaudio\\[http]'. The API key comes from STEPAUDIO_API_KEY or the 0600
    file http_api_key_file, never from the command line. Limits and CORS: the http_* settings
    (`stepaudio config show`). API reference: /docs on the server, docs/http.md."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise CliError(f"`stepaudio serve` needs the http extra ({exc.name} is not installed)",
                       "pip install 'stepaudio[http]'", Exit.USAGE) from None
    from stepaudio_serve.config import ConfigError, ServeConfig
    from stepaudio_serve.server import run

    web_ui = _web_ui(ui)
    try:
        config = ServeConfig.from_settings({"http_host": host, "http_port": port}, dict(os.environ),
                                           paths=ctx.obj.paths, daemon_args=ctx.obj.daemon_args(),
                                           autostart=ctx.obj.autostart)
        config.web_ui = web_ui
        config.check()
    except ConfigError as exc:
        message, hint = (exc.args + ("",))[:2]
        raise CliError(message, hint, Exit.USAGE) from None
    run(config, log_level)


def _web_ui(wanted: Optional[bool]) -> bool:
    """Mount the UI when asked, or by default when its extra is installed; asked for without it: usage error."""
    if wanted is False:
        return False
    from stepaudio_web.mount import ui_available

    if ui_available():
        return True
    if wanted:
        raise CliError("the web UI needs the web extra (gradio is not installed)", "pip install 'stepaudio[web]'",
                       Exit.USAGE)
    return False
