"""The choices of metric options (``--basis``, ``cohorts --mode``, ``clv --time-unit``), apart from the
metric modules so that the command line can declare its options without Polars."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from retcalc.errors import UsageError
from retcalc.validate import MAX_OFFSET


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


class BracketUnit(StrEnum):
    """What the numbers of ``cohorts --brackets`` count (``--bracket-unit``)."""

    period = "period"  # offsets: calendar periods of --period since the cohort's period
    day = "day"  # days since the customer's first purchase (or signup) day


@dataclass(frozen=True)
class Brackets:
    """``cohorts --brackets``: inclusive ranges ``start-end`` of offsets (or days), in
    ascending order and not overlapping."""

    spans: tuple[tuple[int, int], ...]
    unit: BracketUnit = BracketUnit.period

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f"{a}-{b}" for a, b in self.spans)


_BRACKETS_EXAMPLE = "e.g. --brackets 0-7,8-30,31-90"


def parse_brackets(text: str, unit: BracketUnit | str = BracketUnit.period) -> Brackets:
    """``"0-7,8-30,31-90"`` (a single number ``N`` is ``N-N``) as :class:`Brackets`;
    a UsageError naming ``--brackets`` and the bad bracket otherwise."""
    try:
        chosen = BracketUnit(unit)
    except ValueError:
        raise UsageError(f"--bracket-unit {unit!r}: use period or day") from None
    spans: list[tuple[int, int]] = []
    for piece in text.split(","):
        bracket = piece.strip()
        if not bracket:
            raise UsageError(
                f"--brackets {text!r}: an empty bracket; give START-END ranges separated "
                f"by commas, {_BRACKETS_EXAMPLE}"
            )
        ends = [part.strip() for part in bracket.split("-")]
        if len(ends) > 2 or not all(e.isascii() and e.isdigit() for e in ends):
            raise UsageError(
                f"--brackets: {bracket!r} is not a bracket; write START-END with whole "
                f"numbers 0 or more (START alone for one offset), {_BRACKETS_EXAMPLE}"
            )
        start, end = int(ends[0]), int(ends[-1])
        if end < start:
            raise UsageError(
                f"--brackets: {bracket!r} ends before it starts; write the smaller number "
                f"first ({end}-{start})"
            )
        if end > MAX_OFFSET:
            raise UsageError(f"--brackets: {bracket!r} goes past {MAX_OFFSET}")
        spans.append((start, end))
    ordered = sorted(spans)
    for (a0, b0), (a1, b1) in pairwise(ordered):
        if a1 <= b0:
            raise UsageError(
                f"--brackets: {a1}-{b1} overlaps {a0}-{b0}; each offset may be in one "
                f"bracket only, {_BRACKETS_EXAMPLE}"
            )
    return Brackets(tuple(ordered), chosen)
