"""Global CLI options, shared by every command, and the one way commands get a daemon client."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from stepaudio_protos.paths import Paths, resolve_paths


@dataclass
class CliContext:
    models_dir: Optional[str] = None
    autostart: bool = True
    debug: bool = False
    paths: Paths = field(default_factory=resolve_paths)

    def daemon_args(self) -> list[str]:
        return ["--models-dir", self.models_dir] if self.models_dir else []

    def client(self):
        from stepaudio_cli.client import DaemonClient

        client = DaemonClient(self.paths, self.autostart, self.daemon_args()).connect()
        if self.models_dir and not client.started_daemon:
            self._note_models_dir(client)
        return client

    def _note_models_dir(self, client) -> None:
        """--models-dir configures a daemon this command starts; say so when a running one has another."""
        import os
        import sys

        running = next((s.value for s in client.status().settings if s.name == "models_dir"), "")
        wanted = os.path.abspath(os.path.expanduser(self.models_dir or ""))
        if running and os.path.abspath(running) != wanted:
            # say where the folder came from: an environment variable set after the daemon auto-started
            # applies with a plain `daemon restart`; a flag has to be given to that restart too
            from_flag = any(a == "--models-dir" or a.startswith("--models-dir=") for a in sys.argv[1:])
            if from_flag:
                given = f"--models-dir {self.models_dir}"
                fix = f"stepaudio --models-dir {self.models_dir} daemon restart"
            else:
                given, fix = f"STEPAUDIO_MODELS_DIR={self.models_dir}", "stepaudio daemon restart"
            print(f"note: {given} is ignored: the running daemon uses {running}; `{fix}` applies it",
                  file=sys.stderr)
