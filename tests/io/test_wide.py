"""Wide files (issue 27): reading is linear in the number of columns, and a repeated row
is still an exact repeat of the whole row, a blank row one whose every cell is empty.

The 10,000-column file used to never finish (the whole-row hash nested an expression
per column); these tests assert what is read, not how fast (bench/README.md has the
figures).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from retcalc.io.batched import load_order_events
from retcalc.io.frames import HASHED_APART, LoadOptions, load_orders, row_hash
from retcalc.io.load import ROW

TODAY = dt.date(2025, 1, 1)


def wide_csv(path: Path, width: int, rows: int) -> list[list[str]]:
    """``rows`` distinct order lines of ``width`` columns, then the hostile ones: line
    ``rows + 2`` repeats line 2, line ``rows + 3`` is blank (every field empty), line
    ``rows + 4`` repeats line 3 but in its very last column, line ``rows + 5`` repeats
    line 3 exactly. Returns the data lines as written."""
    extra = width - 3
    header = ["customer_id", "order_date", "amount", *(f"x{i}" for i in range(extra))]
    lines = []
    for r in range(rows):
        lines.append(
            [f"c{r % 37}", f"2024-{1 + r % 12:02d}-{1 + r % 28:02d}", f"{r}.50"]
            + [str((r * 7 + i) % 11) for i in range(extra)]
        )
    last_differs = [*lines[1][:-1], "different"]
    lines += [lines[0], [""] * width, last_differs, lines[1]]
    path.write_text("\n".join(",".join(line) for line in [header, *lines]) + "\n", encoding="utf-8")
    return lines


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    rows = 300
    path = tmp_path_factory.mktemp("wide") / "wide.csv"
    wide_csv(path, 10_000, rows)
    return path, rows


def test_ten_thousand_columns_find_the_repeats_and_drop_blank_rows(
    wide: tuple[Path, int],
) -> None:
    path, rows = wide
    loaded = load_orders(str(path), LoadOptions(today=TODAY))
    # Every row but the blank one is read; two rows repeat earlier ones exactly.
    assert loaded.frame.height == rows + 3
    assert (rows + 1) not in loaded.frame[ROW].to_list()  # the blank line
    assert loaded.duplicates == 2
    assert (
        f"2 rows repeat an earlier row exactly (e.g. line {rows + 2} repeats line 2)"
        in (loaded.warnings[0])
    )
    deduped = load_orders(str(path), LoadOptions(today=TODAY, dedupe=True))
    kept = deduped.frame[ROW].to_list()
    assert deduped.frame.height == rows + 1
    assert rows not in kept and rows + 3 not in kept  # the copies
    assert rows + 2 in kept  # differs from line 3 in its last column only


def test_ten_thousand_columns_in_batches(wide: tuple[Path, int]) -> None:
    path, rows = wide
    options = LoadOptions(today=TODAY, dedupe=True)
    split = load_order_events(str(path), options, batch_rows=128)
    assert split.duplicates == 2
    assert (
        "--dedupe left out 2 rows that repeat an earlier row exactly "
        f"(e.g. line {rows + 2} repeats line 2)"
    ) in split.warnings[0]
    assert load_order_events(str(path), LoadOptions(today=TODAY), batch_rows=128).duplicates == 2


@pytest.mark.parametrize("width", [3, 4, HASHED_APART, HASHED_APART + 1, 500])
def test_the_row_hash_is_the_same_for_equal_rows_only(width: int) -> None:
    names = [f"c{i}" for i in range(width)]
    base = {n: ["a", "a", "a", None, None] for n in names}
    base[names[-1]] = ["a", "a", "b", None, "a"]  # rows 0 and 1 equal; 2 differs at the end
    frame = pl.DataFrame(base)
    hashes = frame.select(row_hash([pl.col(n) for n in names]))[:, 0].to_list()
    assert hashes[0] == hashes[1]
    assert len({hashes[0], hashes[2], hashes[3], hashes[4]}) == 4


def test_a_repeat_must_match_in_every_column(tmp_path: Path) -> None:
    # Wider than HASHED_APART: rows that differ in a column the metrics never read,
    # or only by an empty value against a missing one, are no repeat.
    path = tmp_path / "w.csv"
    width = HASHED_APART + 10
    header = ["customer_id", "order_date", "amount", *(f"x{i}" for i in range(width - 3))]
    row = ["c1", "2024-01-05", "1", *("v" for _ in range(width - 3))]
    other = [*row[:-1], ""]
    path.write_text("\n".join(",".join(r) for r in [header, row, other, other, row]) + "\n")
    loaded = load_orders(str(path), LoadOptions(today=TODAY))
    assert loaded.duplicates == 2
    assert "e.g. line 4 repeats line 3" in loaded.warnings[0]
