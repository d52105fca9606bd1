"""Where stepaudio keeps its files, resolved the same way by the CLI and the daemon.

Linux/XDG layout (macOS uses the same XDG fallbacks; stepaudio is Unix-only: Unix sockets).
`STEPAUDIO_HOME` re-roots everything under one folder, which makes tests hermetic.

Deliberately no platformdirs import here: this module runs on every CLI start.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP = "stepaudio"
SOCKET_NAME = "stepaudiod.sock"
TOKEN_NAME = "stepaudiod.token"
SPAWN_LOCK_NAME = "spawn.lock"      # serialises "check, then start a daemon" across CLIs
DAEMON_LOCK_NAME = "stepaudiod.lock"  # held by the running daemon for its whole life
# sun_path is 108 bytes on Linux (104 on macOS) including the terminating NUL.
MAX_SOCKET_PATH = 103


class Paths:
    """The folders of one stepaudio installation (a plain class: dataclasses costs ~6 ms to import)."""

    __slots__ = ("config_dir", "cache_dir", "state_dir", "runtime_dir", "models_dir", "data_dir")

    def __init__(self, config_dir: Path, cache_dir: Path, state_dir: Path, runtime_dir: Path,
                 models_dir: Path, data_dir: Path) -> None:
        self.config_dir, self.cache_dir, self.state_dir = config_dir, cache_dir, state_dir
        self.runtime_dir, self.models_dir, self.data_dir = runtime_dir, models_dir, data_dir

    @property
    def voices_dir(self) -> Path:
        return self.data_dir / "voices"

    def __repr__(self) -> str:
        return f"Paths(home={self.config_dir.parent})"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / SOCKET_NAME

    @property
    def token_file(self) -> Path:
        return self.runtime_dir / TOKEN_NAME

    @property
    def spawn_lock(self) -> Path:
        return self.runtime_dir / SPAWN_LOCK_NAME

    @property
    def daemon_lock(self) -> Path:
        return self.runtime_dir / DAEMON_LOCK_NAME

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "stepaudiod.log"

    @property
    def pending_dir(self) -> Path:
        """One record per output temp file a worker may be writing (daemon/stepaudiod/outputs.py)."""
        return self.state_dir / "pending"

    @property
    def prompt_cache_dir(self) -> Path:
        return self.cache_dir / "prompts"

    @property
    def tiny_models_dir(self) -> Path:
        return self.cache_dir / "tiny-models"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    # XDG says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def _runtime_base() -> Path:
    """XDG_RUNTIME_DIR when usable; else a private folder under the state dir (never a guessable /tmp name)."""
    value = os.environ.get("XDG_RUNTIME_DIR", "")
    if value and os.path.isabs(value) and os.path.isdir(value):
        return Path(value) / APP
    return _xdg("XDG_STATE_HOME", ".local/state") / APP / "run"


def resolve_paths(env: Mapping[str, str] | None = None) -> Paths:
    """Paths for this user; STEPAUDIO_HOME re-roots all of them; STEPAUDIO_MODELS_DIR moves the models."""
    env = os.environ if env is None else env
    home = env.get("STEPAUDIO_HOME", "")
    if home:
        root = Path(home).expanduser().absolute()
        paths = Paths(root / "config", root / "cache", root / "state", root / "run", root / "models", root / "data")
    else:
        paths = Paths(
            config_dir=_xdg("XDG_CONFIG_HOME", ".config") / APP,
            cache_dir=_xdg("XDG_CACHE_HOME", ".cache") / APP,
            state_dir=_xdg("XDG_STATE_HOME", ".local/state") / APP,
            runtime_dir=_runtime_base(),
            models_dir=_xdg("XDG_DATA_HOME", ".local/share") / APP / "models",
            data_dir=_xdg("XDG_DATA_HOME", ".local/share") / APP,
        )
    return paths


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) and make it 0700: the directory is the socket's access control."""
    path.mkdir(parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise PermissionError(f"{path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()})")
    if st.st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)


def check_socket_path(path: Path) -> None:
    if len(os.fsencode(str(path))) > MAX_SOCKET_PATH:
        raise ValueError(
            f"socket path is too long for a Unix socket ({len(str(path))} > {MAX_SOCKET_PATH} bytes): {path}; "
            "set STEPAUDIO_HOME or XDG_RUNTIME_DIR to a shorter folder"
        )
