"""Console-script entry point. Kept tiny: it decides what to import."""
from __future__ import annotations

import sys


def main() -> int:
    from stepaudio_cli.app import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
