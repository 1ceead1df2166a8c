"""Self-check of the DuckDB reference (duckdb_ref.py) against hand-computed values.

Every expected number below is worked out by hand in the comments, straight
from the definitions, so that the reference itself is trusted before it is
used to check retcalc's Polars implementation.

Notation: "active at x" with window W means a purchase day d with
x - W <= d < x; CS/CN/CE = customers_start/new_customers/customers_end.
"""

# Expected rows are written as (counts...) + (rates...) for readability.
# ruff: noqa: RUF005

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from .duckdb_ref import (
    CHURN_COLUMNS,
    CHURN_SCHEMA,
    RETENTION_COLUMNS,
    RETENTION_SCHEMA,
    churn_table,
    load_sample_orders,
    retention_table,
)

Row = tuple[str | None, str, float | None, str | None, float | None, str | None]

D = dt.date
NULL = None


def orders(rows: Iterable[Row]) -> pl.DataFrame:
    """(customer_id, order_date, amount, order_id, quantity, status) -> canonical frame."""
    return pl.DataFrame(
        [(c, dt.datetime.fromisoformat(d), a, o, q, s) for c, d, a, o, q, s in rows],
        schema={
            "customer_id": pl.String,
            "order_date": pl.Datetime("us"),
            "amount": pl.Float64,
            "order_id": pl.String,
            "quantity": pl.Float64,
            "status": pl.String,
        },
        orient="row",
    )


def buy(customer: str, when: str, amount: float = 10.0, order_id: str | None = None) -> Row:
    """A plain purchase line."""
    return (customer, when, amount, order_id, 1.0, None)


def check(table: pl.DataFrame, columns: Sequence[str], expected: list[tuple[Any, ...]]) -> None:
    """Compare the given columns row by row; floats approximately, None = null."""
    got = table.select(columns).rows()
    assert len(got) == len(expected), f"{len(got)} rows, expected {len(expected)}:\n{table}"
    for i, (g_row, e_row) in enumerate(zip(got, expected, strict=True)):
        for col, g, e in zip(columns, g_row, e_row, strict=True):
            where = f"row {i} ({g_row[0]}), column {col}: got {g!r}, expected {e!r}"
            if e is None:
                assert g is None, where
            elif isinstance(e, float) and not isinstance(e, bool):
                assert g is not None, where
                assert math.isclose(g, e, rel_tol=1e-12, abs_tol=1e-12), where
            else:
                assert g == e, where


def check_retention_identity(table: pl.DataFrame) -> None:
    """SPEC §2.1: CE = retained + reactivated + CN - new_lost; churned = CS - retained."""
    for r in table.iter_rows(named=True):
        assert r["customers_end"] == (
            r["retained"] + r["reactivated"] + r["new_customers"] - r["new_lost"]
        ), r
        assert r["churned"] == r["customers_start"] - r["retained"], r


def check_bridge_identity(table: pl.DataFrame, p_prev: list[float]) -> None:
    """revenue - Σ_P rev_{k-1} = new + expansion + reactivation - contraction - churned.

    Valid when no customer has net-negative revenue in a period (revenue = Σ rev_k);
    p_prev is the hand-computed Σ_P rev_{k-1} per period.
    """
    for r, prev in zip(table.iter_rows(named=True), p_prev, strict=True):
        movements = (
            r["new_revenue"]
            + r["expansion"]
            + r["reactivation_revenue"]
            - r["contraction"]
            - r["churned_revenue"]
        )
        assert math.isclose(r["revenue"] - prev, movements, abs_tol=1e-9), r


RET_COLS = (
    "period_start",
    "period_end",
    "customers_start",
    "new_customers",
    "customers_end",
    "retained",
    "churned",
    "reactivated",
    "new_lost",
    "returning",
    "crr",
    "retention_rate",
    "churn_rate",
    "repeat_rate",
    "complete",
)


