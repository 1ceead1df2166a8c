"""``--by first:DIM`` (issue 31 item 2, SPEC §10): each customer in the group of the value
of DIM on their first purchase, so that the groups' customers add up to the whole.

Hand-computed on a small shop, then on generated shops: every count that is a count of
customers adds up over the groups to the ungrouped figure, on both bases.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import retcalc
from retcalc.cli.app import app
from retcalc.errors import UsageError
from retcalc.sample import generate

# a: first order on the web, then in the store (first:channel = web; --by channel puts
# a in both). b: two orders on the first day, store and app: the smallest, app. c: a
# cancelled store order before the first purchase (not a purchase: web). d: two orders
# on one day, one without a channel: the other's, app.
SHOP = """\
customer_id,order_date,amount,channel,status
a,2024-01-05,10,web,paid
a,2024-02-05,20,store,paid
a,2024-03-07,5,store,paid
b,2024-01-10,10,store,paid
b,2024-01-10,5,app,paid
c,2024-01-20,7,store,cancelled
c,2024-02-01,10,web,paid
c,2024-03-01,10,store,paid
d,2024-03-03,10,,paid
d,2024-03-03,10,app,paid
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.csv"
    path.write_text(SHOP)
    return path


def by_group(table: pl.DataFrame, key: str, column: str) -> dict[str | None, int]:
    return dict(table.group_by(key).agg(pl.col(column).sum()).iter_rows())


def test_hand_computed_first_channel(shop: Path) -> None:
    cohorts = retcalc.cohorts(shop, by="first:channel").filter(
        (pl.col("offset") == 0) & pl.col("cohort").is_not_null()
    )
    sizes = {(r["first_channel"], str(r["cohort"])): r["cohort_size"] for r in cohorts.to_dicts()}
    assert sizes == {("web", "2024-01-01"): 1, ("app", "2024-01-01"): 1,
                     ("web", "2024-02-01"): 1, ("app", "2024-03-01"): 1}  # fmt: skip
    kpis = retcalc.kpis(shop, by="first:channel")
    assert by_group(kpis, "first_channel", "customers") == {"web": 2, "app": 2}
    # No order ids: each row is an order; all of a customer's count under their first channel.
    assert by_group(kpis, "first_channel", "orders") == {"web": 5, "app": 4}
    clv = retcalc.clv_historical(shop, by="first:channel")
    assert dict(clv.select("first_channel", "revenue").iter_rows()) == {"app": 35.0, "web": 55.0}
    # Per order, a is in both web and store; d's order without a channel is in the empty group.
    per_order = retcalc.kpis(shop, by="channel")
    assert by_group(per_order, "channel", "customers") == {"web": 2, "store": 3, "app": 2, None: 1}


def test_retention_and_churn_by_first_channel(shop: Path) -> None:
    table = retcalc.retention(shop, by="first:channel", window="1mo")
    march = table.filter(pl.col("period_start") == pl.date(2024, 3, 1))
    rows = {r["first_channel"]: r for r in march.to_dicts()}
    # web: a (Feb order) and c (first order Feb 1) active at Mar 1; both buy in March.
    assert rows["web"]["customers_start"] == 2 and rows["web"]["returning"] == 2
    # app: b lapsed (last order Jan 10), d new in March.
    assert rows["app"]["customers_start"] == 0 and rows["app"]["new_customers"] == 1
    churn = retcalc.churn(shop, by="first:channel", window="1mo")
    assert set(churn["first_channel"].unique()) == {"web", "app"}


