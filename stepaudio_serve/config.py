"""What `stepaudio serve` runs with: address, API key, CORS origins and request limits."""
from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from stepaudio_protos.paths import Paths, resolve_paths

API_KEY_ENV = "STEPAUDIO_API_KEY"


class ConfigError(ValueError):
    """A setting that keeps the server from starting (message says what and what to do)."""


@dataclass
class Limits:
    """Request limits; each breach is a clear 413/429 (docs/http.md). Defaults: the http_* settings."""

    max_body_mb: float = 64.0        # whole request body (JSON with base64 audio, or multipart)
    max_input_chars: int = 4096      # `input` of /v1/audio/speech (OpenAI's limit)
    max_audio_s: float = 300.0       # length of an uploaded recording
    max_uploads: int = 8             # requests carrying audio handled at once; more get 429


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 7860
    api_key: str = ""                # never from the command line: env or a 0600 file
    cors_origins: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    paths: Paths = field(default_factory=resolve_paths)
    daemon_args: list[str] = field(default_factory=list)  # for a daemon the server starts
    autostart: bool = True
    web_ui: bool = False             # mount the web UI (extra `web`) at `/`

    @classmethod
    def from_settings(cls, flags: dict, env: dict[str, str], **extra) -> "ServeConfig":
        """From the shared settings table (flag → STEPAUDIO_* env → config.toml → default), the API key
        from STEPAUDIO_API_KEY or http_api_key_file."""
        from stepaudio_protos.settings import SettingsError, load_settings

        try:
            s = load_settings(flags=flags, env=env).settings
        except SettingsError as exc:
            raise ConfigError(str(exc), "fix it with `stepaudio config set` or the environment") from None
        origins = [o.strip() for o in s.http_cors_origins.split(",") if o.strip()]
        return cls(host=s.http_host, port=s.http_port, api_key=read_api_key(env, s.http_api_key_file),
                   cors_origins=origins, limits=Limits(s.http_max_body_mb, s.http_max_input_chars,
                                                       s.http_max_audio_s, s.http_max_uploads), **extra)

    def check(self) -> None:
        """Refuse to listen beyond this machine without an API key."""
        if not is_loopback(self.host) and not self.api_key:
            raise ConfigError(
                f"refusing to listen on {self.host} without an API key: anyone who can reach it could use it",
                f"set {API_KEY_ENV}, or put the key in a file readable only by you (chmod 600) and set "
                "http_api_key_file; or bind 127.0.0.1")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_api_key(env: dict[str, str], key_file: str) -> str:
    """The API key from STEPAUDIO_API_KEY, else from `key_file`, which must be a regular file that
    only its owner can read or write (like ssh's private keys)."""
    if env.get(API_KEY_ENV):
        return env[API_KEY_ENV].strip()
    if not key_file:
        return ""
    path = Path(key_file).expanduser()
    try:
        st = path.stat()
        text = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the API key file {path}: {exc.strerror}", "check http_api_key_file") from None
    if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077 or st.st_uid != os.getuid():
        raise ConfigError(f"the API key file {path} may be read by others (mode {st.st_mode & 0o777:o})",
                          f"chmod 600 {path}")
    if not text:
        raise ConfigError(f"the API key file {path} is empty", "write the key into it")
    return text
