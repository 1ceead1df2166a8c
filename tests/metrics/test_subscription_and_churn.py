"""Subscription basis (SPEC §2.2), revenue retention (SPEC §2.4) and the classic CRR (§2.3)."""

from __future__ import annotations

import polars as pl
import pytest

from retcalc.engines import Holds, Rows
from retcalc.errors import UsageError
from retcalc.kernels.keys import encode_customers
from retcalc.kernels.words import free_key_bits, period_sums
from retcalc.metrics.churn import PeriodNumbers, churn_table
from retcalc.metrics.common import Params, prepare_activity, prepare_subscription
from retcalc.metrics.crr import classic_crr
from retcalc.metrics.retention import retention_table
from retcalc.periods import Period, parse_window
from tests.metrics.conftest import D, orders

COUNTS = [
    "customers_start",
    "new_customers",
    "customers_end",
    "retained",
    "churned",
    "reactivated",
    "new_lost",
]


def subscriptions() -> pl.LazyFrame:
    return pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "a"],
            "signup_date": [
                D("2024-01-10"),
                D("2024-02-01"),
                D("2024-02-05"),
                D("2024-01-01"),
                D("2024-04-02"),
            ],
            "churn_date": [D("2024-03-15"), None, D("2024-02-20"), D("2024-02-01"), None],
        }
    ).lazy()


def test_subscription_basis_by_hand() -> None:
    # Active at x: signup < x and (no churn or churn >= x).
    # Feb 1 = {a, d} (d churns on Feb 1 itself, so still active at it); Mar 1 = {a, b};
    # Apr 1 = {b}; May 1 = {a (second subscription), b}.
    prep = prepare_subscription(subscriptions(), None, Params(period=Period.month))
    table = retention_table(prep)
    got = {str(r["period_start"]): tuple(r[c] for c in COUNTS) for r in table.iter_rows(named=True)}
    assert got == {
        #              CS CN CE ret churn react newlost
        "2024-01-01": (0, 2, 2, 0, 0, 0, 0),
        "2024-02-01": (2, 2, 2, 1, 1, 0, 1),  # c signs up and churns in February
        "2024-03-01": (2, 0, 1, 1, 1, 0, 0),
        "2024-04-01": (1, 0, 2, 1, 0, 1, 0),  # a comes back with a new subscription
    }
    assert table["returning"].to_list() == [None] * 4
    assert table["repeat_rate"].to_list() == [None] * 4
    # Data end is the day after the last event (Apr 2): April is not complete.
    assert table["complete"].to_list() == [True, True, True, False]


def test_subscription_returning_uses_orders() -> None:
    purchases = orders([("a", "2024-02-20", 10), ("b", "2024-02-21", 10), ("b", "2024-03-05", 10)])
    prep = prepare_subscription(subscriptions(), purchases, Params(period=Period.month))
    table = retention_table(prep)
    # February: CS = {a, d}; a ordered in February, b did too but was not active at Feb 1.
    # March: CS = {a, b}; b ordered in March.
    assert table["returning"].to_list() == [0, 1, 1, 0]


def test_subscription_as_of_hides_later_churn() -> None:
    prep = prepare_subscription(
        subscriptions(), None, Params(period=Period.month, as_of=D("2024-03-01"))
    )
    table = retention_table(prep)
    # As of Mar 1, a's churn (Mar 15) has not happened; the grid ends with February.
    assert table["period_start"].cast(pl.String).to_list() == ["2024-01-01", "2024-02-01"]
    assert table.row(1, named=True)["customers_end"] == 2


def bridge_orders() -> pl.LazyFrame:
    return orders(
        [
            ("x", "2024-01-10", 100, 1, "o1", None),
            ("x", "2024-02-10", 150, 1, "o2", None),
            ("x", "2024-03-03", -20, -1, "o2", "returned"),  # nets into February (order o2)
            ("y", "2024-01-11", 200, 1, "o3", None),
            ("y", "2024-02-11", 80, 1, "o4", None),
            ("z", "2024-01-12", 50, 1, "o5", None),
            ("z", "2024-03-12", 70, 1, "o6", None),
            ("w", "2024-02-13", 30, 1, "o7", None),
        ],
        columns=("customer_id", "day", "amount", "quantity", "order_id", "status"),
    )


