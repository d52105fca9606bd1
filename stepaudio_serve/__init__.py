"""stepaudio_serve: `stepaudio serve`, the HTTP front end (OpenAI-compatible) of the stepaudio daemon.

A client of stepaudiod like the CLI: it holds no model and no torch (import-linter contract). The
async daemon client (stepaudio_serve.daemon_client) is what the HTTP routes and the web UI use for
everything they ask of the daemon. Needs the `http` extra: pip install 'stepaudio[http]'.
"""
