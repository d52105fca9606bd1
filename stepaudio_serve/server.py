"""Run the HTTP server: check the configuration, then uvicorn on one event loop (no workers: every
request shares one daemon connection, and the model lives in the daemon anyway)."""
from __future__ import annotations

import logging

from stepaudio_serve.config import ServeConfig


def run(config: ServeConfig, log_level: str = "info") -> None:
    import uvicorn

    from stepaudio_serve.app import build_app

    config.check()
    _say_where(config)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(build_app(config), host=config.host, port=config.port, log_level=log_level,
                proxy_headers=False, server_header=False, timeout_graceful_shutdown=5)


def _say_where(config: ServeConfig) -> None:
    """The addresses a newcomer opens, on stderr before uvicorn's own lines."""
    import sys

    host = f"[{config.host}]" if ":" in config.host else config.host
    base = f"http://{host}:{config.port}"
    ui = f"web UI {base}/ · " if config.web_ui else f"web UI off ({_why_no_ui()}) · "
    print(f"stepaudio serve: {ui}API {base}/v1 · reference {base}/docs", file=sys.stderr, flush=True)


def _why_no_ui() -> str:
    """--no-ui with Gradio installed is a choice, not a missing extra (find_spec: no Gradio import here)."""
    from importlib.util import find_spec

    return "--no-ui" if find_spec("gradio") else "pip install 'stepaudio[web]'"
