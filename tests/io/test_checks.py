"""One module of reading's checks and messages (``retcalc.io.checks``): each sentence the
three readers say is written there once, and io imports from the metrics only what the
streaming reader needs to classify and sum events."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from retcalc.io import checks

PACKAGE = Path(checks.__file__).parents[1]

#: A fragment of each sentence reading says, as written in the source.
SENTENCES = [
    "and were left out",
    "has a header but no order rows",
    "has a header but no customer rows",
    "has a header but no rows;",
    "cannot read {value!r}; expected",
    "more fields than the header's",
    "is more than a year in the future",
    "is before 1900",
    "a date read as",
    "a number such as 1234.50",
    "a number such as 1234,50",
    '"a finite number"',
    "past the end of a short line",
    "--dedupe left out",
    "they are counted as separate lines",
    "units that retcalc reads exactly in one row",
    "appears more than once in the header",
    "stores customer ids as floating-point",
    "far more than any one person would",
    "written in more than one Unicode form",
    "is the same on every line of each of",
    "mixes a decimal point",
    "and no value in the\\n",
    "Spark does not tell line numbers",
    "has values retcalc does not know",
    "refuses unknown statuses",
]


def _sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("sentence", SENTENCES)
def test_each_sentence_of_reading_is_written_in_io_checks_only(sentence: str) -> None:
    # "and no value in the" is split over two source lines: match the first part.
    fragment = sentence.removesuffix("\\n")
    found = [p.relative_to(PACKAGE) for p, text in _sources().items() if fragment in text]
    assert found == [Path("io/checks.py")], found


def _metrics_imports(path: Path) -> set[str]:
    """``module.name`` of every name ``path`` imports from ``retcalc.metrics``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("retcalc.metrics"):
            names |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("retcalc.metrics")}
    return names


def test_io_imports_from_the_metrics_only_the_meaning_of_a_row_and_money() -> None:
    found = {
        str(p.relative_to(PACKAGE)): names
        for p in sorted((PACKAGE / "io").glob("*.py"))
        if (names := _metrics_imports(p))
    }
    assert found == {
        "io/batched.py": {
            "retcalc.metrics.returns",
            "retcalc.metrics.events.CUSTOMER",
            "retcalc.metrics.events.classify",
            "retcalc.metrics.events.negative_line",
            "retcalc.metrics.money.MICROS",
            "retcalc.metrics.money.to_micros",
        }
    }


def test_the_limit_on_one_amount_is_one_number() -> None:
    from retcalc.metrics import money

    assert money.LARGEST_AMOUNT is checks.LARGEST_AMOUNT
    assert checks.LARGEST_AMOUNT == 9_007_199_254_740_992
    assert "9,007,199,254,740,992 units" in checks.TOO_MUCH_MONEY


def test_a_ragged_line_is_named_where_the_reader_knows_it() -> None:
    tail = (
        " more fields than the header's 3{}, so its values would shift columns: a value "
        "with an unquoted separator (such as 1,234.50 in a comma-separated file)? Quote "
        "such values or fix the line"
    )
    assert checks.ragged("o.csv", 3, 1, "line 7").message == "o.csv: line 7 has" + tail.format("")
    spark = checks.ragged("part-0.csv", 3, 3).message
    assert spark == (
        "part-0.csv: a line has"
        + tail.format(" (Spark does not tell line numbers)")
        + " (2 more such lines)"
    )


def test_values_that_cannot_be_read_and_dates_out_of_range() -> None:
    error = checks.unreadable("o.csv", "Total", "amount", "line 3", "12x", "a number", 2)
    assert error.message == (
        "o.csv: column 'Total' (amount), line 3: cannot read '12x'; expected a number "
        "(1 more such row)"
    )
    late = checks.out_of_range(
        "o.csv",
        "Date",
        "order_date",
        checks.NO_LINE,
        checks.read_as("2202-01-05"),
        checks.TOO_LATE,
        1,
    )
    assert late.message == (
        "o.csv: column 'Date' (order_date), Spark does not tell line numbers: a date read as "
        "2202-01-05 is more than a year in the future; a typo? Fix or remove the row"
    )


@pytest.mark.parametrize(
    ("native", "mark", "expected"),
    [
        (True, ",", "a finite number"),
        (False, ".", "a number such as 1234.50 or 1,234.50 (decimal point)"),
        (False, ",", "a number such as 1234,50 or 1.234,50 (decimal comma)"),
    ],
)
def test_what_a_number_should_look_like(native: bool, mark: str, expected: str) -> None:
    assert checks.number_expected(native=native, mark=mark) == expected


def test_repeated_rows_counted_or_left_out() -> None:
    assert checks.repeat_warning("o.csv", 1, "e.g. line 4 repeats line 2", dedupe=False) == (
        "o.csv: 1 row repeats an earlier row exactly (e.g. line 4 repeats line 2); they are "
        "counted as separate lines. If the same rows were exported twice, pass --dedupe"
    )
    assert checks.repeat_warning("o.csv", 3, None, dedupe=True) == (
        "o.csv: --dedupe left out 3 rows that repeat an earlier row exactly"
    )


def test_rows_left_out() -> None:
    assert checks.no_date_warning("o.csv", 4) == (
        "o.csv: 4 rows have no order date and were left out"
    )
    assert checks.no_date_warning("r.csv", 2, "return") == (
        "r.csv: 2 rows have no return date and were left out"
    )
    assert checks.no_order_rows("o.csv").message == (
        "o.csv: has a header but no order rows with a customer and a date"
    )
