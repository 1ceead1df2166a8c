"""The statistics of ``retcalc compare`` (retcalc.metrics.compare), against values
worked by hand and Newcombe's (1998) published examples."""

from __future__ import annotations

import polars as pl
import pytest

from retcalc.metrics.compare import compared, difference, holm, two_sided_p, z_statistic


def _diff(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> tuple:
    d, lo, hi = difference(pl.col("k1"), pl.col("n1"), pl.col("k2"), pl.col("n2"), level=level)
    frame = pl.DataFrame({"k1": [k1], "n1": [n1], "k2": [k2], "n2": [n2]})
    return frame.select(d, lo.alias("lo"), hi.alias("hi")).row(0)


def _p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    frame = pl.DataFrame({"k1": [k1], "n1": [n1], "k2": [k2], "n2": [n2]})
    z = frame.select(z_statistic(pl.col("k1"), pl.col("n1"), pl.col("k2"), pl.col("n2")))
    return two_sided_p(z.to_series()).item()


def test_holm_against_a_hand_worked_example() -> None:
    # Sorted: 0.005 (×4 = 0.02), 0.01 (×3 = 0.03), 0.03 (×2 = 0.06), 0.04 (×1 = 0.04,
    # but never below the one before: 0.06). Back in the input order:
    adjusted = holm(pl.Series("p", [0.01, 0.04, 0.03, 0.005])).to_list()
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_skips_nulls() -> None:
    # m = 2 (the null is not a test): 0.3 × 2 = 0.6, then 0.7 × 1 = 0.7.
    adjusted = holm(pl.Series("p", [0.7, None, 0.3])).to_list()
    assert adjusted[1] is None
    assert adjusted[0] == pytest.approx(0.7) and adjusted[2] == pytest.approx(0.6)
    assert holm(pl.Series("p", [0.6, 0.9])).to_list() == pytest.approx([1.0, 1.0])


def test_two_proportion_test_by_hand() -> None:
    # 45/100 vs 30/100: pooled 75/200 = 0.375, se = √(0.375 × 0.625 × 0.02) = 0.0684653,
    # z = 0.15 / 0.0684653 = 2.190890, p = 2(1 − Φ(2.190890)) = 0.028460.
    assert _p(45, 100, 30, 100) == pytest.approx(0.028460, abs=2e-6)
    assert _p(30, 100, 45, 100) == pytest.approx(0.028460, abs=2e-6)  # two-sided


def test_two_proportion_test_at_the_ends() -> None:
    assert _p(0, 10, 0, 20) == 1.0  # both 0: no difference at all
    assert _p(10, 10, 20, 20) == 1.0
    # 10/10 vs 0/10: pooled 0.5, se = √(0.25 × 0.2) = 0.223607, z = 4.472136,
    # p = 2(1 − Φ(4.472136)) = 7.744e-6.
    assert _p(10, 10, 0, 10) == pytest.approx(7.744216e-6, rel=1e-4)
    assert _p(0, 0, 3, 10) is None
    assert _p(3, 10, 0, 0) is None


def test_newcombe_interval_by_hand() -> None:
    # 45/100: Wilson (0.356144, 0.547554); 30/100: Wilson (0.218950, 0.395850).
    # lo = 0.15 − √(0.093856² + 0.095850²) = 0.15 − 0.134150 = 0.015850
    # hi = 0.15 + √(0.097554² + 0.081050²) = 0.15 + 0.126832 = 0.276832
    # (to the 1e-5 that six-digit intermediate rounding allows)
    d, lo, hi = _diff(45, 100, 30, 100)
    assert d == pytest.approx(0.15)
    assert lo == pytest.approx(0.015850, abs=1e-5)
    assert hi == pytest.approx(0.276832, abs=1e-5)


@pytest.mark.parametrize(
    ("k1", "n1", "k2", "n2", "lo", "hi"),
    [
        # Newcombe (1998), Table II, method 10 (four decimals as published).
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0),
        (10, 10, 0, 10, 0.6075, 1.0),
    ],
)
def test_newcombe_interval_matches_the_paper(
    k1: int, n1: int, k2: int, n2: int, lo: float, hi: float
) -> None:
    _, got_lo, got_hi = _diff(k1, n1, k2, n2)
    assert got_lo == pytest.approx(lo, abs=6e-5)
    assert got_hi == pytest.approx(hi, abs=6e-5)


def test_empty_bases_give_nulls_not_errors() -> None:
    assert _diff(0, 0, 3, 10) == (None, None, None)
    frame = pl.DataFrame({"k1": [0, 45], "n1": [0, 100], "k2": [3, 30], "n2": [10, 100]})
    out = compared(frame, "k1", "n1", "k2", "n2", alpha=0.05)
    first, second = out.row(0, named=True), out.row(1, named=True)
    assert first["p_value"] is None and first["significant"] is None
    # One test only (m = 1): the adjusted p is the p itself.
    assert second["p_adjusted"] == pytest.approx(second["p_value"])
    assert second["significant"] is True
