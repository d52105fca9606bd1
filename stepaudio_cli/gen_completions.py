"""Write the shell completion scripts in completions/: python -m stepaudio_cli.gen_completions

The scripts are STATIC: they are generated here from the Typer/click command tree and then run without Python,
so pressing TAB costs a few shell function calls instead of starting the CLI (~200 ms). Typer's own
completion (add_completion) stays off for the same reason. tests/cli/test_completions.py fails when the
scripts are stale: rerun this module after changing a command, an option or an edit list.
"""
from __future__ import annotations

import sys
from pathlib import Path

from stepaudio_cli.completion_spec import ArgumentSpec, CommandSpec, OptionSpec, Value

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "completions"

# How to complete a value, keyed by the click parameter name (the Python argument name). Our options are
# plain `str` for fast start-up and hand-written error messages, so their click type says nothing; this table
# does. Parameters not listed complete nothing (free text such as --text), unless their click type is a
# click.Choice or click.Path.
FILE_PARAMS = {"ref", "input_audio", "output", "ref_audio", "audio", "text_file", "jobs_file", "files"}
DIR_PARAMS = {"models_dir"}


def _choice_params() -> dict[str, dict[str, str]]:
    """Fixed choices (choice -> one-line description, may be empty) by parameter name, or by
    "command path:name" where a name means different things in different commands."""
    from stepaudio_protos import edits, languages
    from stepaudio_protos.settings import VARIANTS, setting_fields

    described = edits.OPTION_DESCRIPTIONS
    settings = {f.name: f.metadata["help"] for f in setting_fields() if not f.metadata["hidden"]}  # `config set`
    return {"emotion": described["emotion"], "style": described["style"], "speed": described["speed"],
            "variant": dict.fromkeys(VARIANTS, ""),
            "language": {name: tag or "(no tag: the default)" for name, tag in languages.LANGUAGES.items()},
            "config set:key": settings, "config unset:key": settings,
            # the parts `models verify|pull` accept (stepaudio_cli/models_cmd.py, their PART help texts)
            "models verify:part": dict.fromkeys(["tokenizer", *VARIANTS], ""),
            "models pull:part": dict.fromkeys(["base", "awq", "tokenizer"], "")}


def _value_for(param, path: list[str], choices_by_name: dict[str, dict[str, str]]) -> Value:
    """Read the value kind from the parameter's declared type (an Enum, a Path), else from the tables above."""
    import enum
    import pathlib

    # typer 0.2x vendors its own click and keeps the annotation in `type_descriptor` instead of a click type
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    info = getattr(descriptor, "parameter_info", None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return Value("choice", [str(m.value) for m in annotation])
    for key in (" ".join(path) + ":" + param.name, param.name):
        if key in choices_by_name:
            table = choices_by_name[key]
            return Value("choice", list(table), {c: d for c, d in table.items() if d})
    is_path = isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath)
    if param.name in DIR_PARAMS or (is_path and getattr(info, "file_okay", True) is False):
        return Value("dir")
    if param.name in FILE_PARAMS or is_path:
        return Value("file")
    return Value()


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0].strip()


def build_spec(command, path: list[str], help_names: list[str]) -> CommandSpec:
    """Describe one click command (and, for a group, its subcommands) for the script renderers."""
    choices = _choice_params()
    options: list[OptionSpec] = []
    arguments: list[ArgumentSpec] = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "option":
            takes_value = not param.is_flag and not param.count
            options.append(OptionSpec(list(param.opts) + list(param.secondary_opts), _first_line(param.help),
                                      takes_value, _value_for(param, path, choices) if takes_value else Value()))
        elif param.param_type_name == "argument":
            name = (getattr(param, "metavar", None) or param.name or "arg").upper()
            arguments.append(ArgumentSpec(name, _first_line(getattr(param, "help", "")),
                                          _value_for(param, path, choices), variadic=param.nargs == -1))
    options.append(OptionSpec(list(help_names), "Show this message and exit.", False, Value()))
    subcommands = []
    for name, sub in getattr(command, "commands", {}).items():  # a group's subcommands, in registration order
        if not getattr(sub, "hidden", False):
            subcommands.append(build_spec(sub, path + [name], help_names))
    help_text = _first_line(command.short_help or command.help)
    return CommandSpec(list(path), help_text, options, arguments, subcommands)


def cli_spec() -> CommandSpec:
    """The whole `stepaudio` command tree, read from the Typer app."""
    import typer

    from stepaudio_cli.app import app

    command = typer.main.get_command(app)
    help_names = list(app.info.context_settings.get("help_option_names", ["--help"])) \
        if app.info.context_settings else ["--help"]
    return build_spec(command, [], help_names)


def render_all() -> dict[str, str]:
    """File name in completions/ -> its text."""
    from stepaudio_cli import completion_scripts as scripts

    spec = cli_spec()
    return {"stepaudio.bash": scripts.bash(spec), "_stepaudio": scripts.zsh(spec), "stepaudio.fish": scripts.fish(spec)}


def main() -> int:
    OUT_DIR.mkdir(exist_ok=True)
    for name, text in render_all().items():
        (OUT_DIR / name).write_text(text)
        print(OUT_DIR / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
