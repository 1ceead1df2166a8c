"""``--engine spark`` reads the same row meanings as the Polars engine: a status file
that needs ``--status-map`` and a Stripe charge with ``Captured`` = false."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from tests.cli.test_real_exports import ETSY, GERMAN, GERMAN_MAP, STRIPE, WOOCOMMERCE
from tests.spark.conftest import needs_spark

# One worker runs every Spark test under pytest-xdist: one JVM, started once.
pytestmark = pytest.mark.xdist_group("spark")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@needs_spark
def test_status_map_and_captured_on_spark(spark: Any, tmp_path: Path) -> None:
    german = tmp_path / "orders.csv"
    german.write_text(GERMAN)
    stripe = tmp_path / "unified_payments.csv"
    stripe.write_text(STRIPE)
    etsy = tmp_path / "EtsySoldOrders2024.csv"
    etsy.write_text(ETSY)
    woo = tmp_path / "orders-2024-03-01.csv"
    woo.write_text(WOOCOMMERCE)
    for args in (
        ("kpis", str(german), "--period", "month", *GERMAN_MAP),
        ("kpis", str(german), "--period", "month"),
        ("kpis", str(stripe), "--period", "month"),
        ("kpis", str(etsy), "--period", "month"),  # refunds from the adjusted totals
        ("kpis", str(woo), "--period", "month"),  # order totals once per order
        ("returns", str(woo), "--period", "month"),  # lines collected in file order
    ):
        ours = run(*args, "-f", "json")
        theirs = run(*args, "-f", "json", "--engine", "spark")
        assert ours.exit_code == theirs.exit_code == 0, theirs.stderr
        assert json.loads(theirs.stdout) == json.loads(ours.stdout)
        assert ("does not know" in theirs.stderr) == ("does not know" in ours.stderr)
    # The figures computed by hand in tests/cli/test_real_exports.py.
    mapped = json.loads(
        run(
            "kpis", str(german), "--period", "month", *GERMAN_MAP, "-f", "json", "--engine", "spark"
        ).stdout
    )
    assert [(r["customers"], r["orders"], r["revenue"]) for r in mapped] == [
        (1, 1, 10.0),
        (2, 2, 25.0),
    ]
    charges = json.loads(
        run("kpis", str(stripe), "--period", "month", "-f", "json", "--engine", "spark").stdout
    )
    assert [(r["customers"], r["orders"], r["revenue"]) for r in charges] == [
        (1, 2, 75.0),
        (1, 1, 10.0),
    ]
