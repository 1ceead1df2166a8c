"""Kaplan-Meier, its intervals, the median and the log-rank test against lifelines
(a test-only dependency), on generated data with ties, censoring and delayed entry,
per group; and the lifetimes of both bases built from dates by the rules of
docs/survival.md, written out here in plain Python."""

from __future__ import annotations

import calendar
import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

import retcalc
from retcalc.metrics import survival as km

lifelines = pytest.importorskip("lifelines")
from lifelines import KaplanMeierFitter  # noqa: E402
from lifelines.statistics import logrank_test, multivariate_logrank_test  # noqa: E402
from lifelines.utils import median_survival_times  # noqa: E402

TOL = 1e-9


def generated(seed: int, n: int, groups: int, *, truncated: float) -> pl.DataFrame:
    """Lifetimes with many ties (days 0-80), about a third censored, and a share
    ``truncated`` entering late (entry 1-30, days > entry)."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 81, n)
    late = rng.random(n) < truncated
    entry = np.where(late, rng.integers(1, 31, n), 0)
    days = np.where(late & (days <= entry), entry + 1 + rng.integers(0, 40, n), days)
    return pl.DataFrame(
        {
            "group": rng.integers(0, groups, n).astype(str),
            "entry": entry,
            "days": days,
            "event": rng.random(n) < 0.65,
        }
    )


def fitted(frame: pl.DataFrame, level: float) -> KaplanMeierFitter:
    return KaplanMeierFitter(alpha=1 - level).fit(
        frame["days"].to_numpy(), frame["event"].to_numpy(), entry=frame["entry"].to_numpy()
    )


def compare_curves(table: pl.DataFrame, data: pl.DataFrame, keys: list[str], level: float) -> float:
    """Every row of ``table`` against lifelines fitted on each group; the largest
    difference of survival and its bounds."""
    worst = 0.0
    names = data.select(keys).unique().rows() if keys else [()]
    for name in names:
        where = [pl.col(k).eq_missing(v) for k, v in zip(keys, name, strict=True)]
        mine = table.filter(*where) if keys else table
        kmf = fitted(data.filter(*where) if keys else data, level)
        events = kmf.event_table
        # the days on which a lifetime ends are the rows, and only they
        assert mine["days"].to_list() == [int(t) for t in events.index[events["removed"] > 0]]
        first = events.index[0]
        times = mine["days"].to_numpy()
        # lifelines' population at t: entered up to t (after t's events but on the first
        # day), less those removed before t
        entered = np.where(times == first, 0, events.loc[times, "entrance"].to_numpy())
        assert mine["at_risk"].to_list() == list(events.loc[times, "at_risk"] - entered)
        assert mine["events"].to_list() == list(events.loc[times, "observed"])
        assert mine["censored"].to_list() == list(events.loc[times, "censored"])
        lower, upper = kmf.confidence_interval_.columns
        for column, theirs in (
            ("survival", kmf.survival_function_.iloc[:, 0]),
            ("survival_lo", kmf.confidence_interval_[lower]),
            ("survival_hi", kmf.confidence_interval_[upper]),
        ):
            diff = np.abs(mine[column].to_numpy() - theirs.loc[times].to_numpy())
            worst = max(worst, float(diff.max()))
        median = km.medians(mine, ()).row(0)
        theirs_median = [
            kmf.median_survival_time_,
            *median_survival_times(kmf.confidence_interval_).iloc[0],
        ]
        assert list(median) == [None if math.isinf(t) else int(t) for t in theirs_median]
    return worst


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
@pytest.mark.parametrize(
    ("seed", "n", "groups", "truncated"),
    [(1, 40, 1, 0.0), (2, 300, 1, 0.3), (3, 600, 3, 0.25), (4, 2000, 4, 0.4), (5, 150, 2, 0.0)],
    ids=["small", "truncated", "three-groups", "large", "two-groups"],
)
def test_curve_matches_lifelines_at_every_day(
    seed: int, n: int, groups: int, truncated: float, level: float
) -> None:
    data = generated(seed, n, groups, truncated=truncated)
    keys = ["group"] if groups > 1 else []
    table = km.kaplan_meier(data, keys, level=level)
    assert compare_curves(table, data, keys, level) < TOL


@pytest.mark.parametrize(("seed", "groups"), [(11, 2), (12, 3), (13, 5)])
def test_logrank_matches_lifelines(seed: int, groups: int) -> None:
    data = generated(seed, 800, groups, truncated=0.0)
    test = km.logrank(data, ["group"])
    assert test is not None
    theirs = multivariate_logrank_test(
        data["days"].to_numpy(), data["group"].to_numpy(), data["event"].to_numpy()
    )
    assert test.df == groups - 1
    assert test.chi2 == pytest.approx(theirs.test_statistic, abs=TOL)
    assert test.p == pytest.approx(theirs.p_value, abs=TOL)
    if groups == 2:
        a, b = (data.filter(pl.col("group") == g) for g in ("0", "1"))
        pair = logrank_test(a["days"], b["days"], a["event"], b["event"])
        assert test.chi2 == pytest.approx(pair.test_statistic, abs=TOL)


def naive_logrank(data: pl.DataFrame) -> float:
    """The log-rank statistic by its definition, one day and one lifetime at a time,
    with risk sets ``entry < t <= days`` (entry 0: from day 0)."""
    rows = data.rows(named=True)
    names = sorted({r["group"] for r in rows})
    k = len(names)
    observed_minus_expected = np.zeros(k)
    cov = np.zeros((k, k))
    for t in sorted({r["days"] for r in rows if r["event"]}):
        n_g = np.array(
            [
                sum(
                    1
                    for r in rows
                    if r["group"] == g and (r["entry"] < t or r["entry"] == 0) and t <= r["days"]
                )
                for g in names
            ],
            dtype=float,
        )
        d_g = np.array(
            [
                sum(1 for r in rows if r["group"] == g and r["days"] == t and r["event"])
                for g in names
            ],
            dtype=float,
        )
        n, d = n_g.sum(), d_g.sum()
        observed_minus_expected += d_g - n_g * d / n
        if n > 1:
            p = n_g / n
            cov += d * (n - d) / (n - 1) * (np.diag(p) - np.outer(p, p))
    u = observed_minus_expected[:-1]
    return float(u @ np.linalg.inv(cov[:-1, :-1]) @ u)


def test_logrank_with_delayed_entry_by_its_definition() -> None:
    data = generated(21, 300, 3, truncated=0.4)
    test = km.logrank(data, ["group"])
    assert test is not None
    assert test.chi2 == pytest.approx(naive_logrank(data), abs=TOL)


# Lifetimes from dates, by the rules of docs/survival.md, in plain Python.


def months_back(x: dt.date, months: int) -> dt.date:
    """x - months, the day clamped to the month's length (Polars' offset_by)."""
    index = x.year * 12 + x.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(x.day, last))


def reach(d: dt.date, back: object) -> dt.date:
    """The last x with back(x) <= d."""
    x = d
    while back(x + dt.timedelta(days=1)) <= d:  # type: ignore[operator]
        x += dt.timedelta(days=1)
    return x


def expected_lifetime(
    origin: dt.date, lapse: dt.date | None, start: dt.date, end: dt.date
) -> tuple[int, int, bool] | None:
    """(entry, days, event), or None when the lifetime is left out."""
    event = lapse is not None and lapse < end
    days = ((lapse if event else end) - origin).days  # type: ignore[operator]
    entry = (start - origin).days if origin < start else 0
    if entry > 0 and days <= entry:
        return None
    return entry, days, event


def random_day(rng: np.random.Generator, first: dt.date, span: int) -> dt.date:
    return first + dt.timedelta(days=int(rng.integers(0, span)))


@pytest.mark.parametrize("start", [None, "2023-04-01"])
def test_subscription_basis_from_dates_matches_lifelines(start: str | None) -> None:
    rng = np.random.default_rng(7)
    n = 700
    first = dt.date(2023, 1, 1)
    signups = [random_day(rng, first, 400) for _ in range(n)]
    churns = [
        None if rng.random() < 0.3 else s + dt.timedelta(days=int(rng.integers(0, 200)))
        for s in signups
    ]
    people = pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "signup_date": signups,
            "churn_date": churns,
            "segment": rng.choice(["a", "b", "c"], n).tolist(),
        }
    )
    orders = pl.DataFrame({"customer_id": ["c0"], "order_date": [dt.date(2023, 1, 1)]})
    as_of = dt.date(2024, 1, 15)
    fit = retcalc.survival_fit(orders, customers=people, as_of=as_of, start=start, by="segment")
    begin = dt.date.fromisoformat(start) if start else dt.date(2023, 1, 1)
    rows = []
    for segment, s, c in zip(people["segment"], signups, churns, strict=True):
        if s >= as_of:
            continue
        found = expected_lifetime(s, c, begin, as_of)
        if found is not None:
            rows.append((segment, *found))
    expected = pl.DataFrame(rows, schema=["segment", "entry", "days", "event"], orient="row")
    assert fit.truncated == (expected["entry"] > 0).sum()
    assert (fit.truncated > 0) == (start is not None)
    counted = fit.lifetimes.filter("counted").select("segment", "entry", "days", "event")
    assert sorted(counted.rows()) == sorted(expected.rows())
    assert compare_curves(fit.table, expected, ["segment"], 0.95) < TOL


@pytest.mark.parametrize(
    ("window", "back"),
    [
        ("30d", lambda x: x - dt.timedelta(days=30)),
        ("2mo", lambda x: months_back(x, 2)),
    ],
    ids=["30d", "2mo"],
)
def test_activity_basis_from_dates_matches_lifelines(window: str, back: object) -> None:
    rng = np.random.default_rng(8)
    first = dt.date(2023, 1, 1)
    orders = []
    for i in range(300):
        day = random_day(rng, first, 300)
        for _ in range(int(rng.integers(1, 6))):
            orders.append((f"c{i}", day, "web" if i % 3 else "app"))
            day += dt.timedelta(days=int(rng.integers(1, 90)))
    frame = pl.DataFrame(orders, schema=["customer_id", "order_date", "channel"], orient="row")
    as_of = dt.date(2024, 1, 1)
    start = dt.date(2023, 3, 1)
    fit = retcalc.survival_fit(frame, window=window, as_of=as_of, start=start, by="channel")
    per_customer: dict[tuple[str, str], list[dt.date]] = {}
    for who, day, channel in orders:
        if day < as_of:
            per_customer.setdefault((channel, who), []).append(day)
    rows = []
    for (channel, _), days in per_customer.items():
        days = sorted(set(days))
        lapse = None
        for d, following in zip(days, [*days[1:], None], strict=True):
            end_of_reach = reach(d, back)
            if following is None or following > end_of_reach:
                lapse = end_of_reach
                break
        found = expected_lifetime(days[0], lapse, start, as_of)
        if found is not None:
            rows.append((channel, *found))
    expected = pl.DataFrame(rows, schema=["channel", "entry", "days", "event"], orient="row")
    counted = fit.lifetimes.filter("counted").select("channel", "entry", "days", "event")
    assert sorted(counted.rows()) == sorted(expected.rows())
    assert fit.truncated > 0 and fit.left_out > 0
    assert compare_curves(fit.table, expected, ["channel"], 0.95) < TOL
