"""Percentile bootstrap of the revenue ratios (``--ci``, retcalc.metrics.bootstrap)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app
from retcalc.definitions import BOOTSTRAP_RATES, COLUMNS
from retcalc.errors import UsageError
from retcalc.metrics.bootstrap import Resampling, poisson_table, ratio_bounds, weights
from retcalc.metrics.intervals import RATIOS

SAMPLE = str(Path(__file__).parents[2] / "sample_data" / "orders.csv")
RETURNS = str(Path(__file__).parents[2] / "sample_data" / "returns.csv")
runner = CliRunner()


def _bounds(
    customers: list[int], cells: list[int], a: list[float], b: list[float], **how: float
) -> dict[int, tuple[float | None, float | None]]:
    frame = pl.DataFrame({"c": customers, "p": cells, "a": a, "b": b})
    found = ratio_bounds(
        frame,
        cells=["p"],
        customer="c",
        ratios={"r": ("a", "b")},
        how=Resampling(**{"level": 0.95, **how}),  # type: ignore[arg-type]
    )
    return {p: (lo, hi) for p, lo, hi in found.sort("p").iter_rows()}


def test_the_weights_are_poisson_1() -> None:
    table = poisson_table()
    shares = np.bincount(table, minlength=12)[:12] / len(table)
    for k, share in enumerate(shares):
        assert abs(share - math.exp(-1) / math.factorial(k)) <= 2**-16
    drawn = weights(np.random.default_rng(3), 1000, 1000)
    assert drawn.mean() == pytest.approx(1, abs=0.01)
    assert drawn.var() == pytest.approx(1, abs=0.02)
    assert (drawn == 0).mean() == pytest.approx(math.exp(-1), abs=0.01)


def test_two_customers_by_hand() -> None:
    # r* = (w1·1 + w2·3) / (w1 + w2) lies in [1, 3]; it is exactly 1 when only customer 1
    # is drawn: P = e⁻¹(1 − e⁻¹) / (1 − e⁻²) = 0.269 of the resamples with a ratio, more
    # than the 2.5 % below the lower quantile, so lo = 1 and hi = 3 (the same for 3).
    assert _bounds([1, 2], [0, 0], [1, 3], [1, 1]) == {0: (1.0, 3.0)}
    # At level 0.2 the quantiles 0.4 and 0.6 fall inside: strictly between the ends.
    ((lo, hi),) = _bounds([1, 2], [0, 0], [1, 3], [1, 1], level=0.2).values()
    assert 1 < lo <= 2 <= hi < 3


def test_one_customer_gives_the_ratio_itself() -> None:
    # Every resample that draws the customer has w·1 / w·2; the others are left out.
    assert _bounds([7], [0], [1], [2]) == {0: (0.5, 0.5)}


def test_a_zero_denominator_gives_null_bounds() -> None:
    found = _bounds([1, 2, 1, 2], [0, 0, 1, 1], [1, 3, 5, 0], [1, 1, 0, 0])
    assert found[0] == (1.0, 3.0)
    assert found[1] == (None, None)


def test_the_same_customers_in_every_cell() -> None:
    # Cells 0 and 1 hold the same customers with the same sums: the same weights give
    # the same bounds. Cell 2 holds other customers with the same sums: other weights.
    customers = [*range(20), *range(20), *range(20, 40)]
    a = [float(i % 7) for i in range(20)] * 3
    b = [1.0 + i % 3 for i in range(20)] * 3
    found = _bounds(customers, [0] * 20 + [1] * 20 + [2] * 20, a, b)
    assert found[0] == found[1]
    assert found[2] != found[0]


def test_reproducible_from_the_seed() -> None:
    args = ([*range(50)], [0] * 50, [float(i % 9) for i in range(50)], [1.0] * 50)
    first = _bounds(*args, seed=5)
    assert _bounds(*args, seed=5) == first
    assert _bounds(*args, seed=6) != first
    assert _bounds(*args, seed=5, resamples=200) != first


def test_bad_resamples_or_seed() -> None:
    for bad in (0, 100_001, 2.5):
        with pytest.raises(UsageError, match="--ci-resamples"):
            Resampling(0.95, bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--seed"):
        Resampling(0.95, 100, -1)


def test_each_ratio_has_registry_entries() -> None:
    in_commands = {(r, c) for c, rates in RATIOS.items() for r in rates}
    assert in_commands == {(r, c) for r, cs in BOOTSTRAP_RATES.items() for c in cs}
    for rate in BOOTSTRAP_RATES:
        for bound in (f"{rate}_lo", f"{rate}_hi"):
            assert COLUMNS[bound].unit == COLUMNS[rate].unit


def _run(*args: str) -> tuple[list[dict], str]:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), result.stderr


@pytest.mark.parametrize(
    ("command", "extra", "least"),
    [
        ("churn", ["--period", "quarter"], 8),
        ("kpis", ["--period", "quarter"], 12),
        ("kpis", [], 1),
        ("returns", ["--period", "quarter"], 12),
        ("returns", ["--period", "quarter", "--returns", RETURNS, "--by", "channel"], 12),
    ],
)
def test_bounds_hold_the_ratios_and_name_the_seed(
    command: str, extra: list[str], least: int
) -> None:
    plain, _ = _run(command, SAMPLE, *extra)
    ci = ["--ci", "0.9", "--ci-resamples", "300"]
    rows, said = _run(command, SAMPLE, *extra, *ci)
    assert "percentile bootstrap over customers, 300 resamples, seed 0" in said
    columns = list(rows[0])
    for rate in RATIOS[command]:
        at = columns.index(rate)
        assert columns[at + 1 : at + 3] == [f"{rate}_lo", f"{rate}_hi"]
    checked = 0
    for with_ci, without in zip(rows, plain, strict=True):
        assert {k: v for k, v in with_ci.items() if not k.endswith(("_lo", "_hi"))} == without
        for rate in RATIOS[command]:
            value, lo, hi = with_ci[rate], with_ci[f"{rate}_lo"], with_ci[f"{rate}_hi"]
            if value is None:  # a zero denominator: no ratio, no bounds
                assert lo is None and hi is None
                continue
            assert lo < value < hi
            checked += 1
    assert checked >= least
    again, _ = _run(command, SAMPLE, *extra, *ci)
    assert again == rows
    other, said = _run(command, SAMPLE, *extra, *ci, "--seed", "1")
    assert "seed 1" in said
    rate = RATIOS[command][0]
    assert [r[f"{rate}_lo"] for r in other] != [r[f"{rate}_lo"] for r in rows]


def test_churn_first_period_has_no_ratio_and_no_bounds() -> None:
    rows, _ = _run("churn", SAMPLE, "--period", "quarter", "--ci", "0.9", "--ci-resamples", "50")
    assert rows[0]["previous_revenue"] == 0
    assert [rows[0][c] for c in ("nrr", "nrr_lo", "nrr_hi", "grr_lo", "grr_hi")] == [None] * 5


def test_bad_resamples_are_refused_before_reading() -> None:
    result = runner.invoke(app, ["churn", "missing.csv", "--ci", "0.9", "--ci-resamples", "0"])
    assert result.exit_code == 2
    assert "--ci-resamples" in result.stderr


@pytest.mark.parametrize("file", [None, RETURNS])
def test_returns_per_customer_add_up_to_the_table(file: str | None) -> None:
    # The bootstrap's per-customer gross sales and refunds (a second classification
    # with the customer as a key) sum to the table's own, period by period.
    from retcalc import api
    from retcalc.metrics.activity import CUSTOMER
    from retcalc.metrics.returns import return_lines

    read = api.read_orders(SAMPLE)
    given = None
    if file is not None:
        from retcalc.io.returns_file import load_returns

        given = load_returns(file).frame.lazy()
    sums = []
    for keys in ([], [CUSTOMER]):
        lines = return_lines(read.view(), returns=given, keys=keys)
        sums.append(
            [
                frame.group_by(pl.col("day").dt.truncate("1q"))
                .agg(pl.col("micros").sum())
                .sort("day")
                for frame in (lines.sales, lines.returns)
            ]
        )
    assert sums[1][0].equals(sums[0][0]) and sums[1][1].equals(sums[0][1])
    assert sums[0][1].height >= 12
