"""``fail_if`` for reports: ``[TABLE.]COLUMN OP NUMBER`` checked after the report is written.

A condition names a column of one of the report's period tables (``retention``,
``churn``, ``returns``), of ``kpis`` (one row over the range) or of ``cohorts``.
Without a table, the first of those (in that order) that has the column is
used, so ``churn_rate > 0.07`` reads the retention table exactly as
``retcalc retention --fail-if`` does. The check itself is ``retcalc.thresholds``:
the last complete period (for cohorts, the latest complete cell of each offset).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from retcalc import thresholds
from retcalc.errors import UsageError
from retcalc.metrics.churn import CHURN_COLUMNS
from retcalc.metrics.cohorts import COHORT_COLUMNS
from retcalc.metrics.kpis import GROWTH, KPI_COLUMNS
from retcalc.metrics.retention import RETENTION_COLUMNS
from retcalc.metrics.returns import RETURNS_COLUMNS
from retcalc.report.model import Report

#: Tables a condition can read, in the order an unqualified column is looked up.
COLUMNS: dict[str, tuple[str, ...]] = {
    "retention": RETENTION_COLUMNS,
    "churn": CHURN_COLUMNS,
    "returns": RETURNS_COLUMNS,
    "kpis": (*KPI_COLUMNS, GROWTH),
    "cohorts": COHORT_COLUMNS,
}
#: The section each table belongs to.
SECTION_OF = {
    "retention": "retention",
    "churn": "revenue",
    "returns": "returns",
    "kpis": "kpis",
    "cohorts": "cohorts",
}
_KEYS: dict[str, tuple[str, ...]] = {"cohorts": ("offset",)}
_NOT_CHECKED = {"period_start", "period_end", "complete", "cohort"}
_QUALIFIED = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\.(.*)$")
SYNTAX = (
    'write [TABLE.]COLUMN OP NUMBER, e.g. "churn_rate > 0.07" or "returns.unit_return_rate >= 8%"'
)


@dataclass(frozen=True)
class Alert:
    """One parsed condition and the table it reads."""

    table: str
    condition: thresholds.Condition
    text: str


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def parse_alert(text: str) -> Alert:
    """Parse one condition; a bad one is a UsageError naming what is wrong."""
    table: str | None = None
    rest = text
    match = _QUALIFIED.match(text)
    if match:
        table, rest = match.group(1), match.group(2)
        if table not in COLUMNS:
            raise UsageError(
                f"{text!r}: no table {table!r} to check; tables are {', '.join(COLUMNS)}"
                + _suggest(table, list(COLUMNS))
            )
    try:
        condition = thresholds.parse(rest)
    except UsageError:
        raise UsageError(f"{text!r} is not a condition: {SYNTAX}") from None
    condition = thresholds.Condition(condition.column, condition.op, condition.value, text.strip())
    column = condition.column
    if table is None:
        table = next((t for t, cols in COLUMNS.items() if column in cols), None)
        if table is None:
            every = sorted({c for cols in COLUMNS.values() for c in cols} - _NOT_CHECKED)
            raise UsageError(
                f"{text!r}: no table of the report has a column {column!r}"
                + _suggest(column, every)
            )
    elif column not in COLUMNS[table]:
        raise UsageError(
            f"{text!r}: the {table} table has no column {column!r}; its columns are "
            f"{', '.join(c for c in COLUMNS[table] if c not in _NOT_CHECKED)}"
            + _suggest(column, COLUMNS[table])
        )
    return Alert(table, condition, text.strip())


def check(report: Report, alerts: Sequence[Alert]) -> list[str]:
    """The crossings, as messages. A condition whose table is not in the report (its section
    was not asked for, or was left out) is a UsageError: the alert could not be checked."""
    messages: list[str] = []
    for alert in alerts:
        table = report.table(alert.table)
        if table is None:
            section = SECTION_OF[alert.table]
            left_out = report.omission(section)
            why = f"left out: {left_out.reason}" if left_out else "not asked for"
            raise UsageError(
                f"fail_if {alert.text!r} cannot be checked: the {section} section is not in "
                f"the report ({why})"
            )
        for breach in thresholds.check(
            table.frame, [alert.condition], keys=_KEYS.get(alert.table, ())
        ):
            messages.append(f"{alert.table}: {breach.message()}")
    return messages
