"""python -m stepaudio_engine.tiny DIR [--seed N]: write (once) the tiny model folder at DIR."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from stepaudio_engine.tiny import ensure_tiny_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stepaudio_engine.tiny",
                                     description="Write a tiny random-weight model folder in the released layout.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(ensure_tiny_models(args.folder, seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