# --------------------------------------------------------------------------- #
# Retention
# --------------------------------------------------------------------------- #
def test_lapse_and_return_same_day_orders_empty_period_and_zero_start() -> None:
    # period=month, W=1mo.
    #   A: 2024-01-10 (two orders the same day), 2024-02-05, lapses in March, 2024-04-20
    #   B: 2024-01-15, 2024-02-20
    #   C: 2024-02-10 (new in Feb)
    #   D: 2024-04-03 (new in Apr)
    #   March has no orders at all.
    # First purchase days: A Jan10, B Jan15, C Feb10, D Apr03.  Grid Jan..Apr.
    # Active at (purchase in [x - 1mo, x)):
    #   Jan01: {}   Feb01: {A,B}   Mar01: {A,B,C}   Apr01: {} (March empty)   May01: {A,D}
    # data_end = Apr20 + 1 = Apr21; first purchase day Jan10.
    # Jan: CS0 CN2(A,B) CE2 ret0 ch0 react0 nl0 returning0; rates NULL (CS=0);
    #      complete: Dec01 < Jan10 -> False
    # Feb: CS2 CN1(C) CE3 ret2 ch0 react0 nl0 returning2 (A Feb05, B Feb20);
    #      crr (3-1)/2=1, ret 1, churn 0, repeat 1; complete: Jan01 < Jan10 -> False
    # Mar: CS3 CN0 CE0 ret0 ch3 react0 nl0 returning0 (empty month);
    #      crr 0/3=0, ret 0, churn 1, repeat 0; complete: Feb01 >= Jan10, Apr01 <= Apr21 -> True
    # Apr: CS0 (nobody bought in March) CN1(D) CE2 ret0 ch0 react1 (A: active at May01,
    #      not at Apr01, first Jan10 < Apr01) nl0 (D active at May01) returning0;
    #      rates NULL; complete: May01 > Apr21 -> False
    data = orders(
        [
            buy("A", "2024-01-10 09:00", order_id="a1"),
            buy("A", "2024-01-10 17:30", order_id="a2"),
            buy("A", "2024-02-05", order_id="a3"),
            buy("A", "2024-04-20", order_id="a4"),
            buy("B", "2024-01-15", order_id="b1"),
            buy("B", "2024-02-20", order_id="b2"),
            buy("C", "2024-02-10", order_id="c1"),
            buy("D", "2024-04-03", order_id="d1"),
        ]
    )
    table = retention_table(data, period="month", window="1mo")
    check(
        table,
        RET_COLS,
        [
            (D(2024, 1, 1), D(2024, 2, 1), 0, 2, 2, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, False),
            (D(2024, 2, 1), D(2024, 3, 1), 2, 1, 3, 2, 0, 0, 0, 2, 1.0, 1.0, 0.0, 1.0, False),
            (D(2024, 3, 1), D(2024, 4, 1), 3, 0, 0, 0, 3, 0, 0, 0, 0.0, 0.0, 1.0, 0.0, True),
            (D(2024, 4, 1), D(2024, 5, 1), 0, 1, 2, 0, 0, 1, 0, 0, NULL, NULL, NULL, NULL, False),
        ],
    )
    check_retention_identity(table)


def test_window_edges_purchase_at_s_minus_w_and_at_s() -> None:
    # period=month, W=30d.  For s = Feb01: s - W = Jan02.
    #   X: 2024-01-02 23:59 -> day Jan02 = s - W exactly -> ACTIVE at Feb01
    #   Z: 2024-01-01       -> day Jan01 < s - W        -> not active at Feb01
    #   Y: 2024-02-01 00:00 -> day Feb01 = s exactly    -> NOT active at Feb01
    #                          (at Mar01: Mar01 - 30d = Jan31 <= Feb01 < Mar01 -> active)
    # Grid Jan..Feb.  Active: Jan01 {}  Feb01 {X}  Mar01 {Y}
    # Jan: CS0 CN2(X,Z) CE1(X) ret0 ch0 react0 nl1 (Z: first in Jan, not active at Feb01)
    #      returning0; rates NULL; complete: Dec02 < Jan01 -> False
    # Feb: CS1(X) CN1(Y) CE1(Y) ret0 ch1 react0 nl0 returning0 (X bought nothing in Feb);
    #      crr (1-1)/1 = 0, ret 0, churn 1, repeat 0;
    #      complete: Jan02 >= Jan01 but e = Mar01 > data_end Feb02 -> False
    data = orders(
        [
            buy("X", "2024-01-02 23:59"),
            buy("Z", "2024-01-01 08:00"),
            buy("Y", "2024-02-01 00:00"),
        ]
    )
    table = retention_table(data, period="month", window="30d")
    check(
        table,
        RET_COLS,
        [
            (D(2024, 1, 1), D(2024, 2, 1), 0, 2, 1, 0, 0, 0, 1, 0, NULL, NULL, NULL, NULL, False),
            (D(2024, 2, 1), D(2024, 3, 1), 1, 1, 1, 0, 1, 0, 0, 0, 0.0, 0.0, 1.0, 0.0, False),
        ],
    )
    check_retention_identity(table)

    # Same data with as_of = 2024-03-01 (no row dropped): data_end = Mar01, so Feb is
    # complete (s - W = Jan02 is not before the first purchase day Jan01, Mar01 <= Mar01).
    table = retention_table(data, period="month", window="30d", as_of=D(2024, 3, 1))
    assert table["complete"].to_list() == [False, True]


