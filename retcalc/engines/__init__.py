"""Where the heavy work of a data command runs: in this process (Polars) or on Spark.

The metric definitions live once, in :mod:`retcalc.metrics`; an engine only
decides where the input is read, parsed and reduced before those definitions
run (see :mod:`retcalc.engines.spark`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl


class Engine(StrEnum):
    """Values of ``--engine``."""

    polars = "polars"
    spark = "spark"


class Level(StrEnum):
    """How far the orders may be reduced before the metrics get them: by the Spark
    engine, and for a large input by :mod:`retcalc.io.batched` (``days``, ``orders``).

    - ``days``: classified rows summed per ``(keys, customer_id, day, revenue_day,
      is_purchase)``: all that purchase days and daily revenue need (retention,
      churn, cohorts, the BG/NBD summary);
    - ``orders``: the same, kept apart per order id (order counts: kpis, clv);
    - ``pieces``: the lines summed per kind (sale, cancelled, return line, row mark),
      order, keys and day (:func:`retcalc.metrics.returns.line_pieces`: returns,
      without a returns or customers file; Spark reads the lines for it);
    - ``lines``: the canonical order lines themselves.
    """

    days = "days"
    orders = "orders"
    pieces = "pieces"
    lines = "lines"


@dataclass(frozen=True)
class Holds:
    """What a frame of order rows holds, said by the reader (or the step) that made it,
    so that no metric infers it from its columns' names or types."""

    level: Level = Level.lines
    #: ``customer_id`` holds ``UInt64`` keys (:mod:`retcalc.kernels.keys`), not the ids.
    keyed: bool = False
    #: ``order_id`` holds ``UInt64`` keys (:func:`retcalc.kernels.keys.tagged_keys`).
    orders_keyed: bool = False

    @property
    def classified(self) -> bool:
        """Each row says already whether it is a purchase, its revenue and revenue day
        (``is_purchase``, ``revenue``, ``revenue_day``: :func:`retcalc.metrics.events.classify`)."""
        return self.level in (Level.days, Level.orders)


@dataclass(frozen=True)
class Rows:
    """Order rows as the metrics take them: the rows, and what they hold."""

    frame: pl.LazyFrame
    holds: Holds = field(default_factory=Holds)

    @property
    def level(self) -> Level:
        return self.holds.level

    @property
    def keyed(self) -> bool:
        return self.holds.keyed

    def but(self, frame: pl.LazyFrame, **holds: Any) -> Rows:
        """Other rows (``frame``) that hold what these hold, but for ``holds``."""
        return Rows(frame, replace(self.holds, **holds))


def as_rows(orders: Rows | pl.LazyFrame) -> Rows:
    """``orders`` as :class:`Rows`; a bare frame holds canonical order lines as read
    (:attr:`Level.lines`, neither classified nor keyed)."""
    return orders if isinstance(orders, Rows) else Rows(orders)
