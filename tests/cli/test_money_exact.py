"""Money is summed exactly beyond 64 bits (issue 27).

Amounts are summed as integer micros in 128 bits: two orders of 5,000,000,000,000 used
to wrap around to a negative revenue with exit 0 (64 bits hold 9.2 trillion units of
micros). An amount is read exactly when its text has at most 15 significant digits;
one row of 2**53 units or more is refused, naming the row.

Every figure below is hand-computed. ``BIG15``: customers c0..c3 each buy 25 times
9,999,999,999,999.99 in January 2024 (each 249,999,999,999,999.75), c4 buys 1.00
on 2024-01-26: January's revenue is 10**15 exactly; c0 buys 0.50 on 2024-02-10 and
returns order o1 on 2024-02-11. Summed as floats, the hundred amounts of January would
not give 10**15.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from retcalc.io.load import ENGINE_VARIABLE
from retcalc.metrics.events import daily_revenue
from retcalc.metrics.money import to_micros
from tests.cli.test_cli_contract import fails_cleanly, invoke, ok

PRICE = "9999999999999.99"


def big15(returned: bool = False) -> str:
    rows = ["order_id,customer_id,order_date,amount"]
    n = 0
    for c in range(4):
        for day in range(1, 26):
            n += 1
            rows.append(f"o{n},c{c},2024-01-{day:02d},{PRICE}")
    rows += ["o101,c4,2024-01-26,1.00", "o102,c0,2024-02-10,0.50"]
    if returned:
        rows.append(f"o1,c0,2024-02-11,-{PRICE}")
    return "\n".join(rows) + "\n"


def run(tmp_path: Path, text: str, *args: str) -> list[dict[str, Any]]:
    path = tmp_path / "orders.csv"
    path.write_text(text)
    return json.loads(ok(invoke([args[0], str(path), *args[1:], "-f", "json"])).stdout)


@pytest.fixture(params=["in-memory", "streaming"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ENGINE_VARIABLE, request.param)
    return str(request.param)


def test_kpis_at_ten_to_the_fifteen(tmp_path: Path, engine: str) -> None:
    jan, feb = run(tmp_path, big15(), "kpis", "--period", "month")
    assert (jan["customers"], jan["orders"], jan["revenue"]) == (5, 101, 10**15)
    assert feb["revenue"] == 0.5


def test_churn_at_ten_to_the_fifteen(tmp_path: Path, engine: str) -> None:
    jan, feb = run(tmp_path, big15(), "churn")
    assert jan["revenue"] == jan["new_revenue"] == 10**15
    assert feb["previous_revenue"] == 10**15
    assert feb["revenue"] == 0.5
    # c0 from 249,999,999,999,999.75 to 0.50; c1..c3 and c4 (1.00) gone.
    assert feb["contraction"] == 249_999_999_999_999.25
    assert feb["churned_revenue"] == 750_000_000_000_000.25


def test_cohorts_at_ten_to_the_fifteen(tmp_path: Path, engine: str) -> None:
    rows = run(tmp_path, big15(), "cohorts")
    first, second = (r for r in rows if r["cohort"] is not None)  # not the average rows
    assert (first["cohort_size"], first["revenue"]) == (5, 10**15)
    assert first["cumulative_revenue_per_customer"] == 2 * 10**14
    assert second["revenue"] == 0.5


def test_rfm_scores_the_biggest_spender_highest(tmp_path: Path, engine: str) -> None:
    rows = {r["customer_id"]: r for r in run(tmp_path, big15(), "rfm", "--per-customer")}
    assert rows["c0"]["monetary"] == 250_000_000_000_000.25
    assert rows["c1"]["monetary"] == 249_999_999_999_999.75
    assert rows["c4"]["monetary"] == 1.0
    assert rows["c0"]["m_score"] == 5
    assert rows["c4"]["m_score"] == 1
    segments = {r["segment"]: r for r in run(tmp_path, big15(), "rfm")}
    assert sum(r["customers"] for r in segments.values()) == 5
    assert segments["Champions"]["revenue"] == 250_000_000_000_000.25
    assert segments["Champions"]["avg_monetary"] == 250_000_000_000_000.25


def test_clv_at_ten_to_the_fifteen(tmp_path: Path, engine: str) -> None:
    [row] = run(tmp_path, big15(), "clv")
    assert (row["customers"], row["orders"]) == (5, 102)
    assert row["revenue"] == 1_000_000_000_000_000.5
    per = {r["customer_id"]: r for r in run(tmp_path, big15(), "clv", "--per-customer")}
    assert per["c0"]["revenue"] == 250_000_000_000_000.25


def test_returns_at_ten_to_the_fifteen(tmp_path: Path, engine: str) -> None:
    jan, feb = run(tmp_path, big15(returned=True), "returns")
    assert (jan["orders"], jan["orders_returned"]) == (101, 1)
    assert jan["gross_sales"] == 10**15
    assert jan["refunded"] == float(PRICE)
    assert feb["gross_sales"] == 0.5


def test_kpis_at_ten_to_the_eighteen(tmp_path: Path, engine: str) -> None:
    # 125 orders of 8 * 10**15 (each below 2**53): 10**18, with 5 customers.
    rows = ["customer_id,order_date,amount"]
    rows += [f"c{i % 5},2024-03-{1 + i % 28:02d},8000000000000000" for i in range(125)]
    [row] = run(tmp_path, "\n".join(rows) + "\n", "kpis")
    assert (row["customers"], row["orders"], row["revenue"]) == (5, 125, 10**18)
    assert row["revenue_per_customer"] == 2 * 10**17


def test_sums_of_micros_are_exact_beyond_64_bits() -> None:
    # 10**18 + 0.01 units: 10**24 + 10**4 micros, past what a float or 64 bits hold.
    amounts = [8e15] * 125 + [0.01]
    day = dt.date(2024, 1, 1)
    events = pl.LazyFrame(
        {"customer_id": ["a"] * 126, "revenue_day": [day] * 126, "revenue": amounts}
    )
    micros = daily_revenue(events, []).collect()["micros"]
    assert micros.dtype == pl.Int128
    assert micros.to_list() == [10**24 + 10**4]


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("0.01", 10_000),
        ("-2.25", -2_250_000),
        ("123.456789", 123_456_789),
        ("999999999.999999", 999_999_999_999_999),  # 15 digits
        ("9999999999999.99", 9_999_999_999_999_990_000),  # 15 digits, 13 before the point
        ("12345678901234.5", 12_345_678_901_234_500_000),
        ("1000000000000000", 10**21),
        ("9007199254740991", 9_007_199_254_740_991 * 10**6),  # 2**53 - 1
        # More than 15 significant digits: rounded to 15, as a spreadsheet keeps them.
        ("1234567890.1234567", 1_234_567_890_123_460),
        ("99999999999999.99", 10**20),
    ],
)
def test_an_amount_is_read_to_fifteen_significant_digits(text: str, micros: int) -> None:
    value = pl.DataFrame({"x": [float(text)]}).select(to_micros(pl.col("x"))).item()
    assert value == micros


def test_nan_and_null_amounts_have_no_micros() -> None:
    got = pl.DataFrame({"x": [float("nan"), None]}).select(to_micros(pl.col("x")))
    assert got.to_series().to_list() == [None, None]


@pytest.mark.parametrize("command", ["kpis", "retention", "rfm"])
def test_one_amount_too_large_is_refused_naming_its_row(
    tmp_path: Path, engine: str, command: str
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_date,amount\n"
        "a,2024-01-05,10\n"
        "b,2024-01-06,9007199254740992\n"
        "c,2024-01-07,-1e19\n"
    )
    stderr = fails_cleanly(invoke([command, str(path), "-f", "json"]))
    assert f"{path}: column 'amount' (amount), line 3: '9007199254740992' is more than" in stderr
    assert "9,007,199,254,740,992 units that retcalc reads exactly in one row" in stderr
    assert "(1 more such row)" in stderr


def test_the_largest_whole_amount_is_read(tmp_path: Path) -> None:
    text = "customer_id,order_date,amount\na,2024-01-05,9007199254740991\nb,2024-01-06,1\n"
    [row] = run(tmp_path, text, "kpis")
    assert row["revenue"] == 9_007_199_254_740_992


def test_a_refund_too_large_is_refused_on_stdin() -> None:
    stderr = fails_cleanly(
        invoke(
            ["kpis", "-", "-f", "csv", "--refund-col", "refund"],
            input="customer_id,order_date,amount,refund\na,2024-01-05,10,1e16\n",
        )
    )
    assert "<stdin>: column 'refund' (refund_amount), line 2: '1e16' is more than" in stderr