def test_as_of_cuts_a_period_and_start_end_extend_the_grid() -> None:
    # period=month, W=all, as_of=2024-03-15.
    #   P: 2024-01-05, 2024-02-10, 2024-03-20 (dropped: >= as_of)
    #   Q: 2024-02-25, 2024-03-01
    #   R: 2024-03-15 00:00 exactly at as_of -> dropped, R does not exist
    # Last purchase day Mar01 -> grid Jan..Mar; data_end = as_of = Mar15.
    # Active (any purchase before x): Jan01 {}  Feb01 {P}  Mar01 {P,Q}  Apr01 {P,Q}
    # Jan: CS0 CN1(P) CE1 ret0 ch0 react0 nl0 returning0; NULL rates;
    #      complete (W=all: only e <= data_end): Feb01 <= Mar15 -> True
    # Feb: CS1 CN1(Q) CE2 ret1 ch0 react0 nl0 returning1 (P Feb10);
    #      crr (2-1)/1 = 1, ret 1, churn 0, repeat 1; complete True
    # Mar: CS2 CN0 (R dropped) CE2 ret2 ch0 react0 nl0 returning1 (Q Mar01; P's Mar20 dropped);
    #      crr 1, ret 1, churn 0, repeat 1/2; complete: Apr01 > Mar15 -> False
    data = orders(
        [
            buy("P", "2024-01-05"),
            buy("P", "2024-02-10"),
            buy("P", "2024-03-20"),
            buy("Q", "2024-02-25"),
            buy("Q", "2024-03-01"),
            buy("R", "2024-03-15 00:00"),
        ]
    )
    table = retention_table(data, period="month", window="all", as_of=D(2024, 3, 15))
    check(
        table,
        RET_COLS,
        [
            (D(2024, 1, 1), D(2024, 2, 1), 0, 1, 1, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, True),
            (D(2024, 2, 1), D(2024, 3, 1), 1, 1, 2, 1, 0, 0, 0, 1, 1.0, 1.0, 0.0, 1.0, True),
            (D(2024, 3, 1), D(2024, 4, 1), 2, 0, 2, 2, 0, 0, 0, 1, 1.0, 1.0, 0.0, 0.5, False),
        ],
    )
    check_retention_identity(table)

    # start=2023-12-15, end=2024-04-30 -> grid = Dec 2023 .. Apr 2024.
    # Dec: nothing at all -> zeros, NULL rates; complete: Jan01 <= Mar15 -> True.
    # Apr: CS2 (P,Q active at Apr01) CN0 CE2 ret2 returning0; crr 1, ret 1, churn 0,
    #      repeat 0; complete: May01 > Mar15 -> False.  Jan..Mar unchanged.
    wide = retention_table(
        data,
        period="month",
        window="all",
        start="2023-12-15",
        end=D(2024, 4, 30),
        as_of="2024-03-15",
    )
    check(
        wide,
        RET_COLS,
        [
            (D(2023, 12, 1), D(2024, 1, 1), 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, True),
            *[tuple(r) for r in table.rows()],
            (D(2024, 4, 1), D(2024, 5, 1), 2, 0, 2, 2, 0, 0, 0, 0, 1.0, 1.0, 0.0, 0.0, False),
        ],
    )


def test_weeks_across_year_end() -> None:
    # period=week (Monday start), W=1w (7 days), as_of=2025-01-13 (drops nothing).
    # 2024-12-30 is a Monday, so the week of 2025-01-01 is [2024-12-30, 2025-01-06).
    #   M: Fri 2024-12-27, Tue 2024-12-31, Mon 2025-01-06
    #   N: Wed 2025-01-01, Thu 2025-01-02
    #   O: Mon 2024-12-30 (first day of the year-crossing week)
    # Grid: weeks starting Dec23, Dec30, Jan06.  First purchase day Dec27, data_end Jan13.
    # Active (purchase in [x-7d, x)):
    #   Dec23: {}   Dec30: {M}   Jan06: {M,N,O}   Jan13: {M}
    # [Dec23,Dec30): CS0 CN1(M) CE1 ret0 ch0 react0 nl0 returning0; NULL rates;
    #                complete: Dec16 < Dec27 -> False
    # [Dec30,Jan06): CS1 CN2(N,O) CE3 ret1 ch0 react0 nl0 returning1 (M Dec31);
    #                crr (3-2)/1=1, ret 1, churn 0, repeat 1; complete: Dec23 < Dec27 -> False
    # [Jan06,Jan13): CS3 CN0 CE1 ret1 ch2 (N,O) react0 nl0 returning1 (M Jan06);
    #                crr 1/3, ret 1/3, churn 2/3, repeat 1/3;
    #                complete: Dec30 >= Dec27 and Jan13 <= Jan13 -> True
    data = orders(
        [
            buy("M", "2024-12-27"),
            buy("M", "2024-12-31"),
            buy("M", "2025-01-06"),
            buy("N", "2025-01-01"),
            buy("N", "2025-01-02"),
            buy("O", "2024-12-30"),
        ]
    )
    table = retention_table(data, period="week", window="1w", as_of=D(2025, 1, 13))
    third = 1.0 / 3.0
    check(
        table,
        RET_COLS,
        [
            (D(2024, 12, 23), D(2024, 12, 30), 0, 1, 1, 0, 0, 0, 0, 0)
            + (NULL, NULL, NULL, NULL, False),
            (D(2024, 12, 30), D(2025, 1, 6), 1, 2, 3, 1, 0, 0, 0, 1) + (1.0, 1.0, 0.0, 1.0, False),
            (D(2025, 1, 6), D(2025, 1, 13), 3, 0, 1, 1, 2, 0, 0, 1)
            + (third, third, 2 * third, third, True),
        ],
    )
    check_retention_identity(table)


