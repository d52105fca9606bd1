"""Every daemon setting, declared once: name, type, default, environment variable, description.
Shared by the daemon (which uses them) and the CLI (`stepaudio config`), so both resolve them alike.

Precedence (DESIGN.md §7): command-line flag → STEPAUDIO_* environment → config.toml → default.
The result records where each value came from, and `stepaudio status` shows it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from stepaudio_protos.facts import VARIANTS  # also read as settings.VARIANTS
from stepaudio_protos.paths import Paths, resolve_paths

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - 3.10
    import tomli as tomllib  # type: ignore[no-redef, unused-ignore]

def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value
    parse.choices = allowed  # type: ignore[attr-defined]  # listed in the README's settings table
    return parse


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        number = kind(value)
        if not number > 0:  # also refuses NaN
            raise ValueError("must be greater than 0")
        return number
    return parse


def _finite(value: str) -> float:
    """A float setting: nan and inf are refused (no timer can compare with nan; inf is spelled -1 or 0)."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number of seconds, not {value!r} (use -1 or 0 for 'never')")
    return number


def _folder(value: str) -> str:
    """A folder setting is stored absolute: a relative one would depend on the daemon's working folder."""
    return os.path.abspath(os.path.expanduser(value)) if value else ""


def _opt(default: Any, help: str, parse: Callable[[str], Any] = str, hidden: bool = False,
         scope: str = "daemon") -> Any:
    """scope: who reads the setting: the daemon, or `stepaudio serve` ("http"; the daemon ignores those)."""
    return field(default=default, metadata={"help": help, "parse": parse, "hidden": hidden, "scope": scope})


@dataclass
class Settings:
    models_dir: str = _opt("", "folder holding Step-Audio-EditX*/ and Step-Audio-Tokenizer/ "
                               "(default: <data dir>/models)", _folder)
    device: str = _opt("auto", "device for the models: auto | cuda | cpu", _choice("auto", "cuda", "cpu"))
    dtype: str = _opt("auto", "weights dtype: auto (bf16 on CUDA; on CPU the LLM runs 8-bit for base, 4-bit for "
                              "bnb/awq through onnxruntime) | bf16 | fp32 (on CPU: the exact torch path)",
                      _choice("auto", "bf16", "fp32"))
    flow_bf16: str = _opt("auto", "vocoder flow under bf16 autocast on the CPU: auto (on where the CPU has "
                                  "AVX512-BF16 or AMX) | on | off", _choice("auto", "on", "off"))
    default_variant: str = _opt("base", "variant used when a request names none", _choice(*VARIANTS))
    max_loaded: int = _opt(1, "how many variants may be loaded at once (the least recently used is "
                              "unloaded to make room)", int)
    queue_size: int = _opt(16, "jobs that may wait; a full queue answers 'busy'", int)
    keep_alive: float = _opt(300.0, "seconds a variant stays loaded after its last job "
                                    "(0 = unload at once, negative = forever)", _finite)
    keep_alive_max: float = _opt(-1.0, "ceiling for keep-alive requested by clients, seconds "
                                       "(negative = no ceiling)", _finite)
    offload_after: float = _opt(120.0, "seconds idle before weights move from the accelerator to CPU RAM "
                                       "(only if shorter than keep_alive; 0 = never offload)", _finite)
    idle_shutdown: float = _opt(3600.0, "seconds with nothing loaded or queued before the daemon exits "
                                        "(0 = never)", _finite)
    load_stall_timeout: float = _opt(180.0, "seconds a model load may go without progress before it is "
                                            "abandoned", _finite)
    job_stall_timeout: float = _opt(300.0, "seconds a running job may go without progress from its worker "
                                           "before it fails and the worker is killed (0 = never)", _finite)
    cancel_grace: float = _opt(5.0, "seconds a running job gets to stop after cancel before its worker "
                                    "is killed", _finite)
    threads: int = _opt(0, "CPU threads for the engine (0 = library default)", int)
    cache_max_mb: int = _opt(1024, "size bound of the prompt cache in MiB", int)
    max_edit_seconds: float = _opt(600.0, "longest recording an edit job takes, in seconds (over 30 s it is "
                                          "edited in segments cut at pauses)", float)
    max_text_chars: int = _opt(20000, "longest text a clone job may speak, in characters (spoken chunk by "
                                      "chunk)", int)
    log_level: str = _opt("info", "daemon log level", _choice("debug", "info", "warning", "error"))
    # `stepaudio serve` (docs/http.md); its --host/--port flags win over these
    http_host: str = _opt("127.0.0.1", "address `stepaudio serve` listens on (any but loopback needs an API "
                                       "key: STEPAUDIO_API_KEY or http_api_key_file)", scope="http")
    http_port: int = _opt(7860, "TCP port of `stepaudio serve`", _positive(int), scope="http")
    http_api_key_file: str = _opt("", "file holding the API key of `stepaudio serve` (mode 0600; "
                                      "STEPAUDIO_API_KEY wins)", scope="http")
    http_cors_origins: str = _opt("", "origins allowed to call `stepaudio serve` from a browser, comma-separated "
                                      "(empty = CORS off)", scope="http")
    http_max_body_mb: float = _opt(64.0, "largest request body `stepaudio serve` reads, MiB (413 beyond)",
                                   _positive(float), scope="http")
    http_max_input_chars: int = _opt(4096, "longest `input` text of /v1/audio/speech, characters",
                                     _positive(int), scope="http")
    http_max_audio_s: float = _opt(300.0, "longest uploaded recording, seconds (413 beyond)", _positive(float),
                                   scope="http")
    http_max_uploads: int = _opt(8, "requests carrying audio that `stepaudio serve` handles at once (429 beyond)",
                                 _positive(int), scope="http")
    engine: str = _opt("stepaudio_engine.engine:Engine", "engine class the worker hosts "
                                                          "(module:Class; for tests)", str, hidden=True)

    @staticmethod
    def env_name(name: str) -> str:
        return "STEPAUDIO_" + name.upper()


