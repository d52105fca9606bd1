"""The `stepaudio` Typer application: global options, command registration, error rendering."""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from stepaudio_cli import batch, jobs, list_edits, manage, selftest, voices
from stepaudio_cli import config_cmd, doctor, models_cmd, serve_cmd
from stepaudio_cli.context import CliContext
from stepaudio_cli.errors import CliError
from stepaudio_cli.options import flag
from stepaudio_protos import __version__
from stepaudio_protos.errors import Exit

app = typer.Typer(
    name="stepaudio",
    help="Voice cloning and audio editing with Step-Audio-EditX, served by a local daemon "
         "that loads models on first use and unloads them when idle.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"stepaudio {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    models_dir: Optional[str] = typer.Option(None, "--models-dir", envvar="STEPAUDIO_MODELS_DIR",
                                             help="model folder for a daemon this command starts"),
    no_autostart: bool = flag("--no-autostart", help="fail instead of starting the daemon"),
    debug: bool = flag("--debug", help="show tracebacks"),
    version: bool = flag("--version", callback=_version, is_eager=True, help="print the version"),
) -> None:
    ctx.obj = CliContext(models_dir=models_dir, autostart=not no_autostart, debug=debug)


app.command()(jobs.clone)
app.command()(jobs.edit)
app.command()(jobs.transcribe)
app.command()(batch.batch)
app.command()(manage.status)
app.command()(manage.load)
app.command()(manage.unload)
app.command()(selftest.selftest)
app.command("list-edits")(list_edits.list_edits)
app.add_typer(manage.daemon_app, name="daemon")
app.add_typer(voices.voices_app, name="voices")
app.add_typer(models_cmd.models_app, name="models")
app.add_typer(config_cmd.config_app, name="config")
app.command()(doctor.doctor)
app.command()(serve_cmd.serve)


_USAGE_ERRORS = {"UsageError", "BadParameter", "MissingParameter", "NoSuchOption", "BadOptionUsage",
                 "BadArgumentUsage"}


def _wants_json(args: list[str]) -> bool:
    """--json among the options (not after `--`, where it would be a positional value)."""
    options = args[:args.index("--")] if "--" in args else args
    return "--json" in options


def _audio_to_stdout(args: list[str]) -> bool:
    return any(a in ("-o", "--output") and b == "-" for a, b in zip(args, args[1:])) or "--output=-" in args


def main(argv: Optional[list[str]] = None) -> int:
    """Run the CLI; CliError → `error:`/`hint:` lines and its exit code, no traceback unless --debug."""
    args = sys.argv[1:] if argv is None else argv
    try:
        rc = app(args=args, prog_name="stepaudio", standalone_mode=False)
    except CliError as exc:
        if _wants_json(args):  # with -o - stdout is the audio's: the JSON goes to stderr, as results do
            print(json.dumps({"error": exc.as_json()}, ensure_ascii=False), flush=True,
                  file=sys.stderr if _audio_to_stdout(args) else sys.stdout)
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        if "--debug" in args:
            raise
        return exc.code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("error: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except BrokenPipeError:
        from stepaudio_cli.errors import stdout_closed

        return stdout_closed()
    except OSError as exc:  # stdout on a full disk, a closed descriptor, …: the machine's I/O, not a bug
        if "--debug" in args or exc.errno is None:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror}{where}", file=sys.stderr)
        print("hint: an I/O error of this machine (a full disk, a closed pipe or descriptor); "
              "check the free space and where the output goes", file=sys.stderr)
        return Exit.FAILED
    except Exception as exc:  # click usage errors and the like
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # a (possibly vendored) click exception
            if type(exc).__name__ not in _USAGE_ERRORS:
                exc.show()
                return int(exc.exit_code)
            # the same error:/hint: shape as every other error, not click's Usage/Error block
            command = getattr(getattr(exc, "ctx", None), "command_path", "") or "stepaudio"
            print(f"error: {exc.format_message()}", file=sys.stderr)  # type: ignore[attr-defined]  # click
            print(f"hint: see `{command} --help`", file=sys.stderr)
            return Exit.USAGE
        if "--debug" in args:
            raise
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hint: this is a bug; run again with --debug and report it", file=sys.stderr)
        return Exit.FAILED
    return rc if isinstance(rc, int) else 0
