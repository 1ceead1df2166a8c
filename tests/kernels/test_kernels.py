"""Integer customer keys and the one-word sort of purchase days."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from retcalc.engines import Holds, Rows
from retcalc.kernels import keys as keys_module
from retcalc.kernels import parts as parts_module
from retcalc.kernels.keys import (
    TOP_BIT,
    encode_customers,
    encode_orders,
    free_low_bits,
    keyed_customers,
    keys_or_rank,
    tagged_keys,
    with_ids,
)
from retcalc.kernels.words import sorted_days

D = dt.date


def test_keys_are_shared_between_frames_and_keep_nulls() -> None:
    orders = pl.DataFrame({"customer_id": ["a", "b", "a", "c"], "x": [1, 2, 3, 4]})
    customers = pl.DataFrame({"customer_id": ["c", None, "d", "a"]})
    enc_orders, enc_customers = encode_customers(orders, customers)
    assert enc_orders is not None and enc_customers is not None
    o, c = enc_orders["customer_id"].to_list(), enc_customers["customer_id"].to_list()
    assert enc_orders["customer_id"].dtype == pl.UInt64
    assert o[0] == o[2] and len({o[0], o[1], o[3]}) == 3
    assert c[0] == o[3] and c[3] == o[0] and c[1] is None
    assert c[2] not in o
    assert enc_orders["x"].to_list() == [1, 2, 3, 4]


def test_none_and_empty_frames_pass_through() -> None:
    empty = pl.DataFrame({"customer_id": pl.Series([], dtype=pl.String)})
    assert encode_customers(None, empty) == [None, empty]


def test_a_first_hash_collision_falls_back_to_ranking_the_text() -> None:
    ids = pl.Series(["x", "y", "z", "x"])
    h1 = pl.Series([5, 5, 9, 5], dtype=pl.UInt64)  # x and y collide on the first hash
    h2 = pl.Series([1, 2, 3, 1], dtype=pl.UInt64)
    keys = keys_or_rank(ids, h1, h2).to_list()
    assert keys[0] == keys[3] and len(set(keys)) == 3
    assert keys_or_rank(ids, h1, pl.Series([1, 1, 3, 1], dtype=pl.UInt64)).to_list() == [
        5,
        5,
        9,
        5,
    ]  # undetectable by construction: the documented 128-bit limit


def _days(n: int, customers: int, seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    return pl.DataFrame(
        {
            "customer_id": [rng.randrange(customers) * 7919 for _ in range(n)],
            "day": [D(2020, 1, 1) + dt.timedelta(days=rng.randrange(900)) for _ in range(n)],
        },
        schema={"customer_id": pl.UInt64, "day": pl.Date},
    )


def _check(result: pl.DataFrame, frame: pl.DataFrame) -> None:
    assert result.sort("customer_id", "day").equals(frame.unique().sort("customer_id", "day"))
    # Each customer's rows are together and in day order.
    runs = result.with_columns(
        (pl.col("customer_id") != pl.col("customer_id").shift(1)).fill_null(True).alias("new")
    )
    assert runs["new"].sum() == frame["customer_id"].n_unique()
    same = runs.filter(~pl.col("new"))
    assert (same["day"] > runs["day"].shift(1).filter(~runs["new"])).all()


def test_sorted_days_without_clashes() -> None:
    frame = _days(3000, 200, 1)
    _check(sorted_days(frame), frame)


def test_sorted_days_when_high_bits_clash() -> None:
    # 60 day bits leave 4 bits of the key: most customers share a prefix.
    frame = _days(3000, 200, 2)
    _check(sorted_days(frame, day_bits=60), frame)


def test_sorted_days_wider_than_the_day_bits() -> None:
    frame = _days(500, 20, 3)
    _check(sorted_days(frame, day_bits=5), frame)


def test_sorted_days_of_keys_with_free_low_bits_sorts_one_word() -> None:
    # Keys whose low 10 bits are zero: the word holds customer and day exactly.
    frame = _days(3000, 200, 4).with_columns(pl.col("customer_id") * 1024)
    _check(sorted_days(frame), frame)
    # A customer key of all high bits set, and a single day.
    top = pl.DataFrame(
        {"customer_id": [(1 << 64) - 1024, 1024, (1 << 64) - 1024], "day": [D(2024, 5, 1)] * 3},
        schema={"customer_id": pl.UInt64, "day": pl.Date},
    )
    _check(sorted_days(top), top)


U64 = pl.UInt64


def test_free_low_bits_keeps_the_high_bits_of_a_hash_that_tells_ids_apart() -> None:
    # Three ids (two copies of the first); 8 free bits.
    h1 = pl.Series([0x1_00 | 5, 0x2_00 | 7, 0x3_00, 0x1_00 | 5], dtype=U64)
    h2 = pl.Series([0x9_00, 0x8_00, 0x7_00, 0x9_00], dtype=U64)
    assert free_low_bits(h1, h2, 8).to_list() == [0x1_00, 0x2_00, 0x3_00, 0x1_00]


def test_free_low_bits_tries_the_second_hash_then_the_first_whole() -> None:
    # Ids 0 and 1 share the high bits of h1, not of h2: h2's high bits are the keys.
    h1 = pl.Series([0x1_01, 0x1_02, 0x3_00], dtype=U64)
    h2 = pl.Series([0x9_05, 0x8_00, 0x7_00], dtype=U64)
    assert free_low_bits(h1, h2, 8).to_list() == [0x9_00, 0x8_00, 0x7_00]
    # They share the high bits of both: h1 whole.
    h2 = pl.Series([0x9_05, 0x9_06, 0x7_00], dtype=U64)
    assert free_low_bits(h1, h2, 8).to_list() == [0x1_01, 0x1_02, 0x3_00]
    # They share h1 whole too: no keys.
    h1 = pl.Series([0x1_01, 0x1_01, 0x3_00], dtype=U64)
    assert free_low_bits(h1, h2, 8) is None
    # No free bits asked for: h1 whole, when it tells the ids apart.
    assert free_low_bits(
        pl.Series([4, 5], dtype=U64), pl.Series([1, 2], dtype=U64), 0
    ).to_list() == [4, 5]


def test_tagged_keys_set_the_top_bit_and_keep_ids_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = pl.Series(["o-1", "o-2", None, "o-1", "o-3"])

    def check(keys: list[int | None]) -> None:
        assert keys[2] is None and keys[0] == keys[3]
        present = [k for k in keys if k is not None]
        assert all(k >= TOP_BIT for k in present) and len(set(present)) == 3

    check(tagged_keys(ids).to_list())
    # Every id colliding on the first hash: the ids are ranked as text, top bit set.
    seven = pl.lit(7, dtype=pl.UInt64)
    monkeypatch.setattr(keys_module, "id_hashes", lambda ids: (seven, ids.hash(2)))
    ranked = tagged_keys(ids).to_list()
    check(ranked)
    assert ranked == [TOP_BIT | 1, TOP_BIT | 2, None, TOP_BIT | 1, TOP_BIT | 3]


def test_encode_orders_keys_the_order_ids_and_keeps_nulls() -> None:
    frame = pl.DataFrame({"order_id": ["#1", None, "#2", "#1"], "x": [1, 2, 3, 4]})
    rows = encode_orders(Rows(frame.lazy()))
    assert rows.holds.orders_keyed
    coded = rows.frame.collect()
    ids = coded["order_id"].to_list()
    assert coded["order_id"].dtype == pl.UInt64 and coded["x"].to_list() == [1, 2, 3, 4]
    assert ids[1] is None and ids[0] == ids[3] != ids[2]
    without = Rows(pl.DataFrame({"x": [1]}).lazy())
    assert encode_orders(without) is without
    keyed = Rows(coded.lazy(), Holds(orders_keyed=True))
    assert encode_orders(keyed) is keyed  # keyed by its reader: as it is


def test_parts_grow_with_the_rows_up_to_the_most() -> None:
    assert [parts_module.parts_for(n) for n in (0, 7_999_999, 8_000_000, 20_000_000, 10**9)] == [
        1,
        1,
        2,
        5,
        parts_module.PARTS,
    ]


@pytest.mark.parametrize("parts", [1, 3, parts_module.PARTS])
def test_a_group_by_in_parts_is_the_group_by(parts: int) -> None:
    # Keys with their low 20 bits free (as free_low_bits leaves them), text keys and a
    # null key: each group whole in one part, every row in some part.
    frame = pl.DataFrame(
        {
            "key": [5 << 20, 5 << 20, 7 << 20, None, None, 9 << 20, 7 << 20, 11 << 20],
            "name": ["a", "a", "b", None, None, "c", "b", "d"],
            "value": [1, 2, 3, 4, 5, 6, 7, 8],
        },
        schema_overrides={"key": pl.UInt64},
    )
    for part in ("key", "name"):
        got = parts_module.grouped_in_parts(
            frame.lazy(), ["key", "name"], part, [pl.col("value").sum()], parts
        ).sort("key", nulls_last=True)
        assert got.rows() == [
            (5 << 20, "a", 3),
            (7 << 20, "b", 10),
            (9 << 20, "c", 6),
            (11 << 20, "d", 8),
            (None, None, 9),
        ]
    slots = frame.select((pl.col("key").hash() % parts_module.PARTS).unique().len()).item()
    assert slots > 1  # low bits free, the keys still spread over the parts


@pytest.mark.parametrize(
    "ids",
    [["b", "a", "b", None, "c", "a"], [7, 3, 7, None, 12, 3]],
    ids=["text", "integers"],
)
def test_keyed_customers_puts_the_same_ids_back(ids: list[object]) -> None:
    """One (key, id) pair per distinct id (a null id a null key, matching nothing), and
    ``with_ids`` gives back each row's id in its column's place."""
    frame = pl.DataFrame({"customer_id": ids, "x": range(len(ids))})
    coded, pairs = keyed_customers(frame, free_bits=11)
    assert coded["customer_id"].dtype == pl.UInt64
    assert coded["customer_id"].null_count() == 1
    assert pairs.height == 4 and pairs["_key"].n_unique() == 4
    assert pairs["customer_id"].dtype == frame["customer_id"].dtype
    back = with_ids(coded, pairs)
    assert back.columns == ["customer_id", "x"]
    assert back["customer_id"].to_list() == ids
