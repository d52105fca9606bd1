"""Run the HTTP server: check the configuration, then uvicorn on one event loop (no workers: every
request shares one daemon connection, and the model lives in the daemon anyway)."""
from __future__ import annotations

import logging

from stepaudio_serve.config import ServeConfig


def run(config: ServeConfig, log_level: str = "info") -> None:
    import uvicorn

    from stepaudio_serve.app import build_app

    config.check()
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(build_app(config), host=config.host, port=config.port, log_level=log_level,
                proxy_headers=False, server_header=False, timeout_graceful_shutdown=5)
