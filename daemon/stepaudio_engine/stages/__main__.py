"""Entry point of the stage tool; each subcommand is a module with `add_parser(subparsers)`."""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand module names (in this package); a module registers one or more subcommands.
COMMAND_MODULES = ["tokenize", "llm", "vocode"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stepaudio_engine.stages",
        description="Write each pipeline stage's output as .npy files (float32 or int64).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"stepaudio_engine.stages.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"stepaudio_engine.stages.{name}":
                continue  # that stage group is not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
