"""Report specs: what a valid one gives, and every invalid one named by line and key path."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from retcalc.errors import UsageError
from retcalc.periods import Period
from retcalc.report.alerts import parse_alert
from retcalc.report.spec import (
    SpecError,
    check_pattern,
    fill_pattern,
    load_spec,
    parse_spec,
    resolve_as_of,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_sample_spec() -> None:
    spec = load_spec(ROOT / "sample_data" / "report.yaml")
    base = ROOT / "sample_data"
    assert spec.orders == str(base / "orders.csv")
    assert spec.customers == str(base / "customers.csv")
    assert spec.returns == str(base / "returns.csv")
    assert spec.period is Period.month
    assert spec.active_window == "12mo"
    assert spec.as_of == "last_complete_month"
    assert spec.sections == ("kpis", "retention", "revenue", "cohorts", "clv", "returns")
    assert [(a.table, a.condition.column, a.condition.value) for a in spec.fail_if] == [
        ("retention", "churn_rate", 0.25),
        ("returns", "unit_return_rate", 0.10),
    ]
    assert spec.columns == {"orders": {"customer_id": "customer_id", "order_date": "order_date"}}
    out = spec.output_path(
        as_of=dt.date(2026, 1, 1), period=Period.month, today=dt.date(2026, 1, 5)
    )
    assert out == base / "reports" / "retention-2026-01-01.html"


WEDNESDAY = dt.date(2025, 8, 20)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("today", dt.date(2025, 8, 20)),
        ("last_complete_week", dt.date(2025, 8, 18)),
        ("last_complete_month", dt.date(2025, 8, 1)),
        ("last_complete_quarter", dt.date(2025, 7, 1)),
        ("last_complete_year", dt.date(2025, 1, 1)),
        ("2024-02-29", dt.date(2024, 2, 29)),
    ],
    ids=lambda v: str(v),
)
def test_as_of_rules_are_relative_to_today(rule: str, expected: dt.date) -> None:
    assert resolve_as_of(rule, WEDNESDAY) == expected


def test_output_pattern() -> None:
    filled = fill_pattern(
        "r/{period}/retention-{as_of}-{today}.html",
        as_of=dt.date(2025, 8, 1),
        period=Period.month,
        today=WEDNESDAY,
    )
    assert filled == "r/month/retention-2025-08-01-2025-08-20.html"


@pytest.mark.parametrize(
    "pattern",
    ["r-{as_of.__class__}.html", "r-{0}.html", "r-{as_of:%Y}.html", "r-{as_of!r}.html", "r-{.html"],
)
def test_output_pattern_refuses_anything_but_the_three_names(pattern: str) -> None:
    with pytest.raises(UsageError):
        check_pattern(pattern)


def spec_error(text: str, tmp_path: Path) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(text, path=tmp_path / "report.yaml")
    return info.value.message


GOOD = "inputs:\n  orders: orders.csv\noutput: r.html\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + "period: montly\n", "line 4: period: 'montly' is not a period"),
        (GOOD + "perod: month\n", "line 4: perod: unknown key (did you mean period?)"),
        (
            GOOD + "sections:\n  - kpis\n  - cohort\n",
            "line 6: sections[1]: 'cohort' is not a section (did you mean cohorts?)",
        ),
        (GOOD + "sections: []\n", "line 4: sections: expected a list of sections"),
        (GOOD + "sections: [kpis, kpis]\n", "line 4: sections[1]: 'kpis' is listed twice"),
        (
            "inputs:\n  orders: o.csv\n  oders: x.csv\noutput: r.html\n",
            "line 3: inputs.oders: unknown key (did you mean orders?)",
        ),
        ("inputs: orders.csv\noutput: r.html\n", "line 1: inputs: expected a mapping"),
        (
            GOOD + "columns:\n  orders:\n    customer: Client\n",
            "line 6: columns.orders.customer: unknown key (did you mean customer_id?)",
        ),
        (
            GOOD + "columns:\n  returns:\n    columns:\n      return_day: x\n",
            "line 7: columns.returns.columns.return_day: unknown key (did you mean return_date?)",
        ),
        (
            GOOD + "columns:\n  orders:\n    order_date: [a, b]\n",
            "line 6: columns.orders.order_date: expected text, got a list",
        ),
        (GOOD + "active_window: 12\n", "line 4: active_window: '12' is not a window"),
        (GOOD + "as_of: last_month\n", "line 4: as_of: 'last_month' is not a date"),
        (
            GOOD + "fail_if:\n  - churn_rate > 0.1\n  - churn_rat > 0.2\n",
            "line 6: fail_if[1]: 'churn_rat > 0.2': no table of the report has a column "
            "'churn_rat' (did you mean churn_rate?)",
        ),
        (
            GOOD + "fail_if: churn_rate is high\n",
            "line 4: fail_if: 'churn_rate is high' is not a condition",
        ),
        (
            GOOD + "fail_if: [retention.nrr > 1]\n",
            "line 4: fail_if[0]: 'retention.nrr > 1': the retention table has no column 'nrr'",
        ),
        (
            "inputs:\n  orders: o.csv\noutput: 'r-{asof}.html'\n",
            "line 3: output: 'r-{asof}.html': unknown placeholder {asof}",
        ),
        (
            "inputs:\n  orders: o.csv\noutput: r.pdf\n",
            "line 3: output: 'r.pdf': a report file ends in one of",
        ),
        (
            GOOD + "period: month\nperiod: week\n",
            "line 5: period: the key appears twice (first on line 4)",
        ),
        (
            GOOD + "title: yes\n",
            "line 4: title: expected text, got true (a yes/no value; quote it)",
        ),
        (GOOD + "ci: 95\n", "line 4: ci: a confidence level between 0 and 1 (0.95), not 95"),
        (GOOD + "ci: yes\n", "line 4: ci: a confidence level between 0 and 1"),
        ("inputs:\n  orders: [\n", "line 3, column 1: not valid YAML"),
        ("- a\n- b\n", "line 1: expected a mapping with inputs"),
        ("", "the spec is empty"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_invalid_specs_name_the_line_and_key(text: str, expected: str, tmp_path: Path) -> None:
    message = spec_error(text, tmp_path)
    assert message.startswith(str(tmp_path / "report.yaml") + ", line ") or "empty" in expected
    assert expected in message


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f'inputs: !!python/object/apply:os.system ["touch {marker}"]\noutput: r.html\n'
    message = spec_error(text, tmp_path)
    assert "line 1" in message and "python/object/apply" in message
    assert not marker.exists()


def test_aliases_do_not_explode(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append("sections: *a8")
    started = time.perf_counter()
    message = spec_error("\n".join(lines) + "\n", tmp_path)
    assert time.perf_counter() - started < 2
    # Expanded, a0 holds 11 values, a1 1 + 10 * 11 = 111, ... a4 111,111 > 100,000 (line 5).
    assert "line 5: a4: holds more than 100,000 values once its aliases" in message


def test_relative_paths_are_read_from_the_spec_directory(tmp_path: Path) -> None:
    spec = parse_spec(
        "inputs:\n  orders: data/o.csv\n  customers: /abs/c.csv\noutput: out/r-{today}.md\n",
        path=tmp_path / "specs" / "r.yaml",
    )
    assert spec.orders == str(tmp_path / "specs" / "data" / "o.csv")
    assert spec.customers == "/abs/c.csv"
    out = spec.output_path(as_of=WEDNESDAY, period=Period.week, today=WEDNESDAY)
    assert out == tmp_path / "specs" / "out" / "r-2025-08-20.md"


def test_a_date_as_of_may_be_written_unquoted(tmp_path: Path) -> None:
    spec = parse_spec(GOOD + "as_of: 2025-07-01\n", path=tmp_path / "r.yaml")
    assert spec.as_of == "2025-07-01"


@pytest.mark.parametrize(
    ("text", "table", "column"),
    [
        ("churn_rate > 0.07", "retention", "churn_rate"),
        ("nrr < 0.9", "churn", "nrr"),
        ("unit_return_rate >= 8%", "returns", "unit_return_rate"),
        ("aov < 50", "kpis", "aov"),
        ("retention < 0.1", "cohorts", "retention"),
        ("kpis.churn_rate > 0.5", "kpis", "churn_rate"),
    ],
)
def test_alert_tables(text: str, table: str, column: str) -> None:
    alert = parse_alert(text)
    assert (alert.table, alert.condition.column) == (table, column)


def test_a_confidence_level(tmp_path: Path) -> None:
    assert parse_spec(GOOD + "ci: 0.9\n", path=tmp_path / "r.yaml").ci == 0.9
    assert parse_spec(GOOD, path=tmp_path / "r.yaml").ci is None
