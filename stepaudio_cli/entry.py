"""Console-script entry point. Kept tiny: it decides what to import.

`stepaudio status` against a running daemon and `stepaudio --help` take fast paths that import
neither typer nor grpc (DESIGN.md §7: these must stay close to bare Python start-up); everything
else, and every case the fast path is unsure about, goes to the full Typer app.
"""
from __future__ import annotations

import sys


def main() -> int:
    try:
        code = _main()
        sys.stdout.flush()  # inside the try: a reader that went away must not show at interpreter exit
        return code
    except BrokenPipeError:
        from stepaudio_cli.errors import stdout_closed

        return stdout_closed()


def _main() -> int:
    args = sys.argv[1:]
    if args in (["status"], ["status", "--json"]):
        from stepaudio_cli.fast import status

        code = status.run(json_out="--json" in args)
        if code is not None:
            return code
    elif args in (["--help"], ["-h"]):
        from stepaudio_cli.fast import help_text

        sys.stdout.write(help_text.TOP_HELP)
        return 0
    from stepaudio_cli.app import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
