"""``retcalc compare`` end to end on tiny shops whose shares are counted by hand."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner, Result

import retcalc
from retcalc.cli.app import app

# Activity basis, months, --active-window 1mo: a February row's base is who ordered in
# January, retained = who ordered again in February. tier is a customer attribute.
# Tier A: a1-a4 in January, a1-a3 again in February: 3/4. Tier B: b1-b4, b1 again: 1/4.
TIERS = """\
customer_id,order_date,tier
a1,2024-01-05,A
a2,2024-01-06,A
a3,2024-01-07,A
a4,2024-01-08,A
b1,2024-01-05,B
b2,2024-01-06,B
b3,2024-01-07,B
b4,2024-01-08,B
a1,2024-02-05,A
a2,2024-02-06,A
a3,2024-02-07,A
b1,2024-02-05,B
"""
# channel is per order: x4 bought on the web and in the app in January, in the app in
# February. By channel, February: web base {x1, x2, x4}, retained on the web {x1}: 1/3;
# app base {x3, x4}, retained in the app {x4}: 1/2. The rest of web is the app orders'
# retention (1/2) and the other way round; x4 is in both.
CHANNELS = """\
customer_id,order_date,channel
x1,2024-01-05,web
x2,2024-01-06,web
x3,2024-01-07,app
x4,2024-01-08,web
x4,2024-01-09,app
x1,2024-02-05,web
x4,2024-02-06,app
"""
# TIERS plus March: only a1 orders again. Whole population: February 4/8, March 1/4
# (base: a1, a2, a3, b1).
MARCH = TIERS + "a1,2024-03-05,A\n"

runner = CliRunner()


def invoke(data: str, *args: str) -> Result:
    return runner.invoke(
        app,
        ["compare", "-", "-p", "month", "-w", "1mo", "--format", "json", *args],
        input=data,
        env={"COLUMNS": "200"},
    )


def rows(result: Result) -> list[dict]:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_each_group_against_the_rest() -> None:
    result = invoke(TIERS, "--by", "tier")
    got = {(r["period_start"], r["tier"]): r for r in rows(result)}
    assert "more than one" not in result.stderr  # tier is a customer attribute
    jan = got[("2024-01-01", "A")]
    assert jan["group_n"] == 0 and jan["p_value"] is None and jan["significant"] is None
    a, b = got[("2024-02-01", "A")], got[("2024-02-01", "B")]
    assert (a["group_n"], a["group_rate"], a["rest_n"], a["rest_rate"]) == (4, 0.75, 4, 0.25)
    assert (b["group_n"], b["group_rate"], b["rest_n"], b["rest_rate"]) == (4, 0.25, 4, 0.75)
    assert a["difference"] == pytest.approx(0.5) and b["difference"] == pytest.approx(-0.5)
    # Pooled 4/8: se = √(0.25 × 0.5) = 0.353553, z = 1.414214, p = 0.157299; Holm over
    # the two tests: 2 × 0.157299 = 0.314598 for both; not significant at 0.05.
    for row in (a, b):
        assert row["metric"] == "retention_rate"
        assert row["p_value"] == pytest.approx(0.157299, abs=1e-6)
        assert row["p_adjusted"] == pytest.approx(0.314598, abs=1e-6)
        assert row["significant"] is False
    assert a["difference_lo"] < 0.5 < a["difference_hi"]
    # --alpha 0.4: the same p-values now hold, and the interval is the 60 % one.
    loose = {
        (r["period_start"], r["tier"]): r
        for r in rows(invoke(TIERS, "--by", "tier", "--alpha", "0.4"))
    }
    assert loose[("2024-02-01", "A")]["significant"] is True
    assert loose[("2024-02-01", "A")]["difference_lo"] > a["difference_lo"]


def test_per_order_groups_are_said_and_their_rest_is_the_other_orders() -> None:
    result = invoke(CHANNELS, "--by", "channel")
    got = {(r["period_start"], r["channel"]): r for r in rows(result)}
    assert "more than one channel" in result.stderr
    web, app_ = got[("2024-02-01", "web")], got[("2024-02-01", "app")]
    assert (web["group_n"], web["group_rate"], web["rest_n"], web["rest_rate"]) == (
        3, pytest.approx(1 / 3), 2, 0.5,
    )  # fmt: skip
    assert (app_["group_n"], app_["group_rate"], app_["rest_n"], app_["rest_rate"]) == (
        2, 0.5, 3, pytest.approx(1 / 3),
    )  # fmt: skip


def test_between_two_periods() -> None:
    # February 4/8 against March 1/4: d = 0.25 - 0.5 = -0.25; pooled 5/12,
    # se = √(5/12 × 7/12 × (1/8 + 1/4)) = 0.301904, z = -0.828079, p = 0.407626.
    (row,) = rows(invoke(MARCH, "--between", "2024-02", "2024-03-15"))
    assert (row["period_a"], row["period_b"]) == ("2024-02-01", "2024-03-01")
    assert (row["a_n"], row["a_rate"], row["b_n"], row["b_rate"]) == (8, 0.5, 4, 0.25)
    assert row["difference"] == pytest.approx(-0.25)
    assert row["p_value"] == pytest.approx(0.407626, abs=1e-6)
    assert row["p_adjusted"] == row["p_value"]  # one test
    # Per group: A 3/4 then 1/3 (a1 of a1-a3); B 1/4 then 0/1.
    got = {
        r["tier"]: r for r in rows(invoke(MARCH, "--between", "2024-02", "2024-03", "--by", "tier"))
    }
    assert (got["A"]["a_n"], got["A"]["b_n"], got["A"]["b_rate"]) == (4, 3, pytest.approx(1 / 3))
    assert (got["B"]["a_n"], got["B"]["b_n"], got["B"]["b_rate"]) == (4, 1, 0.0)


def test_the_api_gives_the_same_table() -> None:
    table = retcalc.compare(pl.read_csv(TIERS.encode()), by="tier", period="month", window="1mo")
    feb = table.filter(pl.col("period_start") == pl.date(2024, 2, 1), pl.col("tier") == "A")
    assert feb.select("group_n", "rest_n", "rest_rate").row(0) == (4, 4, 0.25)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "tier", "--metric", "crr"], "compare tests one of"),
        (["--by", "tier", "--alpha", "1.5"], "--alpha"),
        ([], "needs --by COLUMN"),
        (["--by", "tier", "--by", "customer_id"], "one --by column"),
        (["--between", "2023-Q1", "2024-02"], "no month starting 2023-01-01"),
    ],
)
def test_refusals_exit_2(args: list[str], message: str) -> None:
    result = invoke(TIERS, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


# --------------------------------------------------------------- revenue ratios


def shop(amounts: dict[str, list[tuple[str, float]]]) -> str:
    """Orders of customers named by tier (a1, b1, ...): per customer its (day, amount)."""
    lines = ["customer_id,order_date,amount,tier"]
    for customer, orders in amounts.items():
        lines += [f"{customer},{day},{amount},{customer[0].upper()}" for day, amount in orders]
    return "\n".join(lines) + "\n"


# January: six customers of tier A spend 100 on one order each, six of B spend 10. In
# every resample (with customers of both) A's aov is 100 and the rest's 10.
APART = shop(
    {f"a{i}": [("2024-01-05", 100)] for i in range(6)}
    | {f"b{i}": [("2024-01-05", 10)] for i in range(6)}
)
# Every customer spends 50: every resampled difference is 0.
SAME = shop({f"{t}{i}": [("2024-01-05", 50)] for t in "ab" for i in range(4)})


def test_aov_of_groups_that_clearly_differ() -> None:
    result = invoke(APART, "--by", "tier", "--metric", "aov", "--ci-resamples", "999")
    got = {r["tier"]: r for r in rows(result)}
    assert "999 resamples, seed 0" in result.stderr
    a, b = got["A"], got["B"]
    assert (a["group_n"], a["group_rate"], a["rest_n"], a["rest_rate"]) == (6, 100.0, 6, 10.0)
    assert (b["difference"], b["difference_lo"], b["difference_hi"]) == (-90.0, -90.0, -90.0)
    # No resampled difference on 0's side: p = 2 (1 + 0) / (B' + 1), B' ≤ 999 the
    # resamples with customers of both tiers (all but about e⁻⁶ of them); Holm × 2.
    for row in (a, b):
        assert 2 / 1000 <= row["p_value"] <= 2 / 980
        assert row["p_adjusted"] == pytest.approx(2 * max(a["p_value"], b["p_value"]))
        assert row["significant"] is True


def test_aov_of_identical_groups_has_p_1() -> None:
    got = rows(invoke(SAME, "--by", "tier", "--metric", "aov", "--ci-resamples", "200"))
    for row in got:
        assert (row["group_rate"], row["rest_rate"], row["difference"]) == (50.0, 50.0, 0.0)
        assert (row["p_value"], row["p_adjusted"], row["significant"]) == (1.0, 1.0, False)


def test_the_bootstrap_is_reproducible_from_its_seed() -> None:
    # Same spending in both tiers, but not equal between customers: the draws vary.
    data = shop(
        {f"{t}{i}": [("2024-01-05", 10 * (i + 1)), ("2024-02-05", 7 * (i + 2))]
         for t in "ab" for i in range(5)}
    )  # fmt: skip
    args = ("--by", "tier", "--metric", "aov", "--ci-resamples", "300")
    first = rows(invoke(data, *args, "--seed", "7"))
    assert rows(invoke(data, *args, "--seed", "7")) == first
    other = rows(invoke(data, *args, "--seed", "8"))
    assert [r["difference_lo"] for r in other] != [r["difference_lo"] for r in first]
    assert [r["difference"] for r in other] == [r["difference"] for r in first] == [0.0] * 4
    assert all(r["p_value"] > 0.2 and r["significant"] is False for r in first)
    # Holm over all four rows (two months × two tiers), by hand.
    p = sorted((r["p_value"], i) for i, r in enumerate(first))
    adjusted, top = {}, 0.0
    for j, (value, i) in enumerate(p):
        top = max(top, min(1.0, (4 - j) * value))
        adjusted[i] = top
    assert [r["p_adjusted"] for r in first] == [pytest.approx(adjusted[i]) for i in range(4)]


def test_nrr_group_against_the_rest_by_hand() -> None:
    # January: a1, a2, b1, b2 spend 100 each. February: a1 150, a2 50 (A keeps 200 of
    # 200: nrr 1.0); b1 50, b2 nothing (B keeps 50 of 200: 0.25).
    data = shop(
        {"a1": [("2024-01-05", 100), ("2024-02-05", 150)],
         "a2": [("2024-01-05", 100), ("2024-02-05", 50)],
         "b1": [("2024-01-05", 100), ("2024-02-05", 50)],
         "b2": [("2024-01-05", 100)]}
    )  # fmt: skip
    got = rows(invoke(data, "--by", "tier", "--metric", "nrr", "--ci-resamples", "200"))
    feb = {r["tier"]: r for r in got if r["period_start"] == "2024-02-01"}
    a = feb["A"]
    assert (a["group_n"], a["group_rate"], a["rest_n"], a["rest_rate"]) == (2, 1.0, 2, 0.25)
    assert a["difference"] == 0.75 and a["difference_lo"] <= 0.75 <= a["difference_hi"]
    assert feb["B"]["difference"] == -0.75


def test_aov_between_two_months() -> None:
    # The same four customers spend 100 in January and 10 in February: b_rate − a_rate is
    # −90 in every resample.
    data = shop({f"a{i}": [("2024-01-05", 100), ("2024-02-05", 10)] for i in range(4)})
    result = invoke(data, "--between", "2024-01", "2024-02", "--metric", "aov")
    (row,) = rows(result)
    assert (row["a_n"], row["a_rate"], row["b_n"], row["b_rate"]) == (4, 100.0, 4, 10.0)
    assert (row["difference"], row["difference_lo"], row["difference_hi"]) == (-90.0, -90.0, -90.0)
    assert row["p_value"] < 0.01 and row["significant"] is True


def test_the_api_compares_revenue_ratios() -> None:
    with pytest.warns(retcalc.RetcalcWarning, match="50 resamples, seed 0"):
        table = retcalc.compare(
            pl.read_csv(APART.encode()), by="tier", metric="aov", period="month", ci_resamples=50
        )
    assert table.get_column("group_rate").to_list() == [100.0, 10.0]