def test_day_quarter_and_year_periods() -> None:
    # period=day, W=2d.  U: Jun01, Jun03 (Jun02 has no orders).  data_end Jun04.
    # Active: Jun01 {}  Jun02 {U}  Jun03 {U} (Jun01 in [Jun01,Jun03))  Jun04 {U} (Jun03)
    # Jun01: CS0 CN1 CE1; NULL rates; complete: May30 < Jun01 -> False
    # Jun02: CS1 CN0 CE1 ret1 returning0; crr 1 ret 1 churn 0 repeat 0; May31 < Jun01 -> False
    # Jun03: CS1 CN0 CE1 ret1 returning1; repeat 1; Jun01 >= Jun01, Jun04 <= Jun04 -> True
    data = orders([buy("U", "2024-06-01"), buy("U", "2024-06-03")])
    table = retention_table(data, period="day", window="2d")
    check(
        table,
        RET_COLS,
        [
            (D(2024, 6, 1), D(2024, 6, 2), 0, 1, 1, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, False),
            (D(2024, 6, 2), D(2024, 6, 3), 1, 0, 1, 1, 0, 0, 0, 0, 1.0, 1.0, 0.0, 0.0, False),
            (D(2024, 6, 3), D(2024, 6, 4), 1, 0, 1, 1, 0, 0, 0, 1, 1.0, 1.0, 0.0, 1.0, True),
        ],
    )

    # U: 2023-11-15, 2024-02-10.  data_end 2024-02-11.
    # quarter, W=all: Q4-2023 [Oct01, Jan01): CS0 CN1 CE1; complete Jan01 <= Feb11 -> True
    #                 Q1-2024 [Jan01, Apr01): CS1 CE1 ret1 returning1; Apr01 > Feb11 -> False
    data = orders([buy("U", "2023-11-15"), buy("U", "2024-02-10")])
    check(
        retention_table(data, period="quarter", window="all"),
        ("period_start", "period_end", "customers_start", "new_customers", "customers_end")
        + ("retained", "returning", "repeat_rate", "complete"),
        [
            (D(2023, 10, 1), D(2024, 1, 1), 0, 1, 1, 0, 0, NULL, True),
            (D(2024, 1, 1), D(2024, 4, 1), 1, 0, 1, 1, 1, 1.0, False),
        ],
    )
    # year, W=1y (12 months): active at 2024-01-01 needs a day in [2023-01-01, 2024-01-01)
    # -> Nov15 yes; at 2025-01-01 needs [2024-01-01, 2025-01-01) -> Feb10 yes.
    # 2023: CS0 CN1 CE1; complete: 2022-01-01 < 2023-11-15 -> False
    # 2024: CS1 CE1 ret1 returning1; complete: 2023-01-01 < 2023-11-15 -> False
    check(
        retention_table(data, period="year", window="1y"),
        ("period_start", "period_end", "customers_start", "new_customers", "customers_end")
        + ("retained", "returning", "repeat_rate", "complete"),
        [
            (D(2023, 1, 1), D(2024, 1, 1), 0, 1, 1, 0, 0, NULL, False),
            (D(2024, 1, 1), D(2025, 1, 1), 1, 0, 1, 1, 1, 1.0, False),
        ],
    )


# --------------------------------------------------------------------------- #
# Returns, cancellations and revenue
# --------------------------------------------------------------------------- #
CHURN_COLS = (
    "period_start",
    "customers_start",
    "churned",
    "churn_rate",
    "revenue",
    "lost_revenue",
    "nrr",
    "grr",
    "new_revenue",
    "expansion",
    "contraction",
    "churned_revenue",
    "reactivation_revenue",
    "quick_ratio",
    "complete",
)


