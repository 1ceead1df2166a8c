"""``retcalc calc``: the hand calculator, with hand-computed values (retcalc.metrics.calc)."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest
from typer.testing import CliRunner

import retcalc
from retcalc.cli.app import app

runner = CliRunner()


def _row(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["calc", *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 1
    return rows[0]


def _refused(*args: str) -> str:
    result = runner.invoke(app, ["calc", *args])
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr


def test_churn() -> None:
    assert _row("churn", "--start", "200", "--lost", "14") == {
        "customers_start": 200,
        "churned": 14,
        "churn_rate": 0.07,
    }


def test_nrr_and_grr() -> None:
    # kept = 1000 - 50 - 100 = 850; nrr = (850 + 150) / 1000; grr = 850 / 1000
    row = _row(
        "nrr", "--start-revenue", "1000", "--expansion", "150",
        "--contraction", "50", "--churned", "100",
    )  # fmt: skip
    assert row["nrr"] == pytest.approx(1.0) and row["grr"] == pytest.approx(0.85)
    assert (row["previous_revenue"], row["churned_revenue"]) == (1000.0, 100.0)


def test_clv_discounts_the_lifetime_as_clv_model_formula_does() -> None:
    # c = 1/4 = 0.25; discounted lifetime 1 / (0.25 + 0.1) = 2.857142...; 80 x 3 x 0.4 x it
    row = _row(
        "clv", "--aov", "80", "--frequency", "3", "--margin", "0.4",
        "--lifetime", "4", "--discount-rate", "0.1",
    )  # fmt: skip
    assert row["annual_churn_rate"] == 0.25
    assert row["discounted_lifetime_years"] == pytest.approx(1 / 0.35)
    assert row["clv"] == pytest.approx(80 * 3 * 0.4 / 0.35)
    undiscounted = _row("clv", "--aov", "80", "--frequency", "3", "--lifetime", "4")
    assert (undiscounted["margin"], undiscounted["clv"]) == (1.0, 960.0)  # 80 x 3 x 1 x 4


def test_nps_in_points() -> None:
    row = _row("nps", "--promoters", "60", "--passives", "25", "--detractors", "15")
    assert (row["nps_responses"], row["nps"]) == (100, 45.0)
    assert _row("nps", "--promoters", "0", "--passives", "1", "--detractors", "3")["nps"] == -75.0


def test_repeat_and_return_rates() -> None:
    assert (
        _row("repeat-rate", "--customers", "400", "--repeat", "120")["repeat_purchase_rate"] == 0.3
    )
    assert _row("return-rate", "--sold", "500", "--returned", "40")["return_rate"] == 0.08
    assert _row("return-rate", "--sold", "3", "--returned", "0")["return_rate"] == 0.0


def test_explain_fills_the_formula_in_on_stderr() -> None:
    result = runner.invoke(
        app, ["calc", "churn", "--start", "200", "--lost", "14", "--explain", "-f", "csv"]
    )
    assert result.exit_code == 0
    assert result.stdout == "customers_start,churned,churn_rate\n200,14,0.07\n"  # data only
    assert "churn_rate = 14 / 200 = 0.0700 (7.0 %)" in result.stderr
    nps = runner.invoke(
        app,
        ["calc", "nps", "--promoters", "6", "--passives", "2", "--detractors", "2", "--explain"],
    )
    assert "nps = 100 x (6 - 2) / 10 = 40" in nps.stderr
    clv = runner.invoke(app, ["calc", "clv", "--aov", "80", "--frequency", "3", "--lifetime", "4",
                              "--explain", "-f", "csv"])  # fmt: skip
    assert "clv = 80 x 3 x 1 x 4 = 960" in clv.stderr


@pytest.mark.parametrize("fmt", ["csv", "tsv", "ndjson", "markdown", "table", "html"])
def test_one_row_in_every_text_format(fmt: str) -> None:
    result = runner.invoke(
        app, ["calc", "repeat-rate", "--customers", "8", "--repeat", "2", "--format", fmt]
    )
    assert result.exit_code == 0, result.stderr
    assert "customers" in result.stdout  # the header (a table may wrap the longer names)
    assert ("0.25" in result.stdout) or ("25.0%" in result.stdout) or ("25%" in result.stdout)


def test_parquet_and_xlsx_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name in ("calc.parquet", "calc.xlsx"):
        out = tmp_path / name
        result = runner.invoke(
            app, ["calc", "return-rate", "--sold", "4", "--returned", "1", "-o", str(out)]
        )
        assert result.exit_code == 0, result.stderr
        assert out.stat().st_size > 0
    frame = pl.read_parquet(io.BytesIO((tmp_path / "calc.parquet").read_bytes()))
    assert frame.to_dicts() == [{"sold": 4.0, "returned": 1.0, "return_rate": 0.25}]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["churn", "--start", "10", "--lost", "12"], "--lost 12 is more than --start 10"),
        (["churn", "--start", "0", "--lost", "0"], "--start 0"),
        (["churn", "--start", "-3", "--lost", "1"], "--start"),
        (["nrr", "--start-revenue", "0"], "--start-revenue 0.0: give an amount of more than 0"),
        (["nrr", "--start-revenue", "100", "--contraction", "80", "--churned", "30"],
         "--contraction plus --churned 110 is more than --start-revenue 100"),
        (["nrr", "--start-revenue", "100", "--expansion", "-5"], "--expansion -5.0"),
        (["clv", "--aov", "10", "--frequency", "1", "--lifetime", "0"], "--lifetime 0.0"),
        (["clv", "--aov", "10", "--frequency", "1", "--lifetime", "2", "--margin", "40"],
         "--margin 40: give the margin as a fraction"),
        (["clv", "--aov", "nan", "--frequency", "1", "--lifetime", "2"], "--aov nan"),
        (["nps", "--promoters", "0", "--passives", "0", "--detractors", "0"], "no responses"),
        (["repeat-rate", "--customers", "3", "--repeat", "4"], "--repeat 4 is more than"),
        (["return-rate", "--sold", "3", "--returned", "5"], "--returned 5 is more than --sold 3"),
    ],
)  # fmt: skip
def test_bad_numbers_are_refused_naming_the_flag(args: list[str], said: str) -> None:
    assert said in _refused(*args)


def test_the_python_api_gives_the_same_row() -> None:
    frame = retcalc.calc("nrr", start_revenue=200.0, expansion=20.0, contraction=10.0, churned=30.0)
    assert frame.to_dicts() == [_row("nrr", "--start-revenue", "200", "--expansion", "20",
                                     "--contraction", "10", "--churned", "30")]  # fmt: skip
    with pytest.raises(retcalc.UsageError, match="use one of churn, nrr"):
        retcalc.calc("ltv", aov=1.0)
    with pytest.raises(retcalc.UsageError, match="calc churn"):
        retcalc.calc("churn", start=10)
