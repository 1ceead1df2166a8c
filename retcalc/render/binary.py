"""Binary formats: parquet (typed; dates stay dates)."""

from __future__ import annotations

from typing import IO

import polars as pl

from retcalc.render.values import clean_floats


def write_parquet(df: pl.DataFrame, sink: IO[bytes]) -> None:
    """The frame as Parquet, floats cleaned like the text formats (NaN/inf -> null, no -0.0)."""
    clean_floats(df).write_parquet(sink)
