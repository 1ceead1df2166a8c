"""Identifier cleaning: the fast path for clean columns gives what ``clean_id`` gives."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from retcalc.io.frames import clean_id, clean_ids, id_forms, unicode_merge_warning

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


# Unicode forms: one person written two ways is one customer (issue 27).

NFC, NFD = "Jos\u00e9", "Jose\u0301"


def test_unicode_forms_of_one_id_are_one_id() -> None:
    values = [NFC, NFD, "\uff21\uff22\uff23\uff11\uff12\uff13", "A\u200bBC\u2060", "\ufeffC7\u200d"]
    assert _slow(values) == [NFC, NFC, "ABC123", "ABC", "C7"]
    assert clean_ids(pl.Series(values, dtype=pl.String)).to_list() == _slow(values)


def test_fast_path_finds_every_value_beyond_ascii() -> None:
    clean = [f"K{i:06d}" for i in range(100)]
    values = [*clean, NFD, "\uff2b000001"]
    fast = clean_ids(pl.Series(values, dtype=pl.String)).to_list()
    assert fast[-2:] == [NFC, "K000001"]
    assert fast == _slow(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("aAé\u0301\u200b\uff41 '@.0"), max_size=6)))
def test_fast_path_equals_clean_id_on_unicode(values: list[str]) -> None:
    assert clean_ids(pl.Series(values, dtype=pl.String)).to_list() == _slow(values)


def _warning(ids: list[str]) -> list[str]:
    forms = id_forms(pl.Series([i for i in ids if not i.isascii()]), changed=True)
    partners = pl.Series(ids).filter(
        pl.Series(_slow(ids)).is_in(forms["new"].implode()).fill_null(False)
    )
    return unicode_merge_warning("f.csv", forms, partners)


def test_merge_warning_counts_ids_written_two_ways() -> None:
    said = _warning([NFC, NFD, NFD, "ABC123", "\uff21\uff22\uff23\uff11\uff12\uff13", "Zo\u00eb"])
    assert said == [
        "f.csv: 2 customer ids were written in more than one Unicode form (e.g. 'ABC123' and "
        "'\\uff21\\uff22\\uff23\\uff11\\uff12\\uff13'); each is read as one customer (ids are "
        "compared in Unicode NFKC form, without zero-width characters)"
    ]


def test_no_merge_no_warning() -> None:
    # A zero-width character removed, with no other form of the id: nothing merged.
    assert _warning(["A\u200bBC", NFC, "Zo\u00eb"]) == []
    # Case and spaces are the old rules, not Unicode forms.
    assert _warning([" x@Y.com", "X@y.com"]) == []
    assert _warning([NFD]) == []
