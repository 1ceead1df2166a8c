"""Write the registry's table (retcalc/definitions.py) into docs/definitions.md.

Run after changing an entry: ``python scripts/write_definitions.py``. The table
sits between ``definitions.DOCS_START`` and ``definitions.DOCS_END``; a test
(tests/cli/test_registry.py) fails while the file differs from the registry.
"""

from __future__ import annotations

import sys
from pathlib import Path

from retcalc import definitions

DOCS = Path(__file__).resolve().parents[1] / "docs" / "definitions.md"


def main() -> int:
    text = DOCS.read_text()
    start, end = definitions.DOCS_START, definitions.DOCS_END
    if start not in text or end not in text:
        sys.stderr.write(f"{DOCS}: no {start} ... {end} block to fill in\n")
        return 2
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    DOCS.write_text(f"{head}{start}\n\n{definitions.markdown()}\n{end}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
