"""Where the heavy work of a data command runs: in this process (Polars) or on Spark.

The metric definitions live once, in :mod:`retcalc.metrics`; an engine only
decides where the input is read, parsed and reduced before those definitions
run (see :mod:`retcalc.engines.spark`).
"""

from __future__ import annotations

from enum import StrEnum


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
