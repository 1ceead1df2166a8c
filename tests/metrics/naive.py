"""A deliberately naive reference: sets of customers per boundary, straight from SPEC §2.1/§2.4.

Slow (customers x boundaries) and obvious, for comparing with the interval algorithm.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import polars as pl

from retcalc.periods import Period, Window, boundaries, window_starts

# Meanings (SPEC "What a row means"): no sale at all; given back (a purchase whose revenue
# is what was not refunded: 0 without a refund figure).
NO_SALE = {"pending", "failed", "cancelled"}
GIVEN_BACK = {"returned", "refunded"}


def _rows(frame: pl.DataFrame) -> list[dict]:
    return frame.to_dicts()


def _is_negative(r: dict) -> bool:
    q, a = r.get("quantity"), r.get("amount")
    return (q is not None and q < 0) or (a is not None and a < 0)


def _is_purchase(r: dict) -> bool:
    status = (r.get("status") or "").strip().lower()
    return not _is_negative(r) and status not in NO_SALE


def naive_tables(
    frame: pl.DataFrame, period: Period, window: Window
) -> tuple[list[dict], list[dict]]:
    rows = _rows(frame)
    purchases: dict[str, set[dt.date]] = defaultdict(set)
    for r in rows:
        if _is_purchase(r):
            purchases[r["customer_id"]].add(r["day"])
    all_days = [d for days in purchases.values() for d in days]
    first_data, last_data = min(all_days), max(all_days)
    bounds = boundaries(first_data, last_data, period).to_list()
    los = None if window.is_all else window_starts(pl.Series(bounds), window).to_list()
    first = {c: min(days) for c, days in purchases.items()}

    def active(j: int) -> set[str]:
        b = bounds[j]
        lo = None if los is None else los[j]
        return {
            c
            for c, days in purchases.items()
            if any((lo is None or d >= lo) and d < b for d in days)
        }

    act = [active(j) for j in range(len(bounds))]
    data_end = last_data + dt.timedelta(days=1)

    # Revenue per customer per calendar period start.
    order_day: dict[str, dt.date] = {}
    for r in rows:
        if _is_purchase(r) and r.get("order_id") is not None:
            order_day[r["order_id"]] = min(order_day.get(r["order_id"], r["day"]), r["day"])
    raw: dict[tuple[str, dt.date], float] = defaultdict(float)
    daily: dict[str, list[tuple[dt.date, float]]] = defaultdict(list)
    for r in rows:
        status = (r.get("status") or "").strip().lower()
        amount = r.get("amount") or 0.0
        if _is_negative(r):
            value, day = -abs(amount), order_day.get(r.get("order_id"), r["day"])
        elif status in NO_SALE or (status in GIVEN_BACK and r.get("refund_amount") is None):
            value, day = 0.0, r["day"]
        else:
            value, day = amount - abs(r.get("refund_amount") or 0.0), r["day"]
        ps = pl.select(pl.lit(day).dt.truncate(period.every)).item()
        raw[(r["customer_id"], ps)] += value
        daily[r["customer_id"]].append((day, value))

    def prev_start(s: dt.date) -> dt.date:
        return pl.select(pl.lit(s).dt.offset_by("-" + period.every)).item()

    def period_of(d: dt.date) -> dt.date:
        return pl.select(pl.lit(d).dt.truncate(period.every)).item()

    retention, churn = [], []
    customers = set(purchases) | {c for c, _ in raw}
    for i in range(len(bounds) - 1):
        s, e = bounds[i], bounds[i + 1]
        cs, ce = act[i], act[i + 1]
        new = {c for c, f in first.items() if s <= f < e}
        retained = cs & ce
        churned = cs - ce
        react = {c for c in ce - cs if first[c] < s}
        new_lost = {c for c in new if c not in ce}
        returning = {c for c in cs if any(s <= d < e for d in purchases[c])}
        n = len(cs)

        def rate(x: int, n: int = n) -> float | None:
            return None if n == 0 else x / n

        lo = None if los is None else los[i]
        complete = e <= data_end and (lo is None or lo >= first_data)
        retention.append(
            {
                "period_start": s,
                "period_end": e,
                "customers_start": n,
                "new_customers": len(new),
                "customers_end": len(ce),
                "retained": len(retained),
                "churned": len(churned),
                "reactivated": len(react),
                "new_lost": len(new_lost),
                "returning": len(returning),
                "crr": rate(len(ce) - len(new)),
                "retention_rate": rate(len(retained)),
                "churn_rate": rate(len(churned)),
                "repeat_rate": rate(len(returning)),
                "complete": complete,
            }
        )
        p = prev_start(s)
        rev = {c: max(0.0, raw.get((c, s), 0.0)) for c in customers}
        prev = {c: max(0.0, raw.get((c, p), 0.0)) for c in customers}
        kept = [c for c in customers if prev[c] > 0]
        before = sum(prev[c] for c in kept)
        moves = {
            "new_revenue": sum(
                rev[c] for c in customers if c in first and period_of(first[c]) == s
            ),
            "expansion": sum(rev[c] - prev[c] for c in kept if rev[c] > prev[c]),
            "contraction": sum(prev[c] - rev[c] for c in kept if 0 < rev[c] < prev[c]),
            "churned_revenue": sum(prev[c] for c in kept if rev[c] == 0),
            "reactivation_revenue": sum(
                rev[c]
                for c in customers
                if prev[c] == 0 and rev[c] > 0 and c in first and period_of(first[c]) < s
            ),
        }
        gain = moves["new_revenue"] + moves["expansion"] + moves["reactivation_revenue"]
        loss = moves["contraction"] + moves["churned_revenue"]
        churn.append(
            {
                "period_start": s,
                "period_end": e,
                "customers_start": n,
                "churned": len(churned),
                "churn_rate": rate(len(churned)),
                "revenue": sum(v for (c, ps), v in raw.items() if ps == s),
                "previous_revenue": before,
                "lost_revenue": sum(
                    v for c in churned for d, v in daily[c] if (lo is None or d >= lo) and d < s
                ),
                "nrr": None if before == 0 else sum(rev[c] for c in kept) / before,
                "grr": None if before == 0 else sum(min(rev[c], prev[c]) for c in kept) / before,
                **moves,
                "quick_ratio": None if loss == 0 else gain / loss,
                "complete": complete,
            }
        )
    return retention, churn
