"""The console-script entry point, kept free of heavy imports.

Importing Polars, SciPy and the commands takes about a second; a Ctrl-C in
that second must end quietly with 130 like one during a run, not with a
traceback.
"""

from __future__ import annotations

import os
import sys

#: Polars' allocator (jemalloc) keeps freed pages for a while before it returns them to
#: the system, so one step's freed memory still counts while the next step allocates its
#: own. A shorter decay than jemalloc's default lowers the peaks; the one below keeps most
#: of that and spends less time handing pages back and faulting them in again (measured:
#: bench/README.md, "Why the code is so"). A value the user sets is kept.
ALLOCATOR = ("_RJEM_MALLOC_CONF", "dirty_decay_ms:1000,muzzy_decay_ms:0")


def main() -> None:
    """Import the app, then run it; an interrupt before the run exits 130 quietly."""
    os.environ.setdefault(*ALLOCATOR)  # read when Polars is loaded: set before the import
    try:
        from retcalc.cli.app import main as app_main
        from retcalc.cli.runner import process_ends_with_the_run
    except KeyboardInterrupt:
        sys.exit(130)
    process_ends_with_the_run()
    try:
        app_main()
    except KeyboardInterrupt:
        sys.exit(130)
