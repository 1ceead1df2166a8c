"""Numbers as exports write them: currency, grouping, signs, and the decimal mark per column."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from retcalc.errors import InputError, UsageError
from retcalc.io import numbers
from retcalc.io.frames import LoadOptions, load_orders
from retcalc.io.load import ROW
from retcalc.io.numbers import DecimalMark

# text, reading with a decimal point, reading with a decimal comma (None: does not fit)
READINGS = [
    ("12", 12.0, 12.0),
    ("12.50", 12.5, None),
    ("12,5", None, 12.5),
    ("1,234.56", 1234.56, None),
    ("1.234,56", None, 1234.56),
    ("1,234", 1234.0, 1.234),
    ("1.234", 1.234, 1234.0),
    ("1,234,567", 1234567.0, None),
    ("1.234.567", None, 1234567.0),
    ("0,500", None, 0.5),  # a thousands group never starts with 0
    ("0.500", 0.5, None),
    ("1 234,56", None, 1234.56),
    ("1\u00a0234,5", None, 1234.5),  # no-break space, as French spreadsheets write it
    ("1'234.50", 1234.5, None),  # Swiss grouping
    ("$1,234.50", 1234.5, None),
    ("-$0.95", -0.95, None),
    ("€1.234,56", None, 1234.56),
    ("EUR 12,50", None, 12.5),
    ("12.50 USD", 12.5, None),
    ("-12.50 EUR", -12.5, None),
    ("(12.50)", -12.5, None),  # accounting negative
    ("(€12.50)", -12.5, None),
    ("\u22125", -5.0, -5.0),  # the minus sign U+2212
    ("12.50-", -12.5, None),  # trailing minus (SAP)
    ("+3", 3.0, 3.0),
    (" 42 ", 42.0, 42.0),
    ("-", 0.0, 0.0),  # the zero of accounting formats
    ("$ -", 0.0, 0.0),
    ("1.5E+03", 1500.0, None),
    (".5", 0.5, None),
    ("12.", 12.0, None),
    ("abc", None, None),
    ("12.5x", None, None),
    ("inf", None, None),
    ("-INF", None, None),
    ("(12.5", None, None),
    ("(-5)", None, None),
    ("+-5", None, None),
    ("USD", None, None),
]


@pytest.mark.parametrize(("text", "point", "comma"), READINGS, ids=[r[0] for r in READINGS])
def test_both_readings(text: str, point: float | None, comma: float | None) -> None:
    frame = pl.DataFrame({"v": [text]})
    exprs = frame.select(
        numbers.point_reading(pl.col("v")).alias("p"), numbers.comma_reading(pl.col("v")).alias("c")
    ).row(0)
    fast = numbers.readings(frame["v"]).row(0)
    assert exprs == (point, comma)
    assert fast == (point, comma)  # the fast path for plain values agrees with the full one


def test_readings_mix_fast_and_slow_rows_in_order() -> None:
    values = pl.Series(["1", "$2.00", "3.5", None, "(4)", "1.234"])
    out = numbers.readings(values)
    assert out["point"].to_list() == [1.0, 2.0, 3.5, None, -4.0, 1.234]
    assert out["comma"].to_list() == [1.0, None, None, None, -4.0, 1234.0]


@pytest.mark.parametrize("text", ["", "  ", "NULL", "null", "NaN", "None", "\\N"])
def test_missing_markers(text: str) -> None:
    assert pl.select(numbers.is_missing(pl.lit(text))).item()


@pytest.mark.parametrize("text", ["0", "n/a", "-", "x"])
def test_values_that_are_not_missing(text: str) -> None:
    assert not pl.select(numbers.is_missing(pl.lit(text))).item()


def test_missing_is_a_marker_once_trimmed_and_lowered() -> None:
    values = [
        "NULL",
        "NuLl",
        " nan ",
        "\u00a0None\u2003",  # no-break space, em space
        "\t\\N\n",
        "\\n",
        "   ",
        "nulls",
        "nul",
        "n a n",
        "none0",
        "\\",
        "NULL NULL",
        "na",
        None,
    ]
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    found = frame.select(numbers.is_missing(pl.col("v")))["v"].to_list()
    expected = [v is None or v.strip().lower() in numbers.MISSING for v in values]
    assert found == expected
    assert found.count(True) == 8


@pytest.mark.parametrize(
    ("flag", "mark"),
    [(".", DecimalMark.point), ("point", DecimalMark.point), (",", DecimalMark.comma)],
)
def test_decimal_flag(flag: str, mark: DecimalMark) -> None:
    assert numbers.mark_from_flag(flag) is mark


def test_unknown_decimal_flag() -> None:
    with pytest.raises(UsageError) as info:
        numbers.mark_from_flag(";")
    assert "--decimal" in info.value.message


# The decimal mark of each column, end to end.


def amounts(
    tmp_path: Path, values: list[str], *, sep: str = ",", **options: object
) -> list[object]:
    path = tmp_path / "orders.csv"
    lines = [sep.join(["customer_id", "order_date", "amount"])]
    lines += [sep.join([f"c{i}", "2024-01-05", f'"{v}"']) for i, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = load_orders(str(path), LoadOptions(**options))  # type: ignore[arg-type]
    return loaded.frame.sort(ROW)["amount"].to_list()


def test_a_column_with_decimal_commas_is_read_with_them(tmp_path: Path) -> None:
    assert amounts(tmp_path, ["1.234,56", "12,5", "7", "1.000"], sep=";") == [
        1234.56,
        12.5,
        7.0,
        1000.0,  # 1.000 groups thousands, as the other values show
    ]


def test_a_column_with_decimal_points_is_read_with_them(tmp_path: Path) -> None:
    assert amounts(tmp_path, ["1,234.56", "12.5", "1,000"]) == [1234.56, 12.5, 1000.0]


def test_integers_alone_need_no_decision(tmp_path: Path) -> None:
    assert amounts(tmp_path, ["12", "-3", "1 000"]) == [12.0, -3.0, 1000.0]


def test_ambiguous_column_is_refused_with_both_readings(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        amounts(tmp_path, ["1.234", "12"], sep=";")
    message = info.value.message
    assert "'1.234'" in message and "line 2" in message
    assert "1.234 (decimal point)" in message and "1234 (decimal comma)" in message
    assert "--decimal" in message


def test_ambiguous_value_equal_both_ways_is_not_refused(tmp_path: Path) -> None:
    assert amounts(tmp_path, ["0,000", "5"]) == [0.0, 5.0]


def test_forced_mark_reads_an_ambiguous_column(tmp_path: Path) -> None:
    assert amounts(tmp_path, ["1.234", "12"], sep=";", decimal=DecimalMark.comma) == [1234.0, 12.0]
    assert amounts(tmp_path, ["1.234", "12"], sep=";", decimal=DecimalMark.point) == [1.234, 12.0]


def test_forced_mark_refuses_values_of_the_other_kind(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        amounts(tmp_path, ["12.50", "3,5"], decimal=DecimalMark.point)
    assert "'3,5'" in info.value.message and "line 3" in info.value.message


def test_mixed_marks_in_one_column_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        amounts(tmp_path, ["12.50", "9", "12,50"])
    message = info.value.message
    assert "'12.50', line 2" in message and "'12,50', line 4" in message
    assert "--decimal" in message


def test_an_ambiguous_column_follows_the_other_columns_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id;order_date;quantity;unit_price\n"
        "c1;2024-01-05;1.000;2,50\n"
        "c2;2024-01-06;2;1,25\n",
        encoding="utf-8",
    )
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame.sort(ROW)["amount"].to_list() == [2500.0, 2.5]
    assert loaded.decimal_marks == {"quantity": ",", "unit_price": ","}


def test_parquet_numbers_are_read_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "order_date": ["2024-01-05"] * 3,
            "amount": [1.5, float("nan"), None],
        }
    ).write_parquet(path)
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame.sort(ROW)["amount"].to_list() == [1.5, None, None]  # NaN is missing


def test_parquet_infinite_amount_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": ["a", "b"], "order_date": ["2024-01-05"] * 2, "amount": [1.0, float("inf")]}
    ).write_parquet(path)
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "row 2" in info.value.message and "finite" in info.value.message
