"""The CLI's command tree as plain data, for the completion scripts and docs/cli.md.

gen_completions builds it from the Typer app; completion_scripts renders it. Both import this module and
neither imports the other's module, so there is no import circle.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Value:
    """What a value completes to: kind is "file", "dir", "choice" (with choices) or "none"."""
    kind: str = "none"
    choices: list[str] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)  # choice -> one line, for zsh and fish menus


@dataclass
class OptionSpec:
    names: list[str]  # every spelling, e.g. ["-o", "--output"]; a --x/--no-x flag lists both
    help: str
    takes_value: bool
    value: Value


@dataclass
class ArgumentSpec:
    name: str  # the metavar users see, e.g. REF
    help: str
    value: Value
    variadic: bool = False  # takes every remaining word (nargs=-1)


@dataclass
class CommandSpec:
    path: list[str]  # [] for stepaudio itself, ["daemon", "logs"] for `stepaudio daemon logs`
    help: str
    options: list[OptionSpec]
    arguments: list[ArgumentSpec]
    subcommands: list["CommandSpec"]

    def walk(self):
        """This command, then every subcommand depth-first, in registration order."""
        yield self
        for sub in self.subcommands:
            yield from sub.walk()
