"""The one table of row meanings (``retcalc.meanings``, SPEC §1 "What a row means"),
tested once: the built-in words, the word forms, the order of the tables, the user's
maps, the census and its warning, and the row expressions every reader uses."""

from __future__ import annotations

import polars as pl
import pytest

from retcalc import meanings
from retcalc.errors import InputError, UsageError
from retcalc.io.checks import unknown_statuses
from retcalc.meanings import (
    BUILT_IN,
    DESCRIPTIONS,
    NO_SALE,
    PURCHASE,
    REFUNDED,
    StatusTable,
    captured_expr,
    census,
    config_statuses,
    meaning_expr,
    normal_word,
    parse_status_map,
    with_captured,
)

# The built-in words as SPEC lists them, written out here (not read from the module).
SPEC_WORDS = {
    "paid": "paid",
    "completed": "paid",
    "processing": "paid",
    "succeeded": "paid",
    "captured": "paid",
    "pending": "pending",
    "pending payment": "pending",
    "unpaid": "pending",
    "authorized": "pending",
    "on hold": "pending",
    "failed": "failed",
    "declined": "failed",
    "uncaptured": "failed",
    "voided": "failed",
    "expired": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "refunded": "refunded",
    "chargeback": "refunded",
    "partially refunded": "partially_refunded",
    "returned": "returned",
}


def test_every_meaning_is_described_and_sorted_into_purchase_or_no_sale() -> None:
    assert set(DESCRIPTIONS) == {m.value for m in meanings.Meaning}
    assert set(PURCHASE) | set(NO_SALE) == set(DESCRIPTIONS)
    assert not set(PURCHASE) & set(NO_SALE)
    assert set(REFUNDED) <= set(PURCHASE)


@pytest.mark.parametrize(("word", "meaning"), sorted(SPEC_WORDS.items()))
def test_spec_words_are_built_in(word: str, meaning: str) -> None:
    assert BUILT_IN[word] == meaning
    assert StatusTable().lookup(word) == (meaning, "built-in")


@pytest.mark.parametrize(("word", "meaning"), sorted(BUILT_IN.items()))
def test_every_built_in_word_is_looked_up_as_listed(word: str, meaning: str) -> None:
    assert meaning in DESCRIPTIONS
    assert normal_word(word) == word  # stored in the form lookups compare
    assert StatusTable().lookup(word.upper()) == (meaning, "built-in")


@pytest.mark.parametrize(
    ("raw", "word"),
    [
        (" Partially_Refunded ", "partially refunded"),
        ("wc-completed", "completed"),
        ("wc-pending", "pending"),
        ("Pending payment", "pending payment"),
        ("PENDING   PAYMENT", "pending payment"),
        ("on-hold", "on hold"),
        ("Charged_Back", "charged back"),
        ("  ", ""),
    ],
)
def test_normal_word(raw: str, word: str) -> None:
    assert normal_word(raw) == word


@pytest.mark.parametrize(
    ("raw", "meaning"),
    [
        (" Partially_Refunded ", "partially_refunded"),
        ("wc-completed", "paid"),
        ("wc-cancelled", "cancelled"),
        ("Pending payment", "pending"),
        ("Failed", "failed"),
    ],
)
def test_word_forms_find_their_meaning(raw: str, meaning: str) -> None:
    assert StatusTable(layout="woocommerce").lookup(raw)[0] == meaning


def test_empty_and_unknown_words() -> None:
    assert StatusTable().lookup("") == (None, "empty")
    assert StatusTable().lookup("   ") == (None, "empty")
    assert StatusTable().lookup("storniert") == ("paid", "unknown")


def test_user_beats_layout_beats_built_in() -> None:
    # Shopify's own word: a partly paid order (a deposit) is a sale.
    assert StatusTable().lookup("partially paid") == ("paid", "unknown")
    assert StatusTable(layout="shopify").lookup("partially_paid") == ("paid", "layout")
    # Stripe says a canceled charge failed; the built-in word is cancelled.
    assert StatusTable().lookup("canceled") == ("cancelled", "built-in")
    assert StatusTable(layout="stripe").lookup("canceled") == ("failed", "layout")
    # The user's word beats both.
    user = StatusTable({"canceled": "pending"}, layout="stripe")
    assert user.lookup("Canceled") == ("pending", "user")
    assert StatusTable({"paid": "refunded"}).lookup("PAID") == ("refunded", "user")


def test_parse_status_map() -> None:
    parsed = parse_status_map(
        ["storniert=cancelled", " Erstattet = Refunded ", "teilweise_erstattet=partially-refunded"]
    )
    assert parsed == {
        "storniert": "cancelled",
        "erstattet": "refunded",
        "teilweise erstattet": "partially_refunded",
    }
    # A later value for the same word wins.
    assert parse_status_map(["x=paid", "X=failed"]) == {"x": "failed"}


