"""The hand calculator (``retcalc calc``): the formulas of the retention articles on
numbers people already have, one row each, with the same column names, meanings and
formulas as the commands that compute them from orders (:mod:`retcalc.definitions`).

- churn: churn_rate = churned / customers_start
- nrr: nrr = (previous_revenue + expansion - contraction - churned_revenue) /
  previous_revenue; grr the same without the expansion
- clv: annual_churn_rate = 1 / expected_lifetime_years; discounted_lifetime_years =
  1 / (annual_churn_rate + discount_rate); clv = aov x purchases_per_year x margin x
  discounted_lifetime_years (as ``clv --model formula``)
- nps: 100 x (promoters - detractors) / nps_responses, in points
- repeat-rate: repeat_purchase_rate = repeat_customers / customers
- return-rate: return_rate = returned / sold

A number that makes the formula meaningless (a negative count, more lost than there
were, a zero denominator) is refused naming its flag: exit 2, never a made-up figure.
Imports nothing heavy: the row is plain Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from retcalc.errors import UsageError

Row = dict[str, Any]


@dataclass(frozen=True)
class Formula:
    """One calculator: its columns in order, the ones it computes, and the formulas of
    those that the registry gives over columns a ``calc`` row does not have."""

    name: str
    compute: Callable[..., Row]
    results: tuple[str, ...]
    formulas: tuple[tuple[str, str], ...] = ()


def _count(flag: str, value: int) -> None:
    if value < 0:
        raise UsageError(f"{flag} {value}: a count cannot be negative")


def _amount(flag: str, value: float, *, positive: bool = False) -> None:
    if not math.isfinite(value):
        raise UsageError(f"{flag} {value}: give a finite number")
    if value < 0 or (positive and value == 0):
        need = "more than 0" if positive else "0 or more"
        raise UsageError(f"{flag} {value}: give an amount of {need}")


def _at_most(flag: str, value: float, other_flag: str, other: float, why: str) -> None:
    if value > other:
        raise UsageError(f"{flag} {value:g} is more than {other_flag} {other:g}: {why}")


def churn(*, start: int, lost: int) -> Row:
    _count("--start", start)
    _count("--lost", lost)
    if start == 0:
        raise UsageError("--start 0: with no customers at the start there is no rate to compute")
    _at_most("--lost", lost, "--start", start, "only customers there at the start can be lost")
    return {"customers_start": start, "churned": lost, "churn_rate": lost / start}


def nrr(*, start_revenue: float, expansion: float, contraction: float, churned: float) -> Row:
    _amount("--start-revenue", start_revenue, positive=True)
    for flag, value in (
        ("--expansion", expansion),
        ("--contraction", contraction),
        ("--churned", churned),
    ):
        _amount(flag, value)
    _at_most(
        "--contraction plus --churned",
        contraction + churned,
        "--start-revenue",
        start_revenue,
        "customers cannot lose more revenue than they brought",
    )
    kept = start_revenue - contraction - churned
    return {
        "previous_revenue": start_revenue,
        "expansion": expansion,
        "contraction": contraction,
        "churned_revenue": churned,
        "nrr": (kept + expansion) / start_revenue,
        "grr": kept / start_revenue,
    }


def clv(
    *, aov: float, frequency: float, margin: float, lifetime: float, discount_rate: float = 0.0
) -> Row:
    _amount("--aov", aov)
    _amount("--frequency", frequency)
    _amount("--margin", margin)
    if margin > 1:
        raise UsageError(f"--margin {margin:g}: give the margin as a fraction of revenue, 0 to 1")
    _amount("--lifetime", lifetime, positive=True)
    _amount("--discount-rate", discount_rate)
    churn_rate = 1 / lifetime
    discounted = 1 / (churn_rate + discount_rate)
    return {
        "aov": aov,
        "purchases_per_year": frequency,
        "margin": margin,
        "expected_lifetime_years": lifetime,
        "annual_churn_rate": churn_rate,
        "discount_rate": discount_rate,
        "discounted_lifetime_years": discounted,
        "clv": aov * frequency * margin * discounted,
    }


def nps(*, promoters: int, passives: int, detractors: int) -> Row:
    for flag, value in (
        ("--promoters", promoters),
        ("--passives", passives),
        ("--detractors", detractors),
    ):
        _count(flag, value)
    responses = promoters + passives + detractors
    if responses == 0:
        raise UsageError("--promoters, --passives and --detractors are all 0: no responses")
    return {
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "nps_responses": responses,
        "nps": 100 * (promoters - detractors) / responses,
    }


def repeat_rate(*, customers: int, repeat: int) -> Row:
    _count("--customers", customers)
    _count("--repeat", repeat)
    if customers == 0:
        raise UsageError("--customers 0: with no customers there is no rate to compute")
    _at_most("--repeat", repeat, "--customers", customers, "repeat customers are customers")
    return {
        "customers": customers,
        "repeat_customers": repeat,
        "repeat_purchase_rate": repeat / customers,
    }


def return_rate(*, sold: float, returned: float) -> Row:
    _amount("--sold", sold, positive=True)
    _amount("--returned", returned)
    _at_most("--returned", returned, "--sold", sold, "only what was sold can come back")
    return {"sold": sold, "returned": returned, "return_rate": returned / sold}


FORMULAS: dict[str, Formula] = {
    f.name: f
    for f in (
        Formula("churn", churn, ("churn_rate",)),
        Formula("nrr", nrr, ("nrr", "grr")),
        Formula(
            "clv",
            clv,
            ("annual_churn_rate", "discounted_lifetime_years", "clv"),
            (
                ("annual_churn_rate", "1 / {expected_lifetime_years}"),
                (
                    "clv",
                    "{aov} x {purchases_per_year} x {margin} x {discounted_lifetime_years}",
                ),
            ),
        ),
        Formula(
            "nps",
            nps,
            ("nps",),
            (("nps", "100 x ({promoters} - {detractors}) / {nps_responses}"),),
        ),
        Formula(
            "repeat-rate",
            repeat_rate,
            ("repeat_purchase_rate",),
            (("repeat_purchase_rate", "{repeat_customers} / {customers}"),),
        ),
        Formula("return-rate", return_rate, ("return_rate",)),
    )
}


def explained(name: str, row: Row) -> list[str]:
    """Each result of ``row`` (of calculator ``name``) with its formula filled in:
    ``churn_rate = 7 / 100 = 0.0700 (7.0 %)``."""
    import dataclasses

    from retcalc.definitions import COLUMNS
    from retcalc.explain import filled

    formula = FORMULAS[name]
    own = dict(formula.formulas)
    lines = []
    for result in formula.results:
        column = COLUMNS[result]
        if result in own:
            column = dataclasses.replace(column, formula=own[result])
        lines.append(filled(column, row))
    return lines
