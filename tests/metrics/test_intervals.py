"""Wilson score intervals (``--ci``, retcalc.metrics.intervals), with hand-computed values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app
from retcalc.definitions import COLUMNS, INTERVAL_RATES
from retcalc.errors import UsageError
from retcalc.metrics.intervals import SHARES, wilson, z_score

SAMPLE = str(Path(__file__).parents[2] / "sample_data" / "orders.csv")
runner = CliRunner()


def _by_hand(k: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson interval written out in plain Python."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _bounds(k: list[int], n: list[int], level: float = 0.95) -> list[tuple[float, float]]:
    lo, hi = wilson(pl.col("k"), pl.col("n"), z_score(level))
    frame = pl.DataFrame({"k": k, "n": n}).select(lo.alias("lo"), hi.alias("hi"))
    return list(frame.iter_rows())


def test_z_is_the_two_sided_normal_quantile() -> None:
    assert z_score(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_score(0.9) == pytest.approx(1.644854, abs=1e-6)
    for bad in (0, 1, 1.5, -0.2, float("nan")):
        with pytest.raises(UsageError, match="between 0 and 1"):
            z_score(bad)


def test_small_counts_by_hand() -> None:
    # 3 of 10 at 95 %: p = 0.3, z = 1.96; centre 0.3386, half 0.2306 -> (0.1078, 0.6032)
    ((lo, hi),) = _bounds([3], [10])
    assert (round(lo, 4), round(hi, 4)) == (0.1078, 0.6032)
    for k, n in [(1, 2), (7, 20), (50, 100), (999, 1000)]:
        ((lo, hi),) = _bounds([k], [n])
        assert (lo, hi) == pytest.approx(_by_hand(k, n, z_score(0.95)), abs=1e-12)
        assert lo < k / n < hi


def test_the_ends_are_exact() -> None:
    # k = 0: lo = 0 and hi = z²/(n + z²); k = n: hi = 1 and lo = n/(n + z²)
    z2 = z_score(0.95) ** 2
    (zero, full) = _bounds([0, 25], [25, 25])
    assert zero[0] == 0 and zero[1] == pytest.approx(z2 / (25 + z2), abs=1e-12)
    assert full[1] == 1 and full[0] == pytest.approx(25 / (25 + z2), abs=1e-12)


def test_no_trials_no_bounds() -> None:
    assert _bounds([0, 0], [0, None]) == [(None, None), (None, None)]  # type: ignore[list-item]


def test_a_wider_level_gives_a_wider_interval() -> None:
    ((lo90, hi90),) = _bounds([30], [80], 0.9)
    ((lo99, hi99),) = _bounds([30], [80], 0.99)
    assert lo99 < lo90 < 30 / 80 < hi90 < hi99


def test_each_share_has_registry_entries_for_its_bounds() -> None:
    in_commands = {rate for shares in SHARES.values() for rate in shares}
    assert in_commands == set(INTERVAL_RATES)
    for command, shares in SHARES.items():
        for rate in shares:
            for bound in (f"{rate}_lo", f"{rate}_hi"):
                assert command in COLUMNS[bound].commands


def _rows(*args: str) -> list[dict]:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("retention", ["--period", "quarter"]),
        ("churn", ["--period", "quarter"]),
        ("cohorts", ["--period", "quarter"]),
        ("returns", ["--period", "quarter"]),
        ("kpis", ["--period", "quarter"]),
        ("kpis", []),
    ],
)
def test_every_share_of_the_command_gets_bounds_around_it(command: str, extra: list[str]) -> None:
    plain = _rows(command, SAMPLE, *extra)
    rows = _rows(command, SAMPLE, *extra, "--ci", "0.95")
    assert len(rows) == len(plain)
    z = z_score(0.95)
    shares = SHARES[command]
    for with_ci, without in zip(rows, plain, strict=True):
        assert {k: v for k, v in with_ci.items() if not k.endswith(("_lo", "_hi"))} == without
        for rate, (k, n) in shares.items():
            if k not in with_ci:  # kpis: counts behind the rate are not printed
                continue
            lo, hi = with_ci[f"{rate}_lo"], with_ci[f"{rate}_hi"]
            if not with_ci[n]:
                assert lo is None and hi is None
                continue
            assert (lo, hi) == pytest.approx(_by_hand(with_ci[k], with_ci[n], z), abs=1e-9)
        for rate in shares:
            value = with_ci[rate]
            if value is not None:
                assert with_ci[f"{rate}_lo"] <= value <= with_ci[f"{rate}_hi"]
    columns = list(rows[0])
    for rate in shares:
        at = columns.index(rate)
        assert columns[at + 1 : at + 3] == [f"{rate}_lo", f"{rate}_hi"]


def test_kpis_bounds_match_the_counts_of_customers() -> None:
    (row,) = _rows("kpis", SAMPLE, "--ci", "0.95")
    z = z_score(0.95)
    repeat = round(row["repeat_purchase_rate"] * row["customers"])
    assert (row["repeat_purchase_rate_lo"], row["repeat_purchase_rate_hi"]) == pytest.approx(
        _by_hand(repeat, row["customers"], z), abs=1e-9
    )


def test_a_table_shows_the_interval_beside_the_rate() -> None:
    result = runner.invoke(app, ["kpis", SAMPLE, "--ci", "0.95", "--format", "markdown"])
    assert result.exit_code == 0
    assert "38.2% (36.5-40.0)" in result.stdout  # repeat_purchase_rate of the sample
    assert "repeat_purchase_rate_lo" not in result.stdout


def test_a_bad_level_is_refused_before_reading() -> None:
    result = runner.invoke(app, ["retention", "missing.csv", "--ci", "95"])
    assert result.exit_code == 2
    assert (
        "--ci" in result.stderr and "95: give a confidence level between 0 and 1" in result.stderr
    )