def test_cancelled_order_and_return_netted_into_original_month() -> None:
    # period=month, W=1mo.
    #   E: 2024-03-05 status 'Cancelled' amount 100 -> a RETURN row: never active, never
    #      new, contributes 0, and does not stretch the grid to March.
    #   F: 2024-01-20 order f1, qty 2, amount 200, status 'completed'    -> purchase, +200
    #      2024-02-03 order f1, qty -1, amount -50 (return line of f1)    -> -50 dated Jan20
    #      2024-02-10 order f2, amount 80                                 -> purchase, +80
    #      2024-02-12 order f3, amount 500, status 'REFUNDED'             -> 0, not a purchase
    #      2024-02-15 order f9, qty -1, amount -30 (f9 has no purchase)   -> -30 dated Feb15
    # Purchase days: F Jan20, Feb10.  Grid Jan..Feb.  Active: Jan01 {} Feb01 {F} Mar01 {F}
    # Retention:
    #   Jan: CS0 CN1 CE1 ...; NULL rates; complete: Dec01 < Jan20 -> False
    #   Feb: CS1 CN0 CE1 ret1 ch0 returning1; all rates 1/1/0/1; Jan01 < Jan20 -> False
    # Revenue by revenue date: Jan = 200 - 50 = 150; Feb = 80 + 0 - 30 = 50.
    #   rev(F): Dec 0, Jan 150, Feb 50.
    #   Jan: P = {} -> nrr/grr NULL; new_revenue 150 (F first in Jan); QR denominator 0 -> NULL
    #   Feb: P = {F}; nrr = 50/150 = 1/3, grr = min(50,150)/150 = 1/3; contraction 100;
    #        QR = (0 + 0 + 0)/(100 + 0) = 0; churned 0 -> lost_revenue 0
    data = orders(
        [
            ("E", "2024-03-05 10:00", 100.0, "e1", 1.0, "Cancelled"),
            ("F", "2024-01-20 09:30", 200.0, "f1", 2.0, "completed"),
            ("F", "2024-02-03 11:00", -50.0, "f1", -1.0, None),
            ("F", "2024-02-10 12:00", 80.0, "f2", 1.0, None),
            ("F", "2024-02-12 12:00", 500.0, "f3", 1.0, "REFUNDED"),
            ("F", "2024-02-15 13:00", -30.0, "f9", -1.0, None),
        ]
    )
    ret = retention_table(data, period="month", window="1mo")
    check(
        ret,
        RET_COLS,
        [
            (D(2024, 1, 1), D(2024, 2, 1), 0, 1, 1, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, False),
            (D(2024, 2, 1), D(2024, 3, 1), 1, 0, 1, 1, 0, 0, 0, 1, 1.0, 1.0, 0.0, 1.0, False),
        ],
    )
    churn = churn_table(data, period="month", window="1mo")
    third = 1.0 / 3.0
    check(
        churn,
        CHURN_COLS,
        [
            (D(2024, 1, 1), 0, 0, NULL, 150.0, 0.0, NULL, NULL)
            + (150.0, 0.0, 0.0, 0.0, 0.0, NULL, False),
            (D(2024, 2, 1), 1, 0, 0.0, 50.0, 0.0, third, third)
            + (0.0, 0.0, 100.0, 0.0, 0.0, 0.0, False),
        ],
    )

    # A cancelled order alone makes nobody active: the grid is empty.
    only_cancelled = orders([("E", "2024-03-05", 100.0, "e1", 1.0, "cancelled")])
    assert retention_table(only_cancelled, period="month", window="1mo").height == 0
    # ... and with an explicit range every period is all zeros.
    ranged = retention_table(
        only_cancelled, period="month", window="1mo", start="2024-03-01", end="2024-03-31"
    )
    check(
        ranged,
        RET_COLS,
        [(D(2024, 3, 1), D(2024, 4, 1), 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, False)],
    )


BRIDGE = [
    # G: expansion in Feb, churns in Mar, reactivates in Apr
    buy("G", "2024-01-05", 100.0, "g1"),
    buy("G", "2024-02-05", 150.0, "g2"),
    buy("G", "2024-04-05", 60.0, "g3"),
    # H: contraction in Feb, flat in Mar, churns in Apr
    buy("H", "2024-01-10", 200.0, "h1"),
    buy("H", "2024-02-10", 120.0, "h2"),
    buy("H", "2024-03-10", 120.0, "h3"),
    # I: new in Feb, expansion in Mar, contraction in Apr
    buy("I", "2024-02-15", 70.0, "i1"),
    buy("I", "2024-03-15", 100.0, "i2"),
    buy("I", "2024-04-15", 40.0, "i3"),
]


