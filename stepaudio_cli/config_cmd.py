"""`stepaudio config show|set|unset|path`: the daemon settings, where each value comes from, config.toml.

The settings table lives in stepaudio_protos.settings (shared with the daemon, so both resolve values the
same way: flag → STEPAUDIO_* env → config.toml → default). config.toml is a flat `key = value` file; we write
it ourselves (tomli_w is not a dependency) and atomically, keeping the other keys.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import typer

from stepaudio_cli.errors import CliError
from stepaudio_cli.options import flag
from stepaudio_cli.render import err, print_json
from stepaudio_protos.errors import Exit

config_app = typer.Typer(help="Show and change the daemon settings (config.toml).", no_args_is_help=True)

RESTART_NOTE = "a running daemon picks this up after `stepaudio daemon restart`"


# ---- TOML writing ------------------------------------------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)      # always has a '.' or an exponent: stays a float when read back
    if isinstance(value, str):
        return toml_string(value)
    raise TypeError(f"cannot write {type(value).__name__} to a flat config file")


def render_config(values: dict[str, Any]) -> str:
    header = "# stepaudio daemon settings, written by `stepaudio config set` (see `stepaudio config show`)\n"
    return header + "".join(f"{key} = {toml_value(value)}\n" for key, value in values.items())


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same folder + rename: readers see the old or the new file, never half.
    A full disk or a read-only folder is a CliError, and the temp file is gone."""
    try:
        _write_atomic(path, text)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}", "free some space there, or check its permissions; "
                       "the old file is unchanged") from None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---- settings lookups ------------------------------------------------------------------------------------

def _spec(key: str):
    from stepaudio_protos.settings import setting_fields

    name = key.strip().replace("-", "_").lower()
    visible = {f.name: f for f in setting_fields() if not f.metadata["hidden"]}
    if name not in visible:
        from difflib import get_close_matches

        close = get_close_matches(name, list(visible), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise CliError(f"unknown setting {key!r}", hint + "`stepaudio config show` lists them", Exit.USAGE)
    return visible[name]


def _read_file(path: Path) -> dict[str, Any]:
    from stepaudio_protos.settings import SettingsError, read_config_file

    try:
        return read_config_file(path)
    except SettingsError as exc:
        raise CliError(str(exc), f"fix or remove {path} by hand (it is a flat `key = value` TOML file)") from None


def _validate(values: dict[str, Any], path: Path) -> None:
    """Every value must parse, and the whole set must be accepted the way the daemon will load it."""
    from stepaudio_protos.settings import Settings, SettingsError, _parse

    try:
        parsed = {name: _parse(name, raw, str(path)) for name, raw in values.items()}
    except SettingsError as exc:
        raise CliError(str(exc), "`stepaudio config show` lists the settings and their values", Exit.USAGE) \
            from None
    settings = Settings(**parsed)
    if settings.queue_size < 1 or settings.max_loaded < 1:
        raise CliError("queue_size and max_loaded must be at least 1", "", Exit.USAGE)


def _note_after_change(ctx: typer.Context, name: str) -> None:
    from stepaudio_protos.settings import Settings

    env = Settings.env_name(name)
    if env in os.environ:
        err(f"note: {env} is set in your environment and takes precedence over config.toml")
    from stepaudio_cli import daemon_proc

    if daemon_proc.peer_check(ctx.obj.paths):
        err(f"note: {RESTART_NOTE}")


# ---- commands --------------------------------------------------------------------------------------------

@config_app.command("show")
def show(
    json_out: bool = flag("--json", help="print as JSON"),
) -> None:
    """Every setting: its value and where it came from (env, config or default)."""
    from stepaudio_protos.settings import Settings, SettingsError, load_settings, setting_fields

    try:
        loaded = load_settings()
    except SettingsError as exc:
        raise CliError(str(exc), "fix it with `stepaudio config set`/`unset` or edit `stepaudio config path`") \
            from None
    rows = []
    for spec in setting_fields():
        if spec.metadata["hidden"]:
            continue
        rows.append({"name": spec.name, "value": getattr(loaded.settings, spec.name),
                     "source": loaded.sources[spec.name], "default": spec.default,
                     "env": Settings.env_name(spec.name), "help": spec.metadata["help"]})
    if json_out:
        print_json({"config_file": str(loaded.paths.config_file), "settings": rows})
        return
    shown = [str(r["value"]) if r["value"] != "" else '""' for r in rows]
    width = max(len(r["name"]) for r in rows)
    vwidth = max(len(v) for v in shown)
    for r, value in zip(rows, shown):
        source = r["env"] if r["source"] == "env" else r["source"]
        print(f"{r['name'].ljust(width)}  {value.ljust(vwidth)}  ({source})")
    err(f"config file: {loaded.paths.config_file}")


@config_app.command("set", context_settings={"ignore_unknown_options": True})  # `set keep_alive -1`
def set_(
    ctx: typer.Context,
    key: str = typer.Argument(..., metavar="KEY", help="setting name (see `stepaudio config show`)"),
    value: str = typer.Argument(..., metavar="VALUE", help="new value"),
) -> None:
    """Set one setting in config.toml (checked first; the other keys are kept)."""
    spec = _spec(key)
    path = ctx.obj.paths.config_file
    values = _read_file(path)
    from stepaudio_protos.settings import _parse

    try:
        parsed = _parse(spec.name, value, "the command line")
    except ValueError as exc:
        raise CliError(str(exc), spec.metadata["help"], Exit.USAGE) from None
    values[spec.name] = parsed
    _validate(values, path)
    write_atomic(path, render_config(values))
    err(f"{spec.name} = {toml_value(parsed)} saved in {path}")
    _note_after_change(ctx, spec.name)


@config_app.command("unset")
def unset(
    ctx: typer.Context,
    key: str = typer.Argument(..., metavar="KEY", help="setting name"),
) -> None:
    """Remove one setting from config.toml (it falls back to its default)."""
    spec = _spec(key)
    path = ctx.obj.paths.config_file
    values = _read_file(path)
    if spec.name not in values:
        err(f"{spec.name} is not set in {path}; nothing to do")
        return
    del values[spec.name]
    write_atomic(path, render_config(values))
    err(f"{spec.name} removed from {path} (default: {spec.default!r})")
    _note_after_change(ctx, spec.name)


@config_app.command("path")
def path(ctx: typer.Context) -> None:
    """Print the config file's path (it may not exist yet)."""
    print(ctx.obj.paths.config_file)
