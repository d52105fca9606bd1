"""Mount the web UI at `/` of the HTTP server's FastAPI app (the API keeps its own paths).

When an API key is set, the UI asks for it on a login page (any user name; the password is the key),
checked in constant time; the API keeps its Bearer check (stepaudio_serve.guards), which then covers the
API's paths only (API_PREFIXES), because a browser cannot send a Bearer header to a page.
"""
from __future__ import annotations

import hmac
import os
from typing import Any

# paths the Bearer guard still checks when the UI is mounted (everything else is the UI's, behind its login)
API_PREFIXES = ("/v1/", "/api/", "/docs", "/redoc", "/openapi.json")


def ui_available() -> bool:
    try:
        import gradio  # noqa: F401
    except ImportError:
        return False
    return True


def mount_ui(app: Any, config: Any) -> Any:
    """Build the Blocks on Actions that use the app's daemon client, and mount them at `/`."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local tool
    import gradio as gr

    from stepaudio_web.actions import Actions
    from stepaudio_web.ui import build_blocks

    actions = Actions(lambda: app.state.client, config.paths)
    app.state.web_actions = actions
    auth = None
    if config.api_key:
        key = config.api_key.encode()

        def auth(_user: str, password: str) -> bool:
            return hmac.compare_digest((password or "").encode(), key)

    _keep_api_not_found(app)
    return gr.mount_gradio_app(app, build_blocks(actions), path="/", auth=auth,
                               auth_message="Enter the server's API key as the password (any user name).",
                               allowed_paths=[str(actions.workdir)], ssr_mode=False, footer_links=[],
                               show_error=True)


def _keep_api_not_found(app: Any) -> None:
    """An unknown path under the API's prefixes stays an OpenAI-shaped 404 instead of reaching the UI
    mounted at `/` (registered after the API's routes, so it matches only what they do not)."""
    from stepaudio_serve.errors import ApiError

    async def not_found(rest: str) -> None:
        raise ApiError(404, "no such API path (see /docs)", "NOT_FOUND")

    for prefix in ("/v1", "/api"):
        app.add_api_route(prefix + "/{rest:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                          include_in_schema=False)
