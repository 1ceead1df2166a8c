"""The console-script entry point, kept free of heavy imports.

Importing Polars, SciPy and the commands takes about a second; a Ctrl-C in
that second must end quietly with 130 like one during a run, not with a
traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Import the app, then run it; an interrupt before the run exits 130 quietly."""
    try:
        from retcalc.cli.app import main as app_main
    except KeyboardInterrupt:
        sys.exit(130)
    try:
        app_main()
    except KeyboardInterrupt:
        sys.exit(130)