@pytest.mark.parametrize("item", ["storniert", "=cancelled", " =paid"])
def test_parse_status_map_needs_raw_and_equals(item: str) -> None:
    with pytest.raises(UsageError, match="expected RAW=MEANING"):
        parse_status_map([item])


def test_parse_status_map_refuses_an_unknown_meaning() -> None:
    with pytest.raises(UsageError, match="'gone' is not a meaning; use one of paid, pending"):
        parse_status_map(["storniert=gone"])


def test_config_statuses() -> None:
    assert config_statuses({}) == {}
    assert config_statuses({"statuses": None}) == {}
    assert config_statuses({"statuses": {"Storniert": "cancelled", "Erstattet": "REFUNDED"}}) == {
        "storniert": "cancelled",
        "erstattet": "refunded",
    }
    with pytest.raises(UsageError, match="'statuses' must map raw status words"):
        config_statuses({"statuses": ["storniert"]})
    with pytest.raises(UsageError, match=r"config: statuses\.storniert: 'weg' is not a meaning"):
        config_statuses({"statuses": {"storniert": "weg"}})


def _counts(**rows: int) -> pl.DataFrame:
    return pl.DataFrame({"status": list(rows), "len": list(rows.values())})


def test_census_and_unknown_statuses_warning() -> None:
    counts = pl.DataFrame(
        {"status": ["paid", "storniert", "erstattet", None, "Ausstehend"], "len": [5, 3, 1, 2, 3]}
    )
    found = census(counts, StatusTable({"erstattet": "refunded"}))
    assert found.values == {
        "paid": "paid",
        "storniert": "paid",
        "erstattet": "refunded",
        "Ausstehend": "paid",
    }
    assert found.unknown() == [("storniert", 3), ("Ausstehend", 3)]
    assert found.frame().rows() == [
        ("paid", 5, "paid", "built-in"),
        ("Ausstehend", 3, "paid", "unknown"),
        ("storniert", 3, "paid", "unknown"),
        ("erstattet", 1, "refunded", "user"),
    ]
    [warning] = unknown_statuses(found, name="o.csv", column="Status", strict=False)
    assert warning.startswith("o.csv: column 'Status' (status) has values retcalc does not know:")
    # Most rows first, then by name; each with its row count.
    assert "'Ausstehend' (3 rows), 'storniert' (3 rows);" in warning
    assert "counted as paid" in warning
    assert "--status-map 'ausstehend=MEANING'" in warning
    assert "erstattet" not in warning
    with pytest.raises(InputError, match="--strict refuses unknown statuses") as error:
        unknown_statuses(found, name="o.csv", column="Status", strict=True)
    assert "'storniert' (3 rows)" in str(error.value)


def test_one_unknown_row_is_singular_and_known_ones_say_nothing() -> None:
    found = census(_counts(paid=2, weird=1), StatusTable())
    [warning] = unknown_statuses(found, name="f", column="s", strict=False)
    assert "'weird' (1 row);" in warning
    known = census(_counts(paid=2, refunded=1), StatusTable())
    assert unknown_statuses(known, name="f", column="s", strict=True) == []


def test_many_unknown_statuses_are_cut_short() -> None:
    found = census(_counts(**{f"w{i}": 20 - i for i in range(11)}), StatusTable())
    [warning] = unknown_statuses(found, name="f", column="s", strict=False)
    assert "'w7' (13 rows) and 3 more" in warning
    assert "'w8'" not in warning


def test_meaning_expr() -> None:
    values = {"paid": "paid", "storniert": "cancelled", "": None}
    frame = pl.DataFrame({"s": ["paid", "storniert", None, "never seen", ""]})
    got = frame.select(meaning_expr(pl.col("s"), values).alias("m"))["m"].to_list()
    # Null stays null (takes its order's meaning later); an unseen value is a sale.
    assert got == ["paid", "cancelled", None, "paid", None]


def test_captured_false_is_failed() -> None:
    frame = pl.DataFrame(
        {
            "s": ["paid", "paid", "paid", "refunded", "paid", None],
            "c": ["true", "false", " FALSE ", "no", None, "0"],
        }
    )
    flag = captured_expr(pl.col("c"))
    assert frame.select(flag.alias("f"))["f"].to_list() == [False, True, True, True, False, True]
    got = frame.select(with_captured(pl.col("s"), flag).alias("m"))["m"].to_list()
    assert got == ["paid", "failed", "failed", "failed", "paid", "failed"]
    assert (
        frame.select(with_captured(pl.col("s"), None).alias("m"))["m"].to_list()
        == frame["s"].to_list()
    )
