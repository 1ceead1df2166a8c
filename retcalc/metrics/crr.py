"""The classic customer retention rate by hand (SPEC §2.3)."""

from __future__ import annotations

from retcalc.errors import UsageError


def classic_crr(*, start: int, new: int, end: int) -> float:
    """CRR = (CE - CN) / CS: customers at the end, less the new ones, over customers at the start."""
    for flag, value in (("--start", start), ("--new", new), ("--end", end)):
        if value < 0:
            raise UsageError(f"{flag} {value}: a count of customers cannot be negative")
    if start == 0:
        raise UsageError("--start 0: with no customers at the start there is no rate to compute")
    if new > end:
        raise UsageError(
            f"--new {new} is more than --end {end}: the customers at the end include the new ones"
        )
    return (end - new) / start
