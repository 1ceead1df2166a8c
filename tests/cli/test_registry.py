"""The registry of definitions (issue 28, item 4): every printed column has an entry.

Every command runs end to end (CliRunner, JSON) on the shipped sample, with the
customers and returns files and the options that add columns; every column it
prints must have an entry in ``retcalc.definitions`` that names that command,
and every entry must be printed by some run (no stale entries). The metric
modules' column tuples must be covered too, with the units they imply, and
docs/definitions.md must carry the registry's table as generated.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retcalc import definitions
from retcalc.cli.app import app
from retcalc.definitions import COLUMNS, Unit
from tests.cli.test_kpis_rfm_cli import NPS
from tests.cli.test_kpis_rfm_cli import ORDERS as PAID_ORDERS

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
ORDERS = str(SAMPLE / "orders.csv")
CUSTOMERS = str(SAMPLE / "customers.csv")
RETURNS = str(SAMPLE / "returns.csv")
DOCS = ROOT / "docs" / "definitions.md"

CURRENCY_ORDERS = """\
order_id,customer_id,order_date,amount,currency
o1,a,2024-01-05,10.00,EUR
o2,b,2024-01-06,20.00,USD
o3,c,2024-01-07,5.00,
"""

# (command the columns belong to, arguments after the command, --by keys it prints)
RUNS: list[tuple[str, list[str], tuple[str, ...]]] = [
    ("retention", [ORDERS], ()),
    ("retention", [ORDERS, "--customers", CUSTOMERS, "--by", "segment"], ("segment",)),
    ("churn", [ORDERS], ()),
    ("cohorts", [ORDERS], ()),
    ("cohorts", [ORDERS, "--mode", "on-or-after"], ()),
    ("cohorts", [ORDERS, "--brackets", "0-6,7-30", "--bracket-unit", "day"], ()),
    ("forecast", [ORDERS, "--customers", CUSTOMERS, "-p", "year", "--horizon", "1"], ()),
    ("forecast", [ORDERS, "-p", "year", "-w", "1y", "--horizon", "1", "--ci", "0.9"], ()),
    ("returns", [ORDERS, "--returns", RETURNS], ()),
    ("returns", [ORDERS, "--top", "5", "--by", "product_id"], ("product_id",)),
    ("kpis", [ORDERS, "--by-sequence"], ()),
    ("kpis", [ORDERS, "--period", "month", "--by", "channel"], ("channel",)),
    ("kpis", ["{paid_orders}", "--nps", "{nps}", "--paid-col", "paid_on"], ()),
    ("rfm", [ORDERS], ()),
    ("rfm", [ORDERS, "--per-customer"], ()),
    ("clv", [ORDERS], ()),
    ("clv", [ORDERS, "--per-customer"], ()),
    ("clv", [ORDERS, "-m", "formula", "--customers", CUSTOMERS], ()),
    ("clv", [ORDERS, "-m", "bgnbd", "--customers", CUSTOMERS, "--by", "segment"], ("segment",)),
    ("clv", [ORDERS, "-m", "bgnbd", "--customers", CUSTOMERS, "--per-customer"], ()),
    ("clv", [ORDERS, "-m", "bgnbd", "--holdout", "26w"], ()),
    ("customers", [ORDERS, "--period-start", "2024-03-01"], ()),
    ("customers", [ORDERS, "--period-start", "2024-03-01", "--with-clv"], ()),
    ("crr", ["--start", "100", "--new", "20", "--end", "110"], ()),
    ("retention", [ORDERS, "--ci", "0.95"], ()),
    ("churn", [ORDERS, "--ci", "0.95"], ()),
    ("churn", [ORDERS, "--convention", "chartmogul"], ()),
    ("cohorts", [ORDERS, "--ci", "0.95"], ()),
    ("returns", [ORDERS, "--ci", "0.95"], ()),
    ("kpis", [ORDERS, "--ci", "0.95"], ()),
    (
        "compare",
        [ORDERS, "--customers", CUSTOMERS, "--by", "segment", "-p", "quarter"],
        ("segment",),
    ),
    ("compare", [ORDERS, "-p", "quarter", "--between", "2025-Q2", "2025-Q3"], ()),
    ("calc", ["churn", "--start", "100", "--lost", "7"], ()),
    ("calc", ["nrr", "--start-revenue", "100", "--expansion", "5", "--churned", "10"], ()),
    ("calc", ["clv", "--aov", "50", "--frequency", "2", "--lifetime", "3"], ()),
    ("calc", ["nps", "--promoters", "5", "--passives", "3", "--detractors", "2"], ()),
    ("calc", ["repeat-rate", "--customers", "10", "--repeat", "4"], ()),
    ("calc", ["return-rate", "--sold", "10", "--returned", "1"], ()),
    ("survival", [ORDERS, "--customers", CUSTOMERS], ()),
    ("survival", [ORDERS, "--summary", "--by", "channel"], ("channel",)),
]

# The report's tables: the frame of which command, and the keys it adds.
REPORT_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "kpis": ("kpis", ()),
    "retention": ("retention", ()),
    "churn": ("churn", ()),
    "cohorts": ("cohorts", ()),
    "clv": ("clv", ()),
    "clv_segments": ("clv", ("segment",)),
    "returns": ("returns", ()),
    "worst_products": ("returns", ("product_id",)),
}

runner = CliRunner()


def _ok(args: Sequence[str]) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: exit {result.exit_code}\n{result.stderr}"
    return result.stdout


def _json(args: Sequence[str]) -> object:
    return json.loads(_ok(args))


def _printed(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(command, column, where) for every column every run prints."""
    paid = tmp_path / "paid.csv"
    paid.write_text(PAID_ORDERS)
    nps = tmp_path / "nps.csv"
    nps.write_text(NPS)
    for command, args, keys in RUNS:
        filled = [a.format(paid_orders=paid, nps=nps) for a in args]
        rows = _json([command, *filled, "--format", "json"])
        rows = rows if isinstance(rows, list) else [rows]
        assert rows, f"{command} {filled} printed no rows"
        where = " ".join([command, *filled])
        for name in dict.fromkeys(k for row in rows for k in row):
            if name not in keys:
                yield command, name, where
    report = tmp_path / "report.json"
    _ok(["report", ORDERS, "--customers", CUSTOMERS, "--returns", RETURNS, "-o", str(report)])
    sections = json.loads(report.read_text())["sections"]
    tables = {key: rows for section in sections.values() for key, rows in section["tables"].items()}
    assert set(tables) == set(REPORT_TABLES)
    for key, rows in tables.items():
        command, keys = REPORT_TABLES[key]
        for name in dict.fromkeys(k for row in rows for k in row):
            if name not in keys:
                yield command, name, f"report table {key}"
    yield from _diff_printed(tmp_path)
    currency = tmp_path / "currency.csv"
    currency.write_text(CURRENCY_ORDERS)
    for args in ([ORDERS], [str(currency)], [CUSTOMERS, "--customers"]):
        found = _json(["inspect", *args, "--json"])
        assert isinstance(found, dict)
        for name, value in found.items():
            yield "inspect", name, f"inspect {args[0]}"
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for inner in value[0]:
                    yield "inspect", inner, f"inspect {args[0]}: {name}"