def test_revenue_bridge_three_customers() -> None:
    # period=month, W=1mo.  Monthly revenue (rev):
    #        Dec  Jan  Feb  Mar  Apr
    #   G     0   100  150    0   60
    #   H     0   200  120  120    0
    #   I     0     0   70  100   40
    # Activity (W=1mo): Jan01 {} Feb01 {G,H} Mar01 {G,H,I} Apr01 {H,I} May01 {G,I}
    # Jan: P={} -> nrr/grr NULL; new = 100 + 200 = 300; QR NULL (denominator 0);
    #      CS0 -> churn_rate NULL; revenue 300
    # Feb: P={G,H}, Σprev = 300; nrr = (150+120)/300 = 0.9; grr = (100+120)/300 = 11/15;
    #      new = I 70; expansion = G 50; contraction = H 80; churned_rev 0; react 0;
    #      QR = (70+50)/80 = 1.5; CS 2, churned 0 -> 0.0; revenue 340
    # Mar: P={G,H,I}, Σprev = 340; nrr = (0+120+100)/340 = 11/17; grr = (0+120+70)/340 = 19/34;
    #      expansion = I 30; churned_rev = G 150; QR = 30/150 = 0.2;
    #      CS 3, churned 1 (G) -> 1/3; lost_revenue = G's revenue in [Feb01, Mar01) = 150;
    #      revenue 220
    # Apr: P={H,I}, Σprev = 220; nrr = (0+40)/220 = 2/11; grr = (0+40)/220 = 2/11;
    #      contraction = I 60; churned_rev = H 120; reactivation = G 60 (rev_Mar 0, first Jan);
    #      QR = 60/(60+120) = 1/3; CS 2, churned 1 (H) -> 0.5;
    #      lost_revenue = H's revenue in [Mar01, Apr01) = 120; revenue 100
    # complete (first day Jan05, data_end Apr16): Jan F, Feb F (Jan01 < Jan05), Mar T, Apr F
    data = orders(BRIDGE)
    table = churn_table(data, period="month", window="1mo")
    check(
        table,
        CHURN_COLS,
        [
            (D(2024, 1, 1), 0, 0, NULL, 300.0, 0.0, NULL, NULL)
            + (300.0, 0.0, 0.0, 0.0, 0.0, NULL, False),
            (D(2024, 2, 1), 2, 0, 0.0, 340.0, 0.0, 0.9, 11 / 15)
            + (70.0, 50.0, 80.0, 0.0, 0.0, 1.5, False),
            (D(2024, 3, 1), 3, 1, 1 / 3, 220.0, 150.0, 11 / 17, 19 / 34)
            + (0.0, 30.0, 0.0, 150.0, 0.0, 0.2, True),
            (D(2024, 4, 1), 2, 1, 0.5, 100.0, 120.0, 2 / 11, 2 / 11)
            + (0.0, 0.0, 60.0, 120.0, 60.0, 1 / 3, False),
        ],
    )
    check_bridge_identity(table, [0.0, 300.0, 340.0, 220.0])

    # customers_start / churned agree with the retention table.
    ret = retention_table(data, period="month", window="1mo")
    assert ret.select("period_start", "customers_start", "churned", "churn_rate").equals(
        table.select("period_start", "customers_start", "churned", "churn_rate")
    )

    # k-1 is the calendar period before k even before the grid start: starting the grid
    # in February still compares February with January, so the rows are unchanged
    # (except Feb's `complete`, which does not depend on the grid either).
    from_feb = churn_table(data, period="month", window="1mo", start="2024-02-01")
    assert from_feb.equals(table.filter(pl.col("period_start") >= D(2024, 2, 1)))