@dataclass
class LoadedSettings:
    settings: Settings
    sources: dict[str, str]           # name -> flag | env | config | default
    paths: Paths

    def effective_models_dir(self) -> Path:
        return Path(self.settings.models_dir) if self.settings.models_dir else self.paths.models_dir


class SettingsError(ValueError):
    pass


def setting_fields() -> list:
    return list(fields(Settings))


def _parse(name: str, raw: Any, origin: str) -> Any:
    spec = next(f for f in fields(Settings) if f.name == name)
    try:
        return spec.metadata["parse"](str(raw) if not isinstance(raw, bool) else str(raw).lower())
    except ValueError as exc:
        raise SettingsError(f"{name} = {raw!r} from {origin}: {exc}") from None


def read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from None
    known = {f.name for f in fields(Settings)}
    unknown = set(data) - known
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    return data


def load_settings(flags: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> LoadedSettings:
    """Resolve every setting: flag → STEPAUDIO_* env → config.toml → default."""
    env = dict(os.environ) if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    paths = resolve_paths(env)
    config = read_config_file(paths.config_file)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in fields(Settings):
        name = spec.name
        if name in flags:
            values[name], sources[name] = _parse(name, flags[name], "flag"), "flag"
        elif Settings.env_name(name) in env:
            values[name] = _parse(name, env[Settings.env_name(name)], Settings.env_name(name))
            sources[name] = "env"
        elif name in config:
            values[name], sources[name] = _parse(name, config[name], str(paths.config_file)), "config"
        else:
            sources[name] = "default"
    settings = Settings(**values)
    if settings.queue_size < 1 or settings.max_loaded < 1:
        raise SettingsError("queue_size and max_loaded must be at least 1")
    return LoadedSettings(settings, sources, paths)
