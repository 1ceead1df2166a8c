"""Identifier cleaning: the fast path for clean columns gives what ``clean_id`` gives."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from retcalc.io.frames import clean_id, clean_ids

TRICKY = [
    "C001",
    " C001",
    "C001 ",
    "\u00a0C002\u2009",
    "'1001",
    "1001.0",
    "1001.000",
    "1001.50",
    "10.0x",
    "NULL",
    "null",
    "N/A",
    "nan",
    "None",
    "\\N",
    "",
    "   ",
    "42",
    "a",
    None,
    "cus_9fA",
    "x" * 40,
]


def _slow(values: list[str | None]) -> list[str | None]:
    return (
        pl.DataFrame({"v": values}, schema={"v": pl.String})
        .select(clean_id(pl.col("v")).alias("v"))["v"]
        .to_list()
    )


def test_tricky_values_match_clean_id() -> None:
    fast = clean_ids(pl.Series(TRICKY, dtype=pl.String)).to_list()
    assert fast == _slow(TRICKY)
    assert fast[:9] == ["C001", "C001", "C001", "C002", "1001", "1001", "1001", "1001.50", "10.0x"]
    assert fast[9] is None and fast[15] is None and fast[16] is None


def test_mostly_clean_column_cleans_the_few_that_need_it() -> None:
    values = [f"K{i:06d}" for i in range(1000)] + [" K000001", "2.0", "NULL"]
    fast = clean_ids(pl.Series(values, dtype=pl.String)).to_list()
    assert fast[-3:] == ["K000001", "2", None]
    assert fast == _slow(values)


def test_integer_column_becomes_text() -> None:
    assert clean_ids(pl.Series([1, 22, None])).to_list() == ["1", "22", None]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(alphabet=" \t\u00a0'.0123456789abcNULnul/\\", max_size=8),
            st.sampled_from(TRICKY),
        ),
        max_size=30,
    )
)
def test_same_as_clean_id(values: list[str | None]) -> None:
    assert clean_ids(pl.Series(values, dtype=pl.String)).to_list() == _slow(values)
