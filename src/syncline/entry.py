"""The ``syncline`` console script. It imports the CLI inside a guard so that Ctrl-C while the
program is still starting (importing Typer, Rich, Arrow: most of a second) ends with one line
and status 130 instead of a traceback from inside an import. (Once a command runs, Typer ends a
Ctrl-C with status 130 itself.)"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from syncline.cli import main as run

        run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
