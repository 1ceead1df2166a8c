"""What a report holds: sections of tables and charts, and the sections left out (and why)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import polars as pl


class View(StrEnum):
    """How a table is shown to people (HTML and Markdown); machines get the frame as is."""

    table = "table"
    cards = "cards"  # a one-row frame as label/value cards (HTML), metric/value rows (Markdown)
    triangle = "triangle"  # a long cohort frame pivoted to cohorts x offsets, cells shaded


@dataclass(frozen=True)
class ReportTable:
    """One table: ``name`` is its key in JSON and its XLSX sheet; the frame is exactly what
    the matching command writes with ``--format json`` (rates as fractions)."""

    name: str
    title: str
    frame: pl.DataFrame
    percent_columns: tuple[str, ...] = ()
    view: View = View.table
    value: str | None = None  # the cell value of a triangle view
    machine: bool = True  # in JSON and XLSX; False for a view of another table (KPI cards)


@dataclass(frozen=True)
class Chart:
    """A rendered chart: SVG bytes, ``name`` (file stem for Markdown) and its caption."""

    name: str
    title: str
    svg: bytes
    caption: str | None = None


@dataclass(frozen=True)
class Section:
    """One section of the report with the sentence that defines its figures."""

    key: str
    title: str
    definition: str
    tables: tuple[ReportTable, ...] = ()
    charts: tuple[Chart, ...] = ()
    notes: tuple[str, ...] = ()
    basis: str | None = None  # what its churn is counted on (activity, subscription), if any


@dataclass(frozen=True)
class Omitted:
    """A section left out, with the reason (missing inputs, a model that cannot be fitted)."""

    key: str
    title: str
    reason: str


@dataclass(frozen=True)
class Report:
    """The sections in order, the facts shown in the header, and the sections left out."""

    title: str
    facts: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    omitted: tuple[Omitted, ...] = ()
    order: tuple[str, ...] = ()  # section keys as requested, left-out ones included
    footer: str = ""
    meta: dict[str, str | None] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None  # the run's (retcalc.manifest); JSON holds it

    def table(self, name: str) -> ReportTable | None:
        """The table called ``name``, if a section has it."""
        for section in self.sections:
            for table in section.tables:
                if table.name == name:
                    return table
        return None

    def omission(self, key: str) -> Omitted | None:
        """Why section ``key`` was left out, if it was."""
        return next((o for o in self.omitted if o.key == key), None)

    def in_order(self) -> list[Section | Omitted]:
        """Sections and left-out sections in the requested order."""
        by_key: dict[str, Section | Omitted] = {s.key: s for s in self.sections}
        by_key.update({o.key: o for o in self.omitted})
        keys = list(self.order) or list(by_key)
        return [by_key[k] for k in keys if k in by_key]
