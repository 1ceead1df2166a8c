"""The published CDNOW summary (lifetimes ships it) as a fixture for the model tests."""

from __future__ import annotations

import polars as pl
import pytest

from tests.metrics.clv.test_models_vs_lifetimes import cdnow_frame


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    return cdnow_frame()
