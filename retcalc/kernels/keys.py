"""Customer ids as integers, for the metrics whose output never shows an id.

Sorting, grouping and joining on text ids dominates the cost of the period
metrics on large inputs; on integers the same work is several times cheaper.
``encode_customers`` gives every distinct id one ``UInt64`` key, the same in
every frame it is given, so joins between the orders and the customers still
match exactly the ids that matched before. Order ids get keys the same way
(:func:`tagged_keys`, for ``metrics.returns`` and ``clv.historical``). A
computation that shows ids (the BG/NBD summary, ``rfm``) works on the keys and puts
the ids back at the end (:func:`keyed_customers`, :func:`keyed_lines`, :func:`with_ids`);
historical value groups on :func:`id_hashes` and checks them as it groups.

The key is a 64-bit hash of the id, its low bits zero where the caller wants
them free (``kernels.words.sorted_days`` then packs a day's number there); a second,
independent hash checks it (:func:`free_low_bits`): if two ids share the key but
not the second hash, the other hash or the whole first hash is tried, and then
the ids are ranked as text (exact, and slower). The check compares counts (of
distinct keys, and of distinct pairs of hashes folded into one word), so it
misses a shared key only if two other ids' folded pairs agree too: for ten
million customers a chance of about 10^-8, and then two customers count as one.
"""

from __future__ import annotations

import itertools

import polars as pl

from retcalc.engines import Rows
from retcalc.kernels.words import free_bits

CUSTOMER = "customer_id"
SEEDS = (0x5EED_0001, 0x5EED_0002)
#: The top bit of a ``UInt64`` key: set in the keys of :func:`tagged_keys`.
TOP_BIT = 1 << 63