def test_revenue_bridge_by_hand() -> None:
    prep = prepare_activity(
        bridge_orders(), Params(period=Period.month, window=parse_window("1mo"))
    )
    table = {str(r["period_start"]): r for r in churn_table(prep).iter_rows(named=True)}
    jan, feb, mar = table["2024-01-01"], table["2024-02-01"], table["2024-03-01"]

    assert jan["revenue"] == 350 and jan["new_revenue"] == 350 and jan["nrr"] is None

    # February against January: x 100 -> 130 (150 less the March return), y 200 -> 80,
    # z 50 -> 0, w new with 30.
    assert feb["revenue"] == pytest.approx(240)
    assert feb["nrr"] == pytest.approx(210 / 350)
    assert feb["grr"] == pytest.approx(180 / 350)
    assert (feb["new_revenue"], feb["expansion"], feb["contraction"]) == (30, 30, 120)
    assert (feb["churned_revenue"], feb["reactivation_revenue"]) == (50, 0)
    assert feb["quick_ratio"] == pytest.approx(60 / 170)
    # Churned in February (active Feb 1, not Mar 1): z, who brought 50 in [Jan 1, Feb 1).
    assert (feb["customers_start"], feb["churned"], feb["lost_revenue"]) == (3, 1, 50)

    # March: x, y and w bring nothing (240 churned); z comes back with 70.
    assert mar["revenue"] == 70
    assert (mar["nrr"], mar["grr"]) == (0.0, 0.0)
    assert (mar["churned_revenue"], mar["reactivation_revenue"]) == (240, 70)
    assert mar["quick_ratio"] == pytest.approx(70 / 240)
    assert (mar["churned"], mar["lost_revenue"]) == (3, 240)


@pytest.mark.parametrize("free_bits", [11, 0])
def test_revenue_bridge_on_integer_keys_is_the_bridge_on_ids(free_bits: int) -> None:
    # Keys with free low bits: revenue per period is grouped and ordered on one word
    # (key and period number); keys without (a hash's low bits): on both columns.
    params = Params(period=Period.month, window=parse_window("1mo"))
    (keyed,) = encode_customers(bridge_orders().collect(), free_bits=free_bits)
    assert keyed is not None
    on_ids = churn_table(prepare_activity(bridge_orders(), params))
    coded = Rows(keyed.lazy(), Holds(keyed=True))
    assert churn_table(prepare_activity(coded, params)).equals(on_ids)


def first_purchase_orders() -> pl.LazyFrame:
    return orders(
        [
            ("f", "2024-01-05", 0, 1, "o1", None),  # a free first order: revenue 0
            ("f", "2024-03-05", 40, 1, "o2", None),
            ("g", "2024-01-20", -15, -1, None, "returned"),  # a return before any purchase
            ("g", "2024-02-03", 60, 1, "o3", None),
            ("h", "2024-02-10", -5, -1, None, "returned"),  # returns only, never a purchase
        ],
        columns=("customer_id", "day", "amount", "quantity", "order_id", "status"),
    )


