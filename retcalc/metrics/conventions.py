"""Vendor conventions (``--convention``, SPEC §10): the definitional choices where
ChartMogul, Baremetrics and Amplitude differ from retcalc's defaults, one table.

Each :class:`Convention` lists its choices as fields; the metrics read the fields
(never the vendor's name), so a convention is data, not a second copy of a metric.
``DEFAULT`` is retcalc's own choice on every field. docs/conventions.md quotes each
vendor's public definition and gives its address.

No Polars here: the command line reads the names to declare its option.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from retcalc.errors import UsageError


class Vendor(StrEnum):
    """The names ``--convention`` takes."""

    chartmogul = "chartmogul"
    baremetrics = "baremetrics"
    amplitude = "amplitude"


class RevenueChurn(StrEnum):
    """Which revenue churn rate ``revenue_churn_rate`` is (churn gets the column only
    under a convention that defines one)."""

    net = "net"  # (churned + contraction - expansion - reactivation) / previous revenue
    gross = "gross"  # (churned + contraction) / previous revenue


#: A "day", "week" and "month" counted in whole days from each customer's first
#: purchase day (cohort offsets under ``rolling_days``).
ROLLING_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30}


@dataclass(frozen=True)
class Convention:
    """The choices of one vendor; every field's default is retcalc's choice."""

    name: str
    #: The commands whose figures the vendor defines; other commands refuse the convention.
    commands: frozenset[str]
    #: ``churned`` also counts customers who joined and left in the same period
    #: (retcalc's ``new_lost``); the denominator stays customers_start.
    join_and_churn: bool = False
    #: quick_ratio's numerator holds reactivation revenue.
    quick_ratio_reactivation: bool = True
    #: churn adds ``revenue_churn_rate``, this kind of it.
    revenue_churn: RevenueChurn | None = None
    #: cohort offsets count days, 7-day weeks and 30-day months from each customer's
    #: first purchase day, instead of calendar periods since the cohort period.
    rolling_days: bool = False
    #: Where the vendor says so (docs/conventions.md quotes it).
    source: str = ""

    def changes(self, command: str) -> list[str]:
        """What this convention changes in ``command``'s output, in words (for stderr
        and ``explain``); empty when it changes nothing there."""
        said: list[str] = []
        if command in ("churn", "retention", "kpis") and self.join_and_churn:
            said.append(
                "churned (and churn_rate) also count customers who joined and left in the "
                "same period"
            )
        if command == "churn" and not self.quick_ratio_reactivation:
            said.append("quick_ratio = (new + expansion) / (contraction + churned)")
        if command == "churn" and self.revenue_churn is RevenueChurn.net:
            said.append(
                "revenue_churn_rate = (churned + contraction - expansion - reactivation) "
                "revenue / previous_revenue"
            )
        if command == "churn" and self.revenue_churn is RevenueChurn.gross:
            said.append("revenue_churn_rate = (churned + contraction) revenue / previous_revenue")
        if command == "cohorts" and self.rolling_days:
            said.append(
                "offsets count 1-day, 7-day or 30-day steps from each customer's first purchase day"
            )
        return said


ALL_COMMANDS = frozenset({"churn", "retention", "kpis", "cohorts"})

DEFAULT = Convention(name="retcalc", commands=ALL_COMMANDS)

CONVENTIONS: dict[str, Convention] = {
    "chartmogul": Convention(
        name="chartmogul",
        commands=frozenset({"churn", "retention", "kpis"}),
        revenue_churn=RevenueChurn.net,
        source="https://help.chartmogul.com/hc/en-us/articles/207340419",
    ),
    "baremetrics": Convention(
        name="baremetrics",
        commands=frozenset({"churn", "retention", "kpis"}),
        join_and_churn=True,
        quick_ratio_reactivation=False,
        revenue_churn=RevenueChurn.gross,
        source="https://help.baremetrics.com/en/articles/5380347-user-and-revenue-churn",
    ),
    "amplitude": Convention(
        name="amplitude",
        commands=frozenset({"cohorts"}),
        rolling_days=True,
        source="https://amplitude.com/docs/analytics/charts/retention-analysis/retention-analysis-time",
    ),
}

#: The names ``--convention`` takes.
NAMES: tuple[str, ...] = tuple(v.value for v in Vendor)


def convention_for(name: str | Convention | None, command: str) -> Convention:
    """The convention named (``DEFAULT`` for None), checked against ``command``: a
    vendor that does not define the command's figures is a usage error (exit 2)."""
    if name is None:
        return DEFAULT
    if isinstance(name, Convention):
        chosen = name
    else:
        chosen = CONVENTIONS.get(str(name).lower())  # type: ignore[assignment]
        if chosen is None:
            raise UsageError(f"--convention {name!r}: use one of {', '.join(NAMES)}")
    if command not in chosen.commands:
        where = ", ".join(sorted(chosen.commands))
        raise UsageError(
            f"--convention {chosen.name} does not apply to {command}: {chosen.name} defines "
            f"the figures of {where} only (see docs/conventions.md)"
        )
    return chosen


def said(convention: Convention, command: str) -> str:
    """The line that says which convention a command used (stderr, ``explain``)."""
    changes = convention.changes(command)
    if not changes:
        return (
            f"convention {convention.name}: {command}'s figures are defined as retcalc "
            "defines them; nothing changes (docs/conventions.md)"
        )
    return f"convention {convention.name}: " + "; ".join(changes) + " (docs/conventions.md)"


def check_period(convention: Convention, period: str) -> None:
    """Rolling days exist for day, week and month only (Amplitude has no other)."""
    if convention.rolling_days and str(period) not in ROLLING_DAYS:
        raise UsageError(
            f"--convention {convention.name} counts days, 7-day weeks and 30-day months; "
            f"--period {period} has no such length: use --period day, week or month"
        )