def id_hashes(ids: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The two independent 64-bit hashes of an id, null where there is no id."""
    present = ids.is_not_null()
    first, second = (pl.when(present).then(ids.hash(seed)) for seed in SEEDS)
    return first, second


def _codes(ids: pl.Series, free_bits: int = 0, *, tag: bool = False) -> pl.Series:
    """A ``UInt64`` key per id (text), its low ``free_bits`` bits zero (its top bit set
    with ``tag``); equal ids get equal keys, different ids different keys, a null id a
    null key."""
    top = pl.lit(TOP_BIT if tag else 0, dtype=pl.UInt64)
    h1, h2 = id_hashes(pl.col("id"))
    frame = ids.to_frame("id").select((h1 | top).alias("h1"), h2.alias("h2"))
    keys = keys_or_rank(ids, frame["h1"], frame["h2"], free_bits)
    # The top bit is set before the check (it must tell the tagged keys apart) and again
    # after it, for the ranks of a collision.
    return keys.to_frame("k").select(pl.col("k") | top)["k"] if tag else keys


def tagged_keys(ids: pl.Series) -> pl.Series:
    """A ``UInt64`` key per text id with its top bit set, so that no key equals a number
    below ``2**63`` (such as a row number); equal ids get equal keys, different ids
    different keys (checked as :func:`free_low_bits` checks), a null id a null key.

    ``metrics.returns`` keys its orders so: an order id's key, or the row number of a
    row without one.
    """
    return _codes(ids, tag=True)


def encode_orders(orders: Rows) -> Rows:
    """``orders`` (collected) with ``order_id`` replaced by :func:`tagged_keys` (a null
    id stays null), for the metrics that only group and join on it; as they are without
    the column, or when their reader keyed the orders already."""
    if orders.holds.orders_keyed or "order_id" not in orders.frame.collect_schema():
        return orders
    frame = orders.frame.collect()
    keys = tagged_keys(frame["order_id"].cast(pl.String))
    return orders.but(frame.with_columns(keys.alias("order_id")).lazy(), orders_keyed=True)


def free_low_bits(h1: pl.Series, h2: pl.Series, bits: int) -> pl.Series | None:
    """Keys with their low ``bits`` bits zero that tell every two ids apart: the high
    bits of ``h1``, else of ``h2``; else ``h1`` whole when it does; else ``None``.

    Keys with free low bits let ``kernels.words.sorted_days`` sort each customer's days as
    one word holding both. Two of ten million ids share the top 53 bits of a hash
    with a chance of about 1 in 180; of both hashes, about 1 in 30,000. ``h1``,
    ``h2``: both hashes of each id, in any number of copies.
    """
    mask = pl.lit(((1 << 64) - 1) ^ ((1 << bits) - 1), dtype=pl.UInt64)
    high = (h.to_frame("h").select(pl.col("h") & mask)["h"] for h in (h1, h2) if bits)
    candidates = itertools.chain(high, [h1])
    keys = next(candidates)
    # The distinct pairs and the first keys' values are counted side by side in one
    # select (faster than one after the other).
    counts = pl.DataFrame([pair_words(h1, h2).alias("ids"), keys.alias("keys")])
    ids, distinct = counts.select(pl.all().n_unique()).row(0)
    del counts
    # Keys that take as many values as the pairs tell the ids apart.
    if distinct == ids:
        return keys
    return next((keys for keys in candidates if keys.n_unique() == ids), None)


def pair_words(h1: pl.Series, h2: pl.Series) -> pl.Series:
    """Both hashes of each id in one word (an odd multiplier, wrapping), so that counting
    the distinct pairs is a single-column count."""
    return (h1.to_frame("a").select(pl.col("a") * 0x9E3779B97F4A7C15)["a"]) ^ h2


def keys_or_rank(ids: pl.Series, h1: pl.Series, h2: pl.Series, free_bits: int = 0) -> pl.Series:
    """The keys of :func:`free_low_bits` when some tell the ids apart, else the ids'
    dense rank (shifted to leave ``free_bits`` bits free)."""
    keys = free_low_bits(h1, h2, free_bits)
    if keys is not None:
        return keys.rename(CUSTOMER)
    rank = ids.rank("dense").cast(pl.UInt64)  # a 64-bit collision
    return (rank * (1 << free_bits)).rename(CUSTOMER)


def keyed_customers(frame: pl.DataFrame, free_bits: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``frame`` with ``customer_id`` replaced by keys (:func:`encode_customers`), and the
    distinct ``_key, customer_id`` pairs that :func:`with_ids` puts the ids back with:
    for a computation that groups and joins on the ids but shows them."""
    (coded,) = encode_customers(frame, free_bits=free_bits)
    assert coded is not None
    # Each key's first row, found on the keys alone (not a unique of key and text rows).
    keys = coded[CUSTOMER]
    first = keys.arg_unique()
    ids = pl.DataFrame([keys.gather(first).alias("_key"), frame[CUSTOMER].gather(first)])
    if ids.schema[CUSTOMER] == pl.String:
        # The ids gathered are views into the text of every row's id: copied into text of
        # their own (appending nothing copies), so that the rows' text goes with the rows.
        ids = ids.with_columns(pl.col(CUSTOMER) + "")
    return coded, ids


def keyed_lines(lines: Rows, *, day_bits: bool = False) -> tuple[Rows, pl.DataFrame | None]:
    """``lines`` (in memory) with their customer ids replaced by keys, and the pairs
    :func:`with_ids` puts the ids back with (:func:`keyed_customers`); ``lines`` as they
    are and ``None`` when they are keyed already. A caller that rebinds ``lines`` to the
    result lets the text ids go. ``day_bits``: the keys' low bits left free for the
    lines' days (``kernels.words.sorted_days`` then sorts one word per row)."""
    if lines.keyed:
        return lines, None
    frame = lines.frame.collect()  # in memory: collecting copies nothing
    free = free_bits(frame["day"]) if day_bits and "day" in frame.columns else 0
    coded, ids = keyed_customers(frame, free)
    del frame
    return lines.but(coded.lazy(), keyed=True), ids


def with_ids(frame: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (keyed by :func:`keyed_customers`) with its ids back in ``customer_id``,
    its columns in their order."""
    back = frame.join(ids, left_on=CUSTOMER, right_on="_key", how="left", suffix="_id")
    return back.with_columns(pl.col(f"{CUSTOMER}_id").alias(CUSTOMER)).select(frame.columns)


def encode_customers(*frames: pl.DataFrame | None, free_bits: int = 0) -> list[pl.DataFrame | None]:
    """``frames`` with ``customer_id`` replaced by shared ``UInt64`` keys (their low
    ``free_bits`` bits zero).

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
    ids = pl.concat([out[i][CUSTOMER].cast(pl.String) for i in present])  # type: ignore[index]
    keys = _codes(ids, free_bits)
    offset = 0
    for i in present:
        frame = out[i]
        assert frame is not None
        out[i] = frame.with_columns(keys.slice(offset, frame.height).alias(CUSTOMER))
        offset += frame.height
    return out
