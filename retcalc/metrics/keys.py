"""Customer ids as integers, for the metrics whose output never shows an id.

Sorting, grouping and joining on text ids dominates the cost of the period
metrics on large inputs; on integers the same work is several times cheaper.
``encode_customers`` gives every distinct id one ``UInt64`` key, the same in
every frame it is given, so joins between the orders and the customers still
match exactly the ids that matched before.

The key is a 64-bit hash of the id; a second, independent hash checks it: if
two ids share the first hash but not the second, the ids are ranked as text
instead (exact, and slower). Two different ids that agree on both hashes (128
bits) would be merged; for ten million customers the chance is below 10^-24.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

CUSTOMER = "customer_id"
SEEDS = (0x5EED_0001, 0x5EED_0002)


def id_hashes(ids: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The two independent 64-bit hashes of an id, null where there is no id."""
    present = ids.is_not_null()
    first, second = (pl.when(present).then(ids.hash(seed)) for seed in SEEDS)
    return first, second


def _codes(ids: pl.Series) -> pl.Series:
    """A ``UInt64`` key per id (text); equal ids get equal keys, different ids different
    keys, a null id a null key."""
    h1, h2 = id_hashes(pl.col("id"))
    frame = ids.to_frame("id").select(h1.alias("h1"), h2.alias("h2"))
    return keys_or_rank(ids, frame["h1"], frame["h2"])


def first_hash_suffices(h1: pl.Series, h2: pl.Series) -> bool:
    """Whether no two ids share ``h1`` (``h1``, ``h2``: both hashes of each id, in any
    number of copies)."""
    # Ids sharing h1 but not h2 make (h1, h2) take more values than h1 alone.
    both = pl.DataFrame({"first": h1, "pair": pair_words(h1, h2)})
    counts = both.select(pl.all().n_unique()).row(0)  # the two counted at once
    return bool(counts[0] == counts[1])


def pair_words(h1: pl.Series, h2: pl.Series) -> pl.Series:
    """Both hashes of each id in one word (an odd multiplier, wrapping), so that counting
    the distinct pairs is a single-column count."""
    return (h1.to_frame("a").select(pl.col("a") * 0x9E3779B97F4A7C15)["a"]) ^ h2


def keys_or_rank(ids: pl.Series, h1: pl.Series, h2: pl.Series) -> pl.Series:
    """``h1`` when no two ids share it (checked with ``h2``), else the ids' dense rank."""
    if first_hash_suffices(h1, h2):
        return h1.rename(CUSTOMER)
    return ids.rank("dense").cast(pl.UInt64).rename(CUSTOMER)  # a 64-bit collision


def encode_customers(*frames: pl.DataFrame | None) -> list[pl.DataFrame | None]:
    """``frames`` with ``customer_id`` replaced by shared ``UInt64`` keys.

    A null id stays null; ``None`` stays ``None``; frames without the column are
    returned as they are.
    """
    present = [
        i
        for i, f in enumerate(frames)
        if f is not None and CUSTOMER in f.columns and f[CUSTOMER].len() > 0
    ]
    out = list(frames)
    if not present:
        return out
    if all(out[i][CUSTOMER].dtype == pl.UInt64 for i in present):  # type: ignore[index]
        return out  # keys already (a large input summed under them while read)
    keys = _codes(pl.concat([out[i][CUSTOMER].cast(pl.String) for i in present]))  # type: ignore[index]
    offset = 0
    for i in present:
        frame = out[i]
        assert frame is not None
        out[i] = frame.with_columns(keys.slice(offset, frame.height).alias(CUSTOMER))
        offset += frame.height
    return out


def encoded_lazy(frames: Sequence[pl.LazyFrame | None]) -> list[pl.LazyFrame | None]:
    """``encode_customers`` for lazy frames (collected first: the inputs are in memory)."""
    eager = encode_customers(*(f.collect() if f is not None else None for f in frames))
    return [f.lazy() if f is not None else None for f in eager]
