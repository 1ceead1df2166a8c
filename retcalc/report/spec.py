"""Report specs for cron: one YAML file naming everything ``retcalc report`` needs.

```yaml
inputs:                      # paths relative to this file
  orders: orders.csv
  customers: customers.csv   # optional
  returns: returns.csv       # optional
columns:                     # optional; the shape of retcalc.yaml's orders:/customers:/returns:
  orders: {customer_id: Client Ref, order_date: Booked On}
period: month                # day | week | month | quarter | year
active_window: 12mo
as_of: last_complete_month   # a date, today, last_complete_week|month|quarter|year
max_age: 3d                  # optional: exit 2 when the last order is older (30d, 8w, 3mo, 1y)
sections: [kpis, retention, revenue, cohorts, clv, returns]
fail_if: ["churn_rate > 0.25", "returns.unit_return_rate > 8%"]
output: reports/retention-{as_of}.html   # {as_of}, {period}, {today}
title: Monthly retention
```

The file is read by :func:`retcalc.yamlsafe.load_yaml_file`, PyYAML's safe loader
(no object construction) with limits on size, depth and alias expansion, so a
"billion laughs" file is refused at once. Every problem is reported with the
file, the line and the key path (``sections[2]``, ``columns.orders.customer_id``),
exit 2.
"""

from __future__ import annotations

import datetime as dt
import difflib
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from retcalc.errors import UsageError
from retcalc.io.returns_file import RETURN_COLUMNS
from retcalc.periods import Period, parse_duration, parse_window, period_start
from retcalc.report.alerts import Alert, parse_alert
from retcalc.report.build import SECTIONS
from retcalc.report.output import EXTENSIONS
from retcalc.schema import COLUMNS, Kind
from retcalc.validate import parse_day, read_small_file
from retcalc.yamlsafe import load_yaml

KEYS: tuple[str, ...] = (
    "inputs",
    "columns",
    "period",
    "active_window",
    "as_of",
    "max_age",
    "sections",
    "fail_if",
    "output",
    "title",
    "ci",
)
INPUTS: tuple[str, ...] = ("orders", "customers", "returns")
AS_OF_RULES: dict[str, Period | None] = {
    "today": None,
    "last_complete_week": Period.week,
    "last_complete_month": Period.month,
    "last_complete_quarter": Period.quarter,
    "last_complete_year": Period.year,
}
"""``as_of`` words: ``today``, or the first day of the current week/month/... (so the
report ends with the last complete one)."""

PLACEHOLDERS: tuple[str, ...] = ("as_of", "period", "today")
_KNOWN_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": tuple(c.name for c in COLUMNS[Kind.orders]),
    "customers": tuple(c.name for c in COLUMNS[Kind.customers]),
    "returns": tuple(RETURN_COLUMNS),
}


class SpecError(UsageError):
    """A report spec that cannot be used; the message names the file, line and key."""


@dataclass(frozen=True)
class ReportSpec:
    """A validated spec; paths are resolved against the spec's directory."""

    path: Path
    orders: str | None = None
    customers: str | None = None
    returns: str | None = None
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    period: Period | None = None
    active_window: str | None = None
    as_of: str | None = None  # a YYYY-MM-DD date or one of AS_OF_RULES
    max_age: str | None = None  # a duration, as --max-age
    sections: tuple[str, ...] | None = None
    fail_if: tuple[Alert, ...] = ()
    output: str | None = None  # the pattern as written, relative to the spec's directory
    title: str | None = None
    ci: float | None = None  # intervals on the rates (--ci), drawn as bands

    def output_path(self, *, as_of: dt.date, period: Period, today: dt.date) -> Path:
        """The output pattern filled in, relative to the spec's directory."""
        assert self.output is not None
        filled = fill_pattern(self.output, as_of=as_of, period=period, today=today)
        return self.path.parent / Path(filled).expanduser()


