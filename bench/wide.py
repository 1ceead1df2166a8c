"""Write a wide order file for the wide-file figures in bench/README.md (issue 27).

``ROWS`` order lines of ``COLUMNS`` columns: ``customer_id, order_date, amount``
and ``x0, x1, ...`` holding small integers.

Usage: ``.venv/bin/python bench/wide.py 200 10000 bench/data/wide-200x10000.csv``
"""

from __future__ import annotations

import sys


def main(rows: int, columns: int, out: str) -> None:
    with open(out, "w", encoding="utf-8") as handle:
        extra = [f"x{i}" for i in range(columns - 3)]
        handle.write(",".join(["customer_id", "order_date", "amount", *extra]) + "\n")
        for r in range(rows):
            values = [
                f"C{r % 50:03d}",
                f"2024-{1 + r % 12:02d}-{1 + r % 28:02d}",
                f"{10 + r % 7}.50",
            ]
            values += [str((r * 31 + i) % 97) for i in range(columns - 3)]
            handle.write(",".join(values) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