def _diff_printed(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """diff's columns: two retention runs by channel (the second on the first 6000 lines),
    their cells with --orders, and their effects; the compared output's keys aside."""
    lines = Path(ORDERS).read_text().splitlines(keepends=True)
    runs = []
    for name, text in (("old", "".join(lines[:6000])), ("new", "".join(lines))):
        orders = tmp_path / f"diff_{name}.csv"
        orders.write_text(text)
        out = tmp_path / f"diff_{name}.json"
        _ok(
            [
                "retention",
                str(orders),
                "--by",
                "channel",
                "-o",
                str(out),
                "--manifest",
                f"{out}.manifest.json",
            ]
        )
        runs.append((orders, out))
    (old_orders, old), (new_orders, new) = runs
    reports = []
    for name, orders in (("old", old_orders), ("new", new_orders)):
        out = tmp_path / f"diff_report_{name}.json"
        _ok(["report", str(orders), "--section", "retention", "-o", str(out)])
        reports.append(str(out))
    for name in dict.fromkeys(k for row in _json(["diff", *reports, "-f", "json"]) for k in row):
        if name != "period_start":
            yield "diff", name, "diff of two reports"
    for extra in (["--orders", str(old_orders), str(new_orders)], ["--effects"]):
        rows = _json(["diff", str(old), str(new), *extra, "--format", "json"])
        assert isinstance(rows, list) and rows
        for name in dict.fromkeys(k for row in rows for k in row):
            if name not in ("channel", "period_start"):
                yield "diff", name, f"diff {extra[0]}"


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    return list(_printed(tmp_path_factory.mktemp("registry")))


def test_every_printed_column_has_an_entry_naming_its_command(
    printed: list[tuple[str, str, str]],
) -> None:
    missing = sorted({(name, where) for _, name, where in printed if name not in COLUMNS})
    assert missing == []
    unnamed = sorted(
        {(name, command) for command, name, _ in printed if command not in COLUMNS[name].commands}
    )
    assert unnamed == []


def test_every_entry_is_printed_by_the_commands_it_names(
    printed: list[tuple[str, str, str]],
) -> None:
    seen = {(name, command) for command, name, _ in printed}
    stale = sorted(
        (c.name, command)
        for c in COLUMNS.values()
        for command in c.commands
        if (c.name, command) not in seen
    )
    assert stale == []


def test_formulas_use_registered_columns_of_the_same_command() -> None:
    from retcalc.explain import fields

    for column in COLUMNS.values():
        for name in fields(column):
            assert name in COLUMNS, (column.name, name)
            assert column.command in COLUMNS[name].commands, (column.name, name)


def test_the_metric_modules_column_lists_are_covered() -> None:
    from retcalc.metrics import (
        churn,
        cohorts,
        customers,
        forecast,
        kpis,
        retention,
        returns,
        rfm,
        survival,
    )
    from retcalc.metrics import clv as bgnbd
    from retcalc.metrics.clv import formula, historical, holdout, summary

    lists: dict[str, tuple[str, ...]] = {
        "retention": retention.RETENTION_COLUMNS,
        "churn": (*churn.CHURN_COLUMNS, churn.REVENUE_CHURN),
        "cohorts": (*cohorts.COHORT_COLUMNS, *cohorts.BRACKET_COLUMNS),
        "forecast": (*forecast.FORECAST_COLUMNS, *forecast.INTERVAL_COLUMNS),
        "returns": (*returns.RETURNS_COLUMNS, *returns.TOP_COLUMNS),
        "kpis": (
            *kpis.KPI_COLUMNS,
            *kpis.NPS_COLUMNS,
            kpis.GROWTH,
            *kpis.sequence_columns(),
            "dso",
        ),
        "rfm": (*rfm.CUSTOMER_COLUMNS, *rfm.SUMMARY_COLUMNS),
        "clv": (
            *historical.CUSTOMER_COLUMNS,
            *historical.SUMMARY_COLUMNS,
            *formula.FORMULA_COLUMNS,
            *formula.COST_COLUMNS,
            *summary.SUMMARY_COLUMNS,
            *bgnbd.SCORE_COLUMNS,
            *bgnbd.COST_COLUMNS,
            *bgnbd.GROUP_COLUMNS,
            *bgnbd.GROUP_COST_COLUMNS,
            *holdout.HOLDOUT_COLUMNS,
        ),
        "survival": (*survival.SURVIVAL_COLUMNS, *survival.SUMMARY_COLUMNS),
        "customers": (*customers.CUSTOMER_COLUMNS, *customers.CLV_COLUMNS),
    }
    for command, names in lists.items():
        for name in names:
            assert name in COLUMNS, (command, name)
            assert command in COLUMNS[name].commands, (command, name)
    rates = {
        *retention.RATE_COLUMNS,
        *churn.RATE_COLUMNS,
        *cohorts.RATE_COLUMNS,
        *forecast.RATE_COLUMNS,
        *returns.RATE_COLUMNS,
        *kpis.RATE_COLUMNS,
        *rfm.RATE_COLUMNS,
        *formula.RATE_COLUMNS,
        *survival.RATE_COLUMNS,
    }
    assert sorted(n for n in rates if COLUMNS[n].unit is not Unit.rate) == []
    money = {*churn.MONEY_COLUMNS, *cohorts.MONEY_COLUMNS}
    assert sorted(n for n in money if COLUMNS[n].unit is not Unit.money) == []


def _docs_table(text: str) -> str:
    start, end = definitions.DOCS_START, definitions.DOCS_END
    assert start in text and end in text, f"{DOCS} lacks the {start} ... {end} block"
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def test_docs_definitions_table_is_the_registry() -> None:
    assert _docs_table(DOCS.read_text()) == definitions.markdown(), (
        "docs/definitions.md differs from the registry: run "
        "`python scripts/write_definitions.py` and commit the result"
    )


def test_docs_table_has_one_row_per_entry_with_its_unit_and_commands() -> None:
    rows = [line for line in _docs_table(DOCS.read_text()).splitlines()[2:]]
    assert len(rows) == len(COLUMNS)
    for row, column in zip(rows, COLUMNS.values(), strict=True):
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        assert cells[0] == f"`{column.name}`"
        assert cells[1] == column.unit.value
        assert cells[2].split(", ") == list(column.commands)


def _explain_examples() -> list[tuple[str, str]]:
    block = re.compile(r"```console\n\$ (retcalc explain[^\n]*)\n(.*?)```", re.DOTALL)
    texts = [(ROOT / "README.md").read_text(), (ROOT / "docs" / "commands.md").read_text()]
    return [example for text in texts for example in block.findall(text)]


@pytest.mark.parametrize(("command", "expected"), _explain_examples())
def test_explain_examples_in_the_docs_are_real_output(
    command: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert _ok(shlex.split(command)[1:]) == expected


def test_every_entry_is_named_once() -> None:
    """COLUMNS is built as a dict: a second entry of a name would replace the first."""
    import ast

    import retcalc.definitions as definitions

    tree = ast.parse(Path(definitions.__file__).read_text())
    names = [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "_c"
        and isinstance(node.args[0], ast.Constant)
    ]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
