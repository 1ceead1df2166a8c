"""The choices of metric options (``--basis``, ``cohorts --mode``, ``clv --time-unit``), apart from the
metric modules so that the command line can declare its options without Polars."""

from __future__ import annotations

from enum import StrEnum


class Basis(StrEnum):
    """Which definition of "active" to use."""

    activity = "activity"
    subscription = "subscription"


class Mode(StrEnum):
    """Which purchases count a cohort member in offset ``k``."""

    on = "on"  # a purchase in offset k
    on_or_after = "on-or-after"  # a purchase in offset k or any later offset ("unbounded")


class TimeUnit(StrEnum):
    """The unit of ``recency``, ``T`` and the model's time (``--time-unit``)."""

    day = "day"
    week = "week"

    @property
    def days(self) -> int:
        """Days in one unit."""
        return 1 if self is TimeUnit.day else 7
