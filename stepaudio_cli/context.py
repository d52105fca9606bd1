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

        return DaemonClient(self.paths, self.autostart, self.daemon_args()).connect()