def resolve_as_of(value: str, today: dt.date) -> dt.date:
    """A date, ``today``, or ``last_complete_<period>``: the first day of ``today``'s
    period, so that every event on or after it is ignored (SPEC §2 ``--as-of``)."""
    if value in AS_OF_RULES:
        period = AS_OF_RULES[value]
        return today if period is None else period_start(today, period)
    if not value[:1].isdigit():
        raise UsageError(
            f"as_of {value!r} is not a date (YYYY-MM-DD) or one of {', '.join(AS_OF_RULES)}"
        )
    return parse_day(value, "as_of")


def check_pattern(pattern: str) -> None:
    """Refuse placeholders other than ``{as_of}``, ``{period}``, ``{today}`` (no format specs,
    no attribute access), and a file kind retcalc cannot write."""
    try:
        fields = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise UsageError(f"{pattern!r}: {exc} (write a literal brace as {{{{ or }}}})") from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            shown = (
                "{"
                + name
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise UsageError(
                f"{pattern!r}: unknown placeholder {shown}; use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )
    suffix = Path(pattern).suffix.lower()
    if suffix not in EXTENSIONS:
        raise UsageError(f"{pattern!r}: a report file ends in one of {', '.join(EXTENSIONS)}")


def fill_pattern(pattern: str, *, as_of: dt.date, period: Period, today: dt.date) -> str:
    """The output path with its placeholders filled in (dates as YYYY-MM-DD)."""
    return pattern.format(as_of=as_of.isoformat(), period=str(period), today=today.isoformat())


# ---------------------------------------------------------------------------- reading


@dataclass
class _Marks:
    """Line numbers (1-based) of each key path: of the key itself and of its value."""

    key: dict[str, int] = field(default_factory=dict)
    value: dict[str, int] = field(default_factory=dict)


def _index(node: yaml.Node, path: str, marks: _Marks, seen: set[int], name: str) -> None:
    if id(node) in seen:  # an alias: the same node again, checked once
        return
    seen.add(id(node))
    marks.value.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in first:
                raise SpecError(
                    f"{name}, line {line}: {child}: the key appears twice (first on line "
                    f"{first[key]}); keep one"
                )
            first[key] = line
            marks.key[child] = line
            _index(value_node, child, marks, seen, name)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = f"{path}[{i}]"
            marks.key[child] = item.start_mark.line + 1
            _index(item, child, marks, seen, name)


class _Checker:
    def __init__(self, name: str, marks: _Marks) -> None:
        self.name = name
        self.marks = marks

    def line(self, path: str, *, of_key: bool = False) -> int:
        table = self.marks.key if of_key else self.marks.value
        while path:
            if path in table:
                return table[path]
            if path in self.marks.key:
                return self.marks.key[path]
            path = path.rsplit("[", 1)[0] if path.endswith("]") else path.rpartition(".")[0]
        return 1

    def fail(self, path: str, problem: str, *, of_key: bool = False) -> SpecError:
        where = f"{path}: " if path else ""
        return SpecError(f"{self.name}, line {self.line(path, of_key=of_key)}: {where}{problem}")

    def mapping(self, value: Any, path: str, known: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping with {', '.join(known)}, got {_kind(value)}")
        for key in value:
            if str(key) not in known:
                child = f"{path}.{key}" if path else str(key)
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise self.fail(
                    child, f"unknown key{hint}; known keys are {', '.join(known)}", of_key=True
                )
        return value

    def text(self, value: Any, path: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float | dt.date):
            raise self.fail(path, f"expected text, got {_kind(value)}")
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        if not text.strip():
            raise self.fail(path, "is empty")
        return text.strip()


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value; quote it)"
    return repr(value)


def _columns(check: _Checker, raw: Any) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for kind, section in check.mapping(raw, "columns", INPUTS).items():
        path = f"columns.{kind}"
        if section is None:
            continue
        if isinstance(section, Mapping) and list(section) == ["columns"]:
            section, path = section["columns"], f"{path}.columns"
        known = _KNOWN_COLUMNS[str(kind)]
        mapped = check.mapping(section, path, known)
        out[str(kind)] = {str(k): check.text(v, f"{path}.{k}") for k, v in mapped.items()}
    return out


def parse_spec(text: str, *, path: Path) -> ReportSpec:
    """Validate a spec's text; ``path`` names it in messages and anchors relative paths."""
    name = str(path)
    data, root = load_yaml(text, name=name, error=SpecError)
    if root is None or data is None:
        raise SpecError(f"{name}: the spec is empty; it needs at least inputs.orders and output")
    marks = _Marks()
    _index(root, "", marks, set(), name)
    check = _Checker(name, marks)
    spec = check.mapping(data, "", KEYS)
    base = path.parent

    def place(value: str) -> str:
        return value if value == "-" else str(base / Path(value).expanduser())

    values: dict[str, Any] = {}
    if "inputs" in spec:
        inputs = check.mapping(spec["inputs"], "inputs", INPUTS)
        for key in INPUTS:
            if inputs.get(key) is not None:
                values[key] = place(check.text(inputs[key], f"inputs.{key}"))
    if spec.get("columns") is not None:
        values["columns"] = _columns(check, spec["columns"])
    if "period" in spec:
        word = check.text(spec["period"], "period")
        try:
            values["period"] = Period(word.lower())
        except ValueError:
            raise check.fail(
                "period", f"{word!r} is not a period; use {', '.join(p.value for p in Period)}"
            ) from None
    if "active_window" in spec:
        window = check.text(spec["active_window"], "active_window")
        try:
            parse_window(window, "active_window")
        except UsageError as exc:
            raise check.fail("active_window", exc.message.removeprefix("active_window ")) from None
        values["active_window"] = window
    if "as_of" in spec:
        rule = check.text(spec["as_of"], "as_of")
        try:
            resolve_as_of(rule, dt.date.today())
        except UsageError as exc:
            raise check.fail("as_of", exc.message.removeprefix("as_of ")) from None
        values["as_of"] = rule
    if "max_age" in spec:
        age = check.text(spec["max_age"], "max_age")
        try:
            parse_duration(age, "max_age")
        except UsageError as exc:
            raise check.fail("max_age", exc.message.removeprefix("max_age ")) from None
        values["max_age"] = age
    if "sections" in spec:
        raw = spec["sections"]
        if not isinstance(raw, list) or not raw:
            raise check.fail(
                "sections", f"expected a list of sections, some of {', '.join(SECTIONS)}"
            )
        chosen: list[str] = []
        for i, item in enumerate(raw):
            word = check.text(item, f"sections[{i}]")
            if word not in SECTIONS:
                close = difflib.get_close_matches(word, SECTIONS, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise check.fail(
                    f"sections[{i}]",
                    f"{word!r} is not a section{hint}; sections are {', '.join(SECTIONS)}",
                )
            if word in chosen:
                raise check.fail(f"sections[{i}]", f"{word!r} is listed twice")
            chosen.append(word)
        values["sections"] = tuple(chosen)
    if spec.get("fail_if") is not None:
        raw = spec["fail_if"]
        items = raw if isinstance(raw, list) else [raw]
        alerts = []
        for i, item in enumerate(items):
            where = f"fail_if[{i}]" if isinstance(raw, list) else "fail_if"
            try:
                alerts.append(parse_alert(check.text(item, where)))
            except UsageError as exc:
                if isinstance(exc, SpecError):
                    raise
                raise check.fail(where, exc.message) from None
        values["fail_if"] = tuple(alerts)
    if "output" in spec:
        pattern = check.text(spec["output"], "output")
        try:
            check_pattern(pattern)
        except UsageError as exc:
            raise check.fail("output", exc.message) from None
        values["output"] = pattern
    if "title" in spec:
        values["title"] = check.text(spec["title"], "title")
    if "ci" in spec:
        level = spec["ci"]
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
            raise check.fail("ci", f"a confidence level between 0 and 1 (0.95), not {level!r}")
        values["ci"] = float(level)
    return ReportSpec(path=path, **values)


def load_spec(path: Path) -> ReportSpec:
    """Read and validate the spec file at ``path``."""
    return parse_spec(read_small_file(path, "--spec", error=SpecError), path=path)