def test_cli_prints_first_channel(shop: Path) -> None:
    result = CliRunner().invoke(
        app, ["clv", str(shop), "--by", "first:channel", "--per-customer", "-f", "json"]
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["customer_id"]: r["first_channel"] for r in rows} == {
        "a": "web", "b": "app", "c": "web", "d": "app"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("by", "message"),
    [("first:", "name the column"), ("first:customer_id", "group of one")],
)
def test_bad_first_values(shop: Path, by: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        retcalc.retention(shop, by=by)


def test_first_and_its_plain_name_together_are_refused(shop: Path) -> None:
    with pytest.raises(UsageError, match="both be printed"):
        retcalc.retention(shop, by=["first:channel", "first_channel"])


def test_returns_refuses_first(shop: Path) -> None:
    with pytest.raises(UsageError, match="first:DIM"):
        retcalc.returns(shop, by="first:channel")


# Generated shops: the groups add up.

COUNTS = ("customers_start", "new_customers", "customers_end", "retained", "churned",
          "reactivated", "new_lost", "returning")  # fmt: skip


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("first")
    data = generate(customers=150, seed=7, years=1.5)
    data.orders.write_parquet(directory / "orders.parquet")
    # Only customers with a purchase: a subscriber who never bought has no first channel,
    # and a group with an empty --by value loses its counts in the period tables (a known
    # problem of --by with empty values, not of first:).
    bought = data.orders.filter(pl.col("status") != "cancelled")["customer_id"].unique()
    data.customers.filter(pl.col("customer_id").is_in(bought.implode())).write_parquet(
        directory / "customers.parquet"
    )
    return directory / "orders.parquet", directory / "customers.parquet"


def summed(table: pl.DataFrame, key: str, on: list[str], columns: tuple[str, ...]) -> pl.DataFrame:
    assert table[key].null_count() == 0  # every customer has a first channel here
    return table.group_by(on).agg(pl.col(c).sum() for c in columns).sort(on).select(*on, *columns)


@pytest.mark.parametrize("basis", ["activity", "subscription"])
@pytest.mark.parametrize("window", ["3mo", "12mo"])
def test_retention_groups_add_up(generated: tuple[Path, Path], basis: str, window: str) -> None:
    orders, customers = generated
    options = {"customers": customers, "basis": basis, "window": window}
    whole = retcalc.retention(orders, **options).select("period_start", *COUNTS)
    grouped = retcalc.retention(orders, by="first:channel", **options)
    assert grouped["first_channel"].n_unique() > 1
    assert summed(grouped, "first_channel", ["period_start"], COUNTS).equals(whole)


@pytest.mark.filterwarnings("ignore:.*left out of the spend model:retcalc.errors.RetcalcWarning")
def test_cohorts_kpis_clv_groups_add_up(generated: tuple[Path, Path]) -> None:
    orders, _ = generated
    cells = pl.col("cohort").is_not_null()  # the average rows are not summed
    whole = (
        retcalc.cohorts(orders).filter(cells).select("cohort", "offset", "cohort_size", "customers")
    )
    grouped = retcalc.cohorts(orders, by="first:channel").filter(cells)
    on = ["cohort", "offset"]
    assert summed(grouped, "first_channel", on, ("cohort_size", "customers")).equals(whole)
    for name, whole_table, grouped_table in [
        ("kpis", retcalc.kpis(orders), retcalc.kpis(orders, by="first:channel")),
        ("kpis-period", retcalc.kpis(orders, period="quarter"),
         retcalc.kpis(orders, period="quarter", by="first:channel")),
        ("historical", retcalc.clv_historical(orders),
         retcalc.clv_historical(orders, by="first:channel")),
        ("bgnbd", retcalc.clv_bgnbd(orders), retcalc.clv_bgnbd(orders, by="first:channel")),
    ]:  # fmt: skip
        on = [c for c in ("period_start", "range_start") if c in whole_table.columns]
        columns = ("customers", "new_customers") if name.startswith("kpis") else ("customers",)
        got = (
            grouped_table.group_by(on).agg(pl.col(c).sum() for c in columns).sort(on)
            if on
            else grouped_table.select(pl.col(c).sum() for c in columns)
        )
        assert got.select(*on, *columns).equals(whole_table.select(*on, *columns)), name
    # Per order, a customer who bought on two channels counts in both.
    per_order = retcalc.kpis(orders, by="channel")["customers"].sum()
    assert per_order > retcalc.kpis(orders)["customers"].item()