@pytest.mark.parametrize("free_bits", [None, 11, 0])
def test_new_and_reactivation_revenue_follow_the_first_purchase_not_the_first_revenue(
    free_bits: int | None,
) -> None:
    params = Params(period=Period.month, window=parse_window("1mo"))
    lines = first_purchase_orders()
    if free_bits is not None:  # integer keys, grouped on one word (11) or on two columns
        (keyed,) = encode_customers(lines.collect(), free_bits=free_bits)
        assert keyed is not None
        lines = Rows(keyed.lazy(), Holds(keyed=True))
    table = {
        str(r["period_start"]): r
        for r in churn_table(prepare_activity(lines, params)).iter_rows(named=True)
    }
    jan, feb, mar = table["2024-01-01"], table["2024-02-01"], table["2024-03-01"]
    # January: f's first purchase brings 0; g's return comes before g's first purchase.
    assert (jan["revenue"], jan["new_revenue"], jan["reactivation_revenue"]) == (-15, 0, 0)
    # February: g's first purchase (60) is new although g had a (negative) January; h's
    # return is revenue (-5) but h never purchased.
    assert (feb["revenue"], feb["new_revenue"], feb["reactivation_revenue"]) == (55, 60, 0)
    assert feb["previous_revenue"] == 0 and feb["nrr"] is None
    # March: f comes back (first purchase in January, nothing in February): reactivation,
    # not new, though f's first revenue above 0 is this one; g brings nothing (churned).
    assert (mar["revenue"], mar["new_revenue"], mar["reactivation_revenue"]) == (40, 0, 40)
    assert (mar["previous_revenue"], mar["churned_revenue"]) == (60, 60)


def test_revenue_per_period_is_a_group_by_in_customer_and_period_order() -> None:
    days = [D("2024-01-05"), D("2024-01-20"), D("2024-03-01"), D("2024-02-02"), D("2024-01-31")]
    numbers = PeriodNumbers(D("2024-01-05"), D("2024-03-01"), Period.month)
    for keys in ([3 << 11, 1 << 11, 3 << 11, 1 << 11, 2 << 11], [7, 5, 7, 5, 6]):
        daily = pl.LazyFrame(
            {
                "customer_id": pl.Series(keys, dtype=pl.UInt64),
                "day": days,
                "micros": [1, 2, 3, 4, 5],
                "is_purchase": [True, False, False, True, False],
            }
        )
        expected = (
            daily.group_by("customer_id", numbers.of(pl.col("day")).cast(pl.Int32).alias("ps"))
            .agg(pl.col("micros").sum().alias("raw"), pl.col("is_purchase").any().alias("_hp"))
            .sort("customer_id", "ps")
            .collect()
        )
        free = daily.select(free_key_bits(["customer_id"], keyed=True)).collect().item()
        got = period_sums(
            daily,
            ["customer_id"],
            numbers.of(pl.col("day")),
            numbers.starts.len(),
            has="_hp",
            keyed=True,
            free_bits=free,
        )
        assert got.sort("customer_id", "ps").equals(expected)  # the same rows,
        # each customer's together (customers in any order) and in period order
        assert got["customer_id"].rle_id().max() == got["customer_id"].n_unique() - 1
        periods = got.group_by("customer_id", maintain_order=True).agg("ps")["ps"]
        assert all(p.is_sorted() and p.n_unique() == p.len() for p in periods)


def test_bridge_reconciles_with_revenue_change() -> None:
    prep = prepare_activity(
        bridge_orders(), Params(period=Period.month, window=parse_window("1mo"))
    )
    t = churn_table(prep)
    movement = (
        t["new_revenue"]
        + t["expansion"]
        + t["reactivation_revenue"]
        - t["contraction"]
        - t["churned_revenue"]
    )
    # No customer has negative net revenue in a month here, so the bridge explains the change.
    change = t["revenue"] - t["revenue"].shift(1, fill_value=0.0)
    assert movement.to_list() == pytest.approx(change.to_list())


@pytest.mark.parametrize(
    ("start", "new", "end", "expected"),
    [(1000, 200, 800, 0.60), (100, 20, 110, 0.90), (50000, 1000, 40000, 0.78)],
    ids=["60pct", "90pct", "78pct-not-81"],
)
def test_classic_crr_worked_examples(start: int, new: int, end: int, expected: float) -> None:
    assert classic_crr(start=start, new=new, end=end) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("start", "new", "end", "message"),
    [(-1, 0, 0, "negative"), (0, 0, 5, "no customers at the start"), (10, 8, 5, "more than")],
    ids=["negative", "cs-zero", "cn-above-ce"],
)
def test_classic_crr_errors(start: int, new: int, end: int, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        classic_crr(start=start, new=new, end=end)
