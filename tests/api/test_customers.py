"""``retcalc customers`` (issue 31 item 1, SPEC §10): each customer's status in a period.

The contract: for every period of the grid and every status, counting the customers with
it gives ``retention``'s count for that period (generated shops, both bases, with and
without ``--by``); then small hand-computed cases and the command line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import retcalc
from retcalc.cli.app import app
from retcalc.errors import UsageError
from retcalc.sample import generate

# retention's column -> what counts it in the customers table.
AGREES = {
    "customers_start": pl.col("active_at_start"),
    "customers_end": pl.col("active_at_end"),
    "new_customers": pl.col("status") == "new",
    "retained": pl.col("status") == "retained",
    "churned": pl.col("status") == "churned",
    "reactivated": pl.col("status") == "reactivated",
    "returning": pl.col("is_returning"),
    "new_lost": pl.col("is_new_lost"),
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("customers")
    data = generate(customers=120, seed=5, years=1.5)
    data.orders.write_parquet(directory / "orders.parquet")
    data.customers.write_parquet(directory / "customers.parquet")
    return directory / "orders.parquet", directory / "customers.parquet"


CASES = [
    ("activity", "month", "12mo", ()),
    ("activity", "month", "1mo", ()),
    ("activity", "quarter", "30d", ("channel",)),
    ("activity", "week", "8w", ("first:channel",)),
    ("subscription", "month", "12mo", ()),
    ("subscription", "quarter", "3mo", ("segment",)),
]


@pytest.mark.parametrize(
    ("basis", "period", "window", "by"), CASES, ids=["-".join([*c[:3], *c[3]]) for c in CASES]
)
def test_counts_agree_with_retention_in_every_period(
    shop: tuple[Path, Path], basis: str, period: str, window: str, by: tuple[str, ...]
) -> None:
    orders, people = shop
    options = {"customers": people, "basis": basis, "period": period, "window": window, "by": by}
    read = retcalc.read_orders(orders, by=[b.removeprefix("first:") for b in by])
    table = retcalc.retention(read, **options)
    keys = [b.replace("first:", "first_") for b in by] or ["_all"]
    table = table.with_columns(pl.lit(0).alias("_all"))
    checked = 0
    for period_start in table["period_start"].unique().sort():
        listed = retcalc.customers(read, period_start=period_start, **options).with_columns(
            pl.lit(0).alias("_all")
        )
        assert listed.select(pl.struct([*keys, "customer_id"]).is_unique().all()).item()
        counts = listed.group_by(keys).agg(expr.sum().alias(name) for name, expr in AGREES.items())
        expected = table.filter(pl.col("period_start") == period_start)
        joined = expected.join(counts, on=keys, how="left", suffix="_listed", nulls_equal=True)
        for name in AGREES:
            got = joined[f"{name}_listed"].fill_null(0).to_list()
            assert got == joined[name].to_list(), (period_start, name)
        checked += 1
    assert checked == table["period_start"].n_unique() >= 4


def test_the_statuses_partition_the_customers(shop: tuple[Path, Path]) -> None:
    orders, _ = shop
    table = retcalc.retention(orders, window="3mo")
    row = table.row(8, named=True)
    listed = retcalc.customers(orders, period_start=row["period_start"], window="3mo")
    statuses = dict(listed.group_by("status").len().iter_rows())
    before = statuses.get("lapsed", 0) + row["customers_start"] + row["reactivated"]
    acquired = retcalc.clv_historical(orders, end=row["period_start"] - dt.timedelta(days=1))
    assert before == acquired["customers"].item()
    assert set(statuses) <= {"new", "retained", "churned", "reactivated", "lapsed",
                             "not_yet_acquired"}  # fmt: skip
    assert sum(statuses.values()) == listed.height


# Hand-computed cases, monthly, window 1mo unless said.
HAND = """\
customer_id,order_date,amount,order_id,status
a,2024-01-05,10,o1,paid
a,2024-02-03,15,o2,paid
a,2024-02-03,5,o3,paid
b,2024-01-20,20,o4,paid
c,2024-02-10,5,o5,paid
d,2023-11-15,8,o6,paid
d,2024-02-20,12,o7,paid
e,2024-02-12,9,o8,cancelled
e,2024-04-01,30,o9,paid
f,2024-01-09,40,o10,paid
f,2024-02-09,-40,o10,returned
"""


@pytest.fixture
def hand(tmp_path: Path) -> Path:
    path = tmp_path / "hand.csv"
    path.write_text(HAND)
    return path


def test_hand_computed_february(hand: Path) -> None:
    listed = retcalc.customers(hand, period_start="2024-02-15", window="1mo")
    rows = {r["customer_id"]: r for r in listed.to_dicts()}
    assert str(rows["a"]["period_start"]) == "2024-02-01"
    assert {c: r["status"] for c, r in rows.items()} == {
        "a": "retained",  # Jan order: active at Feb 1; Feb order: active at Mar 1
        "b": "churned",  # Jan 20 order only
        "c": "new",
        "d": "reactivated",  # first order in Nov, away in Jan, back in Feb
        "e": "not_yet_acquired",  # a cancelled order is no purchase; first one in April
        "f": "churned",  # a return line never makes anyone active
    }
    assert rows["a"]["is_returning"] and not rows["d"]["is_returning"]
    # Two orders on one day are two orders; history to the period end (Mar 1).
    assert (rows["a"]["orders"], rows["a"]["revenue"]) == (3, 30.0)
    assert str(rows["a"]["last_order"]) == "2024-02-03"
    # The return nets f's revenue to 0 (it shares the order id).
    assert (rows["f"]["orders"], rows["f"]["revenue"]) == (1, 0.0)
    assert (rows["e"]["orders"], rows["e"]["revenue"], rows["e"]["first_order"]) == (0, 0.0, None)
    retention = retcalc.retention(hand, window="1mo").filter(
        pl.col("period_start") == pl.date(2024, 2, 1)
    )
    assert retention.select("customers_start", "retained", "churned", "reactivated",
                            "new_customers", "returning").row(0) == (3, 1, 2, 1, 1, 1)  # fmt: skip


def test_lapsed_and_status_filter(hand: Path) -> None:
    # March: a (Feb) churned? a active at Mar 1 (Feb 3 order), not at Apr 1: churned.
    listed = retcalc.customers(
        hand, period_start="2024-03-01", window="1mo", status=["lapsed", "new"]
    )
    assert dict(listed.select("customer_id", "status").iter_rows()) == {
        "b": "lapsed",  # acquired in January, inactive at Mar 1 and Apr 1
        "f": "lapsed",
    }


def test_new_lost_in_one_period(tmp_path: Path) -> None:
    """A customer new in a quarter whose 30-day window ends inside it: new and lost."""
    path = tmp_path / "o.csv"
    path.write_text("customer_id,order_date,amount\nx,2024-01-10,5\ny,2024-03-20,5\n")
    listed = retcalc.customers(path, period_start="2024-01-01", period="quarter", window="30d")
    rows = {r["customer_id"]: r for r in listed.to_dicts()}
    assert rows["x"]["status"] == "new" and rows["x"]["is_new_lost"]
    assert rows["y"]["status"] == "new" and not rows["y"]["is_new_lost"]
    only = retcalc.customers(
        path, period_start="2024-01-01", period="quarter", window="30d", status="new_lost"
    )
    assert only["customer_id"].to_list() == ["x"]


def test_customers_file_lists_the_not_yet_acquired(hand: Path, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("customer_id,segment\na,s1\nz,s2\n")
    listed = retcalc.customers(hand, customers=people, period_start="2024-02-01", window="1mo")
    rows = {r["customer_id"]: r for r in listed.to_dicts()}
    assert rows["z"]["status"] == "not_yet_acquired"
    assert rows["z"]["orders"] == 0 and rows["z"]["last_order"] is None


def test_period_outside_the_data_and_bad_status(hand: Path) -> None:
    with pytest.raises(UsageError, match="outside the periods"):
        retcalc.customers(hand, period_start="2020-01-01")
    with pytest.raises(UsageError, match="returning, new_lost"):
        retcalc.customers(hand, period_start="2024-02-01", status="gone")


# The command line.

runner = CliRunner()


def test_cli_csv_when_piped_and_status_filter(hand: Path) -> None:
    result = runner.invoke(
        app,
        ["customers", str(hand), "--period-start", "2024-02-01", "-w", "1mo",
         "--status", "churned", "--status", "new"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["customer_id"], r["status"]) for r in rows] == [
        ("b", "churned"), ("c", "new"), ("f", "churned")
    ]  # fmt: skip
    assert rows[0]["is_returning"] == "false" and rows[0]["first_order"] == "2024-01-20"


def test_cli_unknown_status_exits_2(hand: Path) -> None:
    result = runner.invoke(
        app, ["customers", str(hand), "--period-start", "2024-02-01", "--status", "gone"]
    )
    assert result.exit_code == 2
    assert "new, retained, churned, reactivated, lapsed, not_yet_acquired" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_with_clv(shop: tuple[Path, Path]) -> None:
    orders, _ = shop
    result = runner.invoke(
        app,
        ["customers", str(orders), "--period-start", "2024-03-01", "--with-clv", "-f", "json",
         "--status", "retained"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows and all(r["status"] == "retained" for r in rows)
    assert all(0 <= r["p_alive"] <= 1 and r["clv"] is not None for r in rows)
