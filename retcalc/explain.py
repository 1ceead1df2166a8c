"""``retcalc explain``'s formulas filled in with a row's numbers.

The definitions themselves (meaning, unit, formula, the commands that print a
column) are the registry of :mod:`retcalc.definitions`; this module shows them
with a row's numbers, e.g. ``(1,310 − 223) / 1,231 = 88.3 %``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from retcalc.definitions import COLUMNS, Column

#: The registry, by column name (``retcalc explain`` lists it).
METRICS: dict[str, Column] = COLUMNS

_FIELD = re.compile(r"\{([a-z_]+)\}")


def fields(metric: Column) -> list[str]:
    """The columns a metric's formula uses, each once."""
    return list(dict.fromkeys(_FIELD.findall(metric.formula or "")))


def number(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value - round(value)) > 1e-9 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _shown(value: Any, percent: bool) -> str:
    if value is None:
        return "null (the denominator is 0)"
    if percent:
        return f"{value:.4f} ({value * 100:.1f} %)"
    return number(value)


def filled(metric: Column, row: Mapping[str, Any]) -> str:
    """The formula with the row's numbers, then ``=`` and the value the command printed."""
    value = row.get(metric.name)
    if metric.formula is None:
        return f"{metric.name} = {_shown(value, metric.percent)}"
    text = _FIELD.sub(lambda m: number(row.get(m.group(1))), metric.formula)
    return f"{metric.name} = {text} = {_shown(value, metric.percent)}"