def test_lost_revenue_uses_unfloored_trailing_window() -> None:
    # period=month, W=2mo, as_of=2024-05-01 (drops nothing; data_end = May01).
    #   J: 2024-01-10 j1 +100; 2024-02-20 j9 qty -1 amount -30 (no purchase row for j9 ->
    #      dated Feb20; a return row, so J's only purchase day is Jan10)
    #   K: 2024-02-01 k1 +50; 2024-04-10 k2 +50
    # Active (purchase in [x-2mo, x)):
    #   Jan01 {}  Feb01 {J}  Mar01 {J,K}  Apr01 {K}  May01 {K}
    # rev (floored):   Dec Jan Feb Mar Apr        unfloored Feb for J: -30
    #   J               0  100   0   0   0
    #   K               0    0  50   0  50
    # Jan: CS0 -> churn_rate NULL; revenue 100; P={} -> NULL; new 100 (J); QR NULL
    # Feb: CS1 (J) CE {J,K} -> churned 0, rate 0; revenue 50 - 30 = 20 (unfloored);
    #      P={J}: nrr = 0/100 = 0, grr 0; new = K 50; churned_rev = J 100; QR = 50/100 = 0.5
    # Mar: CS2 {J,K}, CE {K} -> churned 1 (J), rate 0.5; revenue 0;
    #      lost_revenue = J's UNFLOORED revenue in [Jan01, Mar01) = 100 - 30 = 70
    #      (a floored per-month sum would give 100);
    #      P={K}: nrr 0, grr 0, churned_rev 50, QR = 0/50 = 0
    # Apr: CS1 {K}, CE {K} -> churned 0, rate 0; revenue 50; P={} -> nrr/grr NULL;
    #      reactivation = K 50 (rev_Mar 0, first Feb01 < Apr01); QR NULL (denominator 0)
    # complete (first day Jan10): Jan F (Nov01), Feb F (Dec01), Mar F (Jan01 < Jan10),
    #      Apr: Feb01 >= Jan10 and May01 <= May01 -> T
    data = orders(
        [
            ("J", "2024-01-10", 100.0, "j1", 1.0, None),
            ("J", "2024-02-20", -30.0, "j9", -1.0, None),
            ("K", "2024-02-01", 50.0, "k1", 1.0, None),
            ("K", "2024-04-10", 50.0, "k2", 1.0, None),
        ]
    )
    table = churn_table(data, period="month", window="2mo", as_of=D(2024, 5, 1))
    check(
        table,
        CHURN_COLS,
        [
            (D(2024, 1, 1), 0, 0, NULL, 100.0, 0.0, NULL, NULL)
            + (100.0, 0.0, 0.0, 0.0, 0.0, NULL, False),
            (D(2024, 2, 1), 1, 0, 0.0, 20.0, 0.0, 0.0, 0.0)
            + (50.0, 0.0, 0.0, 100.0, 0.0, 0.5, False),
            (D(2024, 3, 1), 2, 1, 0.5, 0.0, 70.0, 0.0, 0.0)
            + (0.0, 0.0, 0.0, 50.0, 0.0, 0.0, False),
            (D(2024, 4, 1), 1, 0, 0.0, 50.0, 0.0, NULL, NULL)
            + (0.0, 0.0, 0.0, 0.0, 50.0, NULL, True),
        ],
    )


def test_return_by_quantity_or_amount_and_null_handling() -> None:
    # period=month, W=all.
    #   S: 2024-01-05 s1 qty 2 amount 40 -> purchase +40
    #      2024-02-07 s1 qty -1 amount +15 (positive amount, negative quantity) -> -abs(15)
    #                 = -15, dated at s1's purchase day Jan05
    #      2024-02-08 s2 qty NULL amount NULL status NULL -> purchase with contribution 0
    #                 (NULL is not negative) -> makes S returning in Feb
    #   T: 2024-02-09 t1 qty 1 amount -5 (negative amount) -> a return row: T never active
    # Jan: revenue 40 - 15 = 25 (return netted into January); new_revenue 25
    # Feb: revenue 0 + (-5) = -5 (unfloored, T's row on its own date);
    #      P={S} (rev_Jan 25): rev_Feb(S) = 0 -> nrr 0, churned_revenue 25; QR 0/25 = 0
    #      customers_start 1 (S), churned 0 (W=all)
    data = orders(
        [
            ("S", "2024-01-05", 40.0, "s1", 2.0, None),
            ("S", "2024-02-07", 15.0, "s1", -1.0, None),
            ("S", "2024-02-08", None, "s2", None, None),
            ("T", "2024-02-09", -5.0, "t1", 1.0, None),
        ]
    )
    ret = retention_table(data, period="month", window="all")
    check(
        ret,
        ("period_start", "customers_start", "new_customers", "customers_end", "returning"),
        [(D(2024, 1, 1), 0, 1, 1, 0), (D(2024, 2, 1), 1, 0, 1, 1)],
    )
    churn = churn_table(data, period="month", window="all")
    check(
        churn,
        ("period_start", "revenue", "new_revenue", "nrr", "churned_revenue", "quick_ratio"),
        [(D(2024, 1, 1), 25.0, 25.0, NULL, 0.0, NULL), (D(2024, 2, 1), -5.0, 0.0, 0.0, 25.0, 0.0)],
    )


