"""Typer parameter helpers shared by the commands."""
from __future__ import annotations

from typing import Any

import typer


def flag(*names: str, help: str, **extra: Any) -> Any:
    """A boolean flag. metavar="" because it takes no value (typer would otherwise show `<bool>`)."""
    return typer.Option(False, *names, help=help, metavar="", **extra)
