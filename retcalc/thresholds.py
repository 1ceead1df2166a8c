"""``--fail-if "COLUMN OP NUMBER"``: alert conditions for cron runs (SPEC §5)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retcalc.errors import UsageError
from retcalc.lazy import LazyModule

if TYPE_CHECKING:
    import polars as pl
else:
    pl = LazyModule("polars")  # see retcalc.lazy

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.]+%?)\s*$")


@dataclass(frozen=True)
class Condition:
    """One parsed condition, e.g. ``churn_rate > 0.07``."""

    column: str
    op: str
    value: float
    text: str

    def holds(self, actual: float) -> bool:
        return _OPS[self.op](actual, self.value)


def parse(text: str) -> Condition:
    """Parse ``column op number``; ``7%`` is read as 0.07."""
    match = _RE.match(text)
    if not match:
        raise UsageError(
            f"--fail-if {text!r} is not a condition: write COLUMN OP NUMBER, e.g. "
            '"churn_rate > 0.07" (OP is one of > >= < <= == !=)'
        )
    column, op, number = match.groups()
    try:
        value = float(number.rstrip("%")) / (100 if number.endswith("%") else 1)
    except ValueError:
        raise UsageError(f"--fail-if {text!r}: {number!r} is not a number") from None
    return Condition(column, op, value, text.strip())


@dataclass(frozen=True)
class Breach:
    """A condition that held, and where."""

    condition: Condition
    actual: float
    where: str

    def message(self) -> str:
        return (
            f"threshold crossed: {self.condition.column} = {self.actual:.6g} "
            f"{self.condition.op} {self.condition.value:.6g} in {self.where}"
        )


def check(
    table: pl.DataFrame, conditions: Sequence[Condition], *, keys: Sequence[str] = ()
) -> list[Breach]:
    """Evaluate each condition on the last complete period (per ``keys`` group)."""
    if not conditions:
        return []
    for cond in conditions:
        if cond.column not in table.columns:
            numeric = [c for c, t in table.schema.items() if t.is_numeric()]
            raise UsageError(
                f"--fail-if: no column {cond.column!r} in this output; "
                f"numeric columns are: {', '.join(numeric)}"
            )
        if not table.schema[cond.column].is_numeric():
            raise UsageError(f"--fail-if: column {cond.column!r} is not numeric")
    rows = table
    if "complete" in table.columns:
        rows = table.filter(pl.col("complete"))
    if rows.height == 0:
        raise UsageError("--fail-if: no complete period to check; widen the range or pass --as-of")
    order = [c for c in ("period_start",) if c in rows.columns]
    if keys:
        last = rows.sort([*keys, *order]).group_by(list(keys), maintain_order=True).last()
    else:
        last = (rows.sort(order) if order else rows).tail(1)
    breaches: list[Breach] = []
    for row in last.iter_rows(named=True):
        where = f"period {row['period_start']}" if "period_start" in row else "the result"
        if keys:
            where += " (" + ", ".join(f"{k}={row[k]}" for k in keys) + ")"
        for cond in conditions:
            actual = row[cond.column]
            if actual is not None and cond.holds(float(actual)):
                breaches.append(Breach(cond, float(actual), where))
    return breaches