def test_fully_returned_order_nets_to_exactly_zero() -> None:
    # period=month, W=1mo.  W's order w1 has lines 0.10 and 0.20 on Jan03 and one return
    # line -0.30 on Jan15 (dated Jan03 via w1).  Net January revenue is exactly 0; in
    # DOUBLE, 0.1 + 0.2 - 0.3 = 5.55e-17 > 0, which flooring would keep as a tiny positive
    # revenue and put W into February's NRR population.  The reference sums exactly.
    #   Feb05: W buys 10 (order w2).
    # Jan: revenue 0, new_revenue 0 (W is new, rev 0), P={} -> nrr NULL, QR NULL
    # Feb: rev_Jan(W) = 0 -> P={} -> nrr/grr NULL; reactivation = 10 (rev_Jan 0, rev_Feb 10,
    #      first purchase Jan03 < Feb01); QR denominator 0 -> NULL; CS1 (Jan03), churned 0
    data = orders(
        [
            ("W", "2024-01-03 10:00", 0.10, "w1", 1.0, None),
            ("W", "2024-01-03 10:00", 0.20, "w1", 1.0, None),
            ("W", "2024-01-15 16:00", -0.30, "w1", -1.0, "returned"),
            ("W", "2024-02-05 09:00", 10.0, "w2", 1.0, None),
        ]
    )
    table = churn_table(data, period="month", window="1mo")
    check(
        table,
        CHURN_COLS,
        [
            (D(2024, 1, 1), 0, 0, NULL, 0.0, 0.0, NULL, NULL)
            + (0.0, 0.0, 0.0, 0.0, 0.0, NULL, False),
            (D(2024, 2, 1), 1, 0, 0.0, 10.0, 0.0, NULL, NULL)
            + (0.0, 0.0, 0.0, 0.0, 10.0, NULL, False),
        ],
    )
    assert table["revenue"][0] == 0.0  # exactly, not 5.55e-17


# --------------------------------------------------------------------------- #
# Shape, validation, loading
# --------------------------------------------------------------------------- #
def test_output_schema_and_empty_input() -> None:
    data = orders(BRIDGE)
    assert retention_table(data, period="month", window="12mo").schema == pl.Schema(
        RETENTION_SCHEMA
    )
    assert churn_table(data, period="month", window="12mo").schema == pl.Schema(CHURN_SCHEMA)
    assert tuple(RETENTION_SCHEMA) == RETENTION_COLUMNS
    assert tuple(CHURN_SCHEMA) == CHURN_COLUMNS

    empty = orders([])
    for fn, schema in ((retention_table, RETENTION_SCHEMA), (churn_table, CHURN_SCHEMA)):
        out = fn(empty, period="month", window="all")
        assert out.height == 0
        assert out.schema == pl.Schema(schema)


def test_blank_customer_ids_are_dropped_and_optional_columns_may_be_missing() -> None:
    # Rows with an empty/NULL customer id are dropped (SPEC §1); a frame with only
    # customer_id and order_date works (amount/order_id/quantity/status become NULL).
    data = orders(
        [
            buy("A", "2024-01-10"),
            ("", "2024-01-11", 10.0, None, 1.0, None),
            ("  ", "2024-01-12", 10.0, None, 1.0, None),
            (None, "2024-01-13", 10.0, None, 1.0, None),
        ]
    )
    assert retention_table(data, period="month", window="all")["new_customers"].to_list() == [1]
    minimal = data.select("customer_id", "order_date")
    assert retention_table(minimal, period="month", window="all")["new_customers"].to_list() == [1]
    assert churn_table(minimal, period="month", window="all")["revenue"].to_list() == [0.0]


@pytest.mark.parametrize(
    ("period", "window"),
    [("fortnight", "1mo"), ("month", "12"), ("month", "0d"), ("month", "3m"), ("month", "")],
)
def test_bad_parameters_raise(period: str, window: str) -> None:
    with pytest.raises(ValueError):
        retention_table(orders(BRIDGE), period=period, window=window)


def test_load_sample_orders(tmp_path: Path) -> None:
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "order_id,customer_id,order_date,product_id,quantity,amount,status,channel\n"
        "O1,00123,2023-01-05 14:03:00,P1,2,19.98,completed,web\n"
        "O1,00123,2023-01-20 09:00:00,P1,-1,-9.99,returned,web\n"
        "O2,C2,2023-02-01 00:00:00,P2,1,5.00,,store\n"
    )
    loaded = load_sample_orders(csv)
    assert loaded.schema == pl.Schema(
        {
            "customer_id": pl.String(),
            "order_date": pl.Datetime("us"),
            "amount": pl.Float64(),
            "order_id": pl.String(),
            "quantity": pl.Float64(),
            "status": pl.String(),
        }
    )
    assert loaded.rows() == [
        ("00123", dt.datetime(2023, 1, 5, 14, 3), 19.98, "O1", 2.0, "completed"),
        ("00123", dt.datetime(2023, 1, 20, 9, 0), -9.99, "O1", -1.0, "returned"),
        ("C2", dt.datetime(2023, 2, 1), 5.0, "O2", 1.0, None),
    ]
    # Jan revenue = 19.98 - 9.99 (return netted into O1's January) = 9.99; Feb = 5.
    churn = churn_table(loaded, period="month", window="all")
    assert churn["revenue"].to_list() == pytest.approx([9.99, 5.0])

    with pytest.raises(FileNotFoundError):
        load_sample_orders(tmp_path / "missing.csv")
