"""Large inputs read in batches (``retcalc.io.batched``) give what the in-memory reader gives:
the same tables, the same warnings, the same errors naming the same lines.

Batches of a few rows make every order straddle batches, so the lines kept
whole (a line without a status, a negative line moved to its order's day) and
every check are exercised across batch boundaries.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.engines import Rows
from retcalc.io import batched
from retcalc.io.batched import load_order_events
from retcalc.io.frames import LoadOptions, load_orders
from retcalc.io.load import ENGINE_VARIABLE
from retcalc.kernels import keys
from retcalc.kernels.words import free_bits
from retcalc.metrics import returns
from retcalc.metrics.clv import historical
from retcalc.metrics.events import classify
from retcalc.metrics.money import to_micros
from tests.cli.test_cli_contract import SHOPIFY, SQUARE, UCI, WOOCOMMERCE
from tests.spark.generated import shop

SAMPLE = Path(__file__).parents[2] / "sample_data"
TODAY = ["--as-of", "2026-01-01"]


def run(args: list[str], engine: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.setenv(ENGINE_VARIABLE, engine)
    return CliRunner().invoke(app, args)


def assert_same(args: list[str], monkeypatch: pytest.MonkeyPatch, rows: int = 7) -> Result:
    """The command's exit code, stdout and stderr are the same read both ways."""
    monkeypatch.setattr(batched, "BATCH_ROWS", rows)
    whole = run(args, "in-memory", monkeypatch)
    split = run(args, "streaming", monkeypatch)
    assert (split.exit_code, split.stdout, split.stderr) == (
        whole.exit_code,
        whole.stdout,
        whole.stderr,
    )
    return split


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shop(tmp_path_factory.mktemp("shop"), customers=250)


COMMANDS = [
    ["retention", "--period", "month"],
    ["retention", "--period", "week", "--active-window", "90d", "--by", "channel"],
    ["retention", "--period", "day", "--as-of", "2023-06-01"],
    ["churn", "--period", "quarter", "--by", "channel"],
    ["cohorts", "--period", "month", "--metric", "revenue"],
    ["cohorts", "--period", "quarter", "--mode", "on-or-after"],
    # Commands that count orders: the lines summed apart per order (``orders=True``).
    ["clv", "--model", "historical"],
    ["clv", "--model", "historical", "--per-customer", "--by", "channel"],
    ["clv", "--model", "historical", "--start", "2023-03-01", "--end", "2023-09-30"],
    ["clv", "--model", "formula", "--margin", "40%", "-w", "3mo"],
    ["kpis"],
    ["kpis", "--period", "quarter", "--by", "channel", "--by-sequence"],
    # Returns: the lines summed into pieces (``pieces=True``).
    ["returns", "--period", "month"],
    ["returns", "--period", "quarter", "--by", "channel", "--by-return-date"],
    ["returns", "--period", "month", "--as-of", "2023-06-01"],
    ["returns", "--top", "3", "--min-units", "1"],
    # RFM: purchase days and revenue (``days``); the segments under hashed ids.
    ["rfm"],
    ["rfm", "--per-customer", "--by", "channel", "--as-of", "2023-09-01"],
]


@pytest.mark.parametrize("name", ["orders.csv", "orders_messy.csv", "orders.parquet", "hive"])
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:4]))
def test_tables_are_the_same(
    shop_dir: Path, name: str, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = assert_same(
        [args[0], str(shop_dir / name), *args[1:], "--format", "csv"], monkeypatch, rows=97
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") >= 2


def test_the_sample_with_a_customers_file_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # A customers file: the ids stay text (no hashing), joined for --by segment.
    args = ["retention", str(SAMPLE / "orders.csv"), "--customers", str(SAMPLE / "customers.csv")]
    by_segment = [*args, "--basis", "activity", "--by", "segment"]
    assert assert_same(by_segment, monkeypatch, rows=997).exit_code == 0
    assert assert_same([*args, "--format", "csv"], monkeypatch, rows=997).exit_code == 0


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("orders_export_1.csv", SHOPIFY),
        ("Online Retail.csv", UCI),
        ("items-2024-01-01-2024-03-01.csv", SQUARE),
        ("orders-2024-03-01.csv", WOOCOMMERCE),
    ],
)
@pytest.mark.parametrize(
    "command",
    [["retention"], ["churn"], ["cohorts"], ["kpis"], ["clv", "--per-customer"], ["returns"]],
)
def test_real_export_shapes_are_the_same(
    tmp_path: Path, name: str, text: str, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / name
    path.write_text(text)
    window = [] if command[0] == "clv" else ["-w", "1mo"]  # clv historical refuses a window
    for rows in (1, 2, 3):
        result = assert_same(
            [command[0], str(path), *command[1:], *window, "--format", "csv"],
            monkeypatch,
            rows=rows,
        )
        assert result.exit_code == 0, result.stderr


def _events(frame: pl.DataFrame) -> pl.DataFrame:
    """Revenue (integer micros) per customer, day, revenue day and purchase flag: what the
    batched reader keeps (lines summed within a batch), and what any split of the lines
    into batches must leave the same."""
    group = ["customer_id", "day", "revenue_day", "is_purchase"]
    return (
        frame.group_by(group)
        .agg(to_micros(pl.col("revenue")).sum().alias("micros"))
        .sort([*group, "micros"])
    )


def test_a_return_in_a_later_batch_counts_on_its_orders_day(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,order_date,quantity,amount,status\n"
        "o1,c1,2024-01-05,1,30.00,paid\n"
        "o2,c2,2024-01-06,1,10.00,\n"  # takes o2's status, two batches later
        "o3,c3,2024-01-07,1,12.00,paid\n"
        "o2,c2,2024-01-06,1,5.00,cancelled\n"
        "o1,c1,2024-02-20,-1,-30.00,returned\n"  # counts on 2024-01-05
        "o4,c1,2024-03-01,1,8.00,paid\n"
    )
    options = LoadOptions(today=dt.date(2025, 1, 1))
    split = load_order_events(str(path), options, batch_rows=2)
    whole = classify(load_orders(str(path), options).frame.lazy()).collect()
    assert _events(split.frame).equals(_events(whole))
    moved = split.frame.filter(pl.col("revenue") < 0).row(0, named=True)
    assert (moved["day"], moved["revenue_day"]) == (dt.date(2024, 2, 20), dt.date(2024, 1, 5))
    o2 = split.frame.filter(pl.col("customer_id") == "c2")
    assert not o2["is_purchase"].any()  # the status-less line took "cancelled"
    assert o2["revenue"].sum() == 0.0  # both lines of o2: reversed by status


RETURNS = (
    "order_id,customer_id,order_date,quantity,amount,status\n"
    "'1001,c1,2024-01-05,1,30.00,paid\n"
    "o2,c2,2024-01-06,1,10.00,paid\n"
    "1001.0,c1,2024-01-04,1,10.00,paid\n"  # the order's first purchase day
    "o3,c3,2024-01-07,1,12.00,cancelled\n"
    "o2,c2,2024-01-09,1,5.00,paid\n"
    "1001,c1,2024-02-20,-1,-10.00,returned\n"  # counts on 2024-01-04
    "o3,c3,2024-02-21,-1,-12.00,returned\n"  # o3 has no purchase: its own day
    "o9,c1,2024-03-01,-1,-8.00,returned\n"  # no other line: its own day
    " o2 ,c2,2024-03-02,-1,-5.00,returned\n"  # counts on 2024-01-06
)


def _returns_file(tmp_path: Path) -> tuple[Path, LoadOptions, pl.DataFrame]:
    """RETURNS written to a file, the options to read it, and its lines classified whole."""
    path = tmp_path / "orders.csv"
    path.write_text(RETURNS)
    options = LoadOptions(today=dt.date(2025, 1, 1))
    return path, options, classify(load_orders(str(path), options).frame.lazy()).collect()


def test_returns_take_their_orders_day_from_the_first_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every line has a status: each sale is classified on its own, and the first purchase
    # day of every order, kept per batch, moves the returns; no second pass.
    path, options, whole = _returns_file(tmp_path)

    def no_second_pass(*args: object) -> None:
        raise AssertionError("the second pass ran")

    monkeypatch.setattr(batched._Reader, "read_donors", no_second_pass)
    for rows in (1, 2, 4, 100):
        split = load_order_events(str(path), options, batch_rows=rows)
        assert _events(split.frame).equals(_events(whole))
    moved = split.frame.filter(pl.col("revenue") < 0).sort("day")
    assert moved.select("customer_id", "revenue_day").rows() == [
        ("c1", dt.date(2024, 1, 4)),
        ("c3", dt.date(2024, 2, 21)),
        ("c1", dt.date(2024, 3, 1)),
        ("c2", dt.date(2024, 1, 6)),
    ]


def _share_first_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give every order id the same first hash (the second stays its own)."""
    real = batched._order_keys

    def shared_first(order: pl.Expr) -> list[pl.Expr]:
        first, second = real(order)
        return [pl.when(first.is_not_null()).then(pl.lit(7, pl.UInt64)).alias("_o1"), second]

    monkeypatch.setattr(batched, "_order_keys", shared_first)


def test_orders_sharing_a_first_hash_are_matched_on_their_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every order id given the same first hash: the order days cannot tell the orders
    # apart, and the second pass (which matches lines on their ids) classifies the returns.
    path, options, whole = _returns_file(tmp_path)
    passes: list[int] = []
    read_donors = batched._Reader.read_donors

    def counted(self: batched._Reader, *args: Any) -> None:
        passes.append(1)
        read_donors(self, *args)

    _share_first_hashes(monkeypatch)
    monkeypatch.setattr(batched._Reader, "read_donors", counted)
    for rows in (1, 3, 100):
        split = load_order_events(str(path), options, batch_rows=rows)
        assert _events(split.frame).equals(_events(whole))
    assert len(passes) == 3


def test_lines_are_summed_within_a_batch_and_the_sums_add_up(tmp_path: Path) -> None:
    # Four lines of c1 on one day (one a return of an order of that day): rows summed
    # (the return apart, as it needs its order), whose sums are the lines' revenue
    # rounded per line to micros, whatever the streaming engine's chunks.
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,order_date,amount\n"
        "o1,c1,2024-01-05,10.0000004\n"
        "o1,c1,2024-01-05,10.0000004\n"
        "o2,c1,2024-01-05,5.25\n"
        "o2,c1,2024-01-05,-5.25\n"
        "o3,c2,2024-01-05,1.00\n"
    )
    options = LoadOptions(today=dt.date(2025, 1, 1))
    whole = load_order_events(str(path), options, batch_rows=10)
    assert whole.frame.height == 3  # c1's purchases (o1 and o2), its return; c2
    c1 = _events(whole.frame).filter(pl.col("customer_id") == "c1")
    assert c1.select("is_purchase", "micros").rows() == [
        (False, -5_250_000),
        (True, 25_250_000),  # 10.0000004 is 10,000,000 micros, twice
    ]
    for rows in (1, 2, 3):
        split = load_order_events(str(path), options, batch_rows=rows)
        assert _events(split.frame).equals(_events(whole.frame))


ORDERS = (
    "order_id,customer_id,order_date,amount,status\n"
    "o1,c1,2024-01-05,10.00,paid\n"
    "o1,c1,2024-01-05,5.00,paid\n"  # the same order: one order, whatever the batches
    ",c1,2024-01-05,3.00,paid\n"  # no order id: an order of its own
    ",c1,2024-01-05,4.00,paid\n"  # and another, on the same day
    "o2,c1,2024-01-07,2.00,paid\n"
    "o1,c1,2024-01-09,1.00,paid\n"  # o1 again: it counts on its first day
    "o3,c2,2024-01-06,7.00,cancelled\n"  # no purchase: c2 has no orders
)


@pytest.mark.parametrize("anonymous", [False, True])
@pytest.mark.parametrize("shared", [False, True])
def test_orders_are_kept_apart_and_lines_without_an_id_are_orders_of_their_own(
    tmp_path: Path, anonymous: bool, shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    options = LoadOptions(today=dt.date(2025, 1, 1))
    if shared:  # every order id's first hash the same: the orders are numbered instead
        _share_first_hashes(monkeypatch)
    for rows in (1, 2, 3, 100):
        loaded = load_order_events(
            str(path), options, batch_rows=rows, orders=True, anonymous=anonymous
        )
        frame = loaded.frame
        assert frame.schema["order_id"] == pl.UInt64
        assert frame.filter(pl.col("order_id").is_null()).height == 2  # the two lines apart
        assert frame.select(pl.col("order_id").drop_nulls().n_unique()).item() == 3
        table = historical.per_customer(Rows(frame.lazy(), loaded.holds))
        assert table.select(*historical.CUSTOMER_COLUMNS).rows() == [
            (4, 25.0, 6.25, dt.date(2024, 1, 5), dt.date(2024, 1, 7), 2)
        ]


PIECES = (
    "order_id,customer_id,order_date,quantity,amount,status\n"
    "o1,c1,2024-01-05,2,20.00,paid\n"
    "o1,c1,2024-01-05,1,5.00,paid\n"
    "o1,c1,2024-01-20,-1,-5.00,paid\n"  # a return line of o1: on o1's day
    ",c1,2024-01-06,1,3.00,returned\n"  # no order id: an order of its own, returned whole
    "o2,c2,2024-02-01,1,7.00,cancelled\n"  # a cancelled order...
    "o2,c2,2024-02-03,-1,-7.00,\n"  # ...whose return line is left out
    "o3,c2,2024-02-10,3,30.00,paid\n"
)


@pytest.mark.parametrize("shared", [False, True])
def test_returns_read_in_pieces_count_each_order_once(
    tmp_path: Path, shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # January: o1 (3 units, 25.00, 1 unit and 5.00 back) and the line without an id
    # (1 unit, 3.00, all back); February: o3 (3 units, 30.00), o2 cancelled with its return.
    path = tmp_path / "orders.csv"
    path.write_text(PIECES)
    if shared:  # every order id's first hash the same: the orders are numbered instead
        _share_first_hashes(monkeypatch)
    options = LoadOptions(today=dt.date(2025, 1, 1))
    for rows in (1, 2, 3, 100):
        pieces = load_order_events(str(path), options, batch_rows=rows, pieces=True).frame
        orders = pieces.filter(pl.col("_kind") == returns.SALE)["_order"]
        # Order ids' keys have the top bit set; the line without one is keyed by its row.
        assert orders.filter(orders < keys.TOP_BIT).unique().to_list() == [3]
        assert orders.filter(orders >= keys.TOP_BIT).n_unique() == 2  # o1, o3
        result = assert_same(
            ["returns", str(path), "--period", "month", "--format", "csv"], monkeypatch, rows
        )
        assert result.exit_code == 0, result.stderr
        table = pl.read_csv(result.stdout.encode())
        assert table.select(
            "orders", "orders_returned", "units_sold", "units_returned", "gross_sales", "refunded"
        ).rows() == [(2, 2, 4, 2, 28.0, 8.0), (1, 0, 3, 0, 30.0, 0.0)]
        assert "1 return line of cancelled orders left out" in result.stderr


NO_ORDER_IDS = (
    "customer_id,order_date,quantity,amount\n"
    "c1,2024-01-05,2,20.00\n"
    "c1,2024-01-05,1,5.00\n"
    "c2,2024-01-20,-1,-5.00\n"
    "c2,2024-02-03,1,8.00\n"
)


def test_returns_without_order_ids_count_each_line_as_an_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No order_id column: every line is an order of its own, keyed by its row, and a
    # return line matches no sale (it counts on its own date, not in orders_returned).
    path = tmp_path / "orders.csv"
    path.write_text(NO_ORDER_IDS)
    for rows in (1, 2, 100):
        result = assert_same(
            ["returns", str(path), "--period", "month", "--format", "csv"], monkeypatch, rows
        )
        assert result.exit_code == 0, result.stderr
        table = pl.read_csv(result.stdout.encode())
        assert table.select("orders", "orders_returned", "units_sold", "units_returned").rows() == [
            (2, 0, 3, 1),
            (1, 0, 1, 0),
        ]
        assert "1 return line (1 units, 5.00 refunded) without a matching sale order" in (
            result.stderr
        )


@pytest.mark.parametrize("command", [["clv", "--model", "historical"], ["kpis"]])
def test_orders_without_order_ids_are_read_in_batches_too(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The commands that count orders, on lines without an order_id column (each its
    # own order): the same tables read in batches (this failed before: the reader
    # cleaned a column the input does not have).
    path = tmp_path / "orders.csv"
    path.write_text(NO_ORDER_IDS)
    for rows in (1, 2, 100):
        result = assert_same(
            [command[0], str(path), *command[1:], "--format", "csv"], monkeypatch, rows
        )
        assert result.exit_code == 0, result.stderr


def test_without_revenue_only_the_purchase_days_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,order_date,quantity,amount,status\n"
        "o1,c1,2024-01-05,1,30.00,paid\n"
        "o1,c1,2024-01-05,1,10.00,paid\n"
        "o2,c2,2024-01-06,1,10.00,cancelled\n"
        "o1,c1,2024-02-20,-1,-30.00,returned\n"
        "o3,c1,2024-03-01,1,8.00,\n"
    )
    options = LoadOptions(today=dt.date(2025, 1, 1))
    whole = classify(load_orders(str(path), options).frame.lazy()).collect()
    expected = (
        whole.filter(pl.col("is_purchase"))
        .select("customer_id", "day")
        .unique()
        .sort("customer_id", "day")
    )
    for rows in (1, 2, 10):
        split = load_order_events(str(path), options, batch_rows=rows, revenue=False)
        assert split.frame.columns == ["customer_id", "day", "is_purchase"]
        assert split.frame["is_purchase"].all()
        days = split.frame.select("customer_id", "day").unique().sort("customer_id", "day")
        assert days.equals(expected)
    assert expected.height == 2  # c1 on 2024-01-05 and 2024-03-01


def test_an_order_id_written_two_ways_is_one_order(tmp_path: Path) -> None:
    # The sale's order id is written with Shopify's apostrophe, or as a float, or with
    # spaces; the return (or the line without a status) plainly: one order all the same,
    # whichever batch each line is in.
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,order_date,quantity,amount,status\n"
        "'1001,c1,2024-01-05,1,30.00,paid\n"
        " 1002 ,c2,2024-01-06,1,10.00,cancelled\n"
        "1001.0,c1,2024-01-05,1,10.00,paid\n"
        "1001,c1,2024-02-20,-1,-10.00,returned\n"
        "1001,c1,2024-03-20,-1,-5.00,returned\n"
        "1002,c2,2024-01-07,1,4.00,\n"
    )
    options = LoadOptions(today=dt.date(2025, 1, 1))
    whole = classify(load_orders(str(path), options).frame.lazy()).collect()
    for rows in (1, 2, 5):
        split = load_order_events(str(path), options, batch_rows=rows)
        assert _events(split.frame).equals(_events(whole))
    moved = split.frame.filter(pl.col("revenue") < 0)["revenue_day"].to_list()
    assert moved == [dt.date(2024, 1, 5)] * 2
    assert not split.frame.filter(pl.col("customer_id") == "c2")["is_purchase"].any()


def test_decimal_commas_are_decided_from_every_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "1.234" reads both ways; only the fourth line ("7,5") tells the column's mark,
    # and the refund column follows the amount column.
    path = tmp_path / "bestellungen.csv"
    path.write_text(
        "customer_id;order_date;amount;refund_amount\n"
        "c1;2024-01-05;1.234;0\n"
        "c2;2024-01-06;10;1.000\n"
        "c1;2024-02-07;3;0\n"
        "c3;2024-02-08;7,5;0\n"
    )
    for rows in (1, 3):
        result = assert_same(["churn", str(path), "--format", "csv"], monkeypatch, rows=rows)
        assert result.exit_code == 0, result.stderr
    assert ",1234.0," in result.stdout  # January new revenue: 1.234 read with a decimal comma


@pytest.mark.parametrize(
    ("amounts", "reads"),
    [
        (["12.50", "3", "1,234.00", "7.25"], 1),  # the first rows tell: a point
        (["12,50", "3", "1.234,00", "7,25"], 1),  # the first rows tell: a comma
        (["3", "1.234", "10", "7,25"], 2),  # they read the same either way, or 1234
    ],
    ids=["point", "comma", "told-late"],
)
def test_rows_are_read_again_only_when_the_first_rows_misled_on_the_marks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, amounts: list[str], reads: int
) -> None:
    path = tmp_path / "orders.csv"
    lines = [f'c{n % 2},2024-0{n + 1}-05,"{a}"' for n, a in enumerate(amounts)]
    path.write_text("customer_id,order_date,amount\n" + "\n".join(lines) + "\n")
    monkeypatch.setattr(batched, "SAMPLE_ROWS", 2)
    calls: list[int] = []
    read = batched._Reader.read

    def counted(self: Any, *args: Any) -> None:
        calls.append(1)
        read(self, *args)

    monkeypatch.setattr(batched._Reader, "read", counted)
    result = assert_same(["churn", str(path), "--format", "csv"], monkeypatch, rows=1)
    assert result.exit_code == 0, result.stderr
    assert len(calls) == reads
    assert ",1234.0," in result.stdout  # the third/second month's revenue, read with its mark


def test_marks_mixed_after_the_first_rows_are_refused_as_the_in_memory_reader_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first rows show a decimal comma; a later one a decimal point.
    path = tmp_path / "orders.csv"
    amounts = ["12,50", "7,25", "3", "1.5"]
    lines = [f'c{n % 2},2024-0{n + 1}-05,"{a}"' for n, a in enumerate(amounts)]
    path.write_text("customer_id,order_date,amount\n" + "\n".join(lines) + "\n")
    monkeypatch.setattr(batched, "SAMPLE_ROWS", 2)
    result = assert_same(["churn", str(path), "--format", "csv"], monkeypatch, rows=1)
    assert result.exit_code == 2
    assert "mixes a decimal point ('1.5', line 5) and a decimal comma ('12,50', line 2)" in (
        result.stderr
    )


def test_anonymous_ids_are_the_keys_of_encode_customers(tmp_path: Path) -> None:
    options = LoadOptions(today=dt.date(2027, 1, 1))
    spec = str(SAMPLE / "orders.csv")
    text = load_order_events(spec, options, batch_rows=997)
    hashed = load_order_events(spec, options, batch_rows=997, anonymous=True)
    assert hashed.frame["customer_id"].dtype == pl.UInt64
    (encoded,) = keys.encode_customers(text.frame, free_bits=free_bits(text.frame["day"]))
    assert encoded is not None
    assert _events(hashed.frame).equals(_events(encoded))


def test_ids_sharing_a_hash_are_read_again_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def clash(h1: pl.Series, h2: pl.Series) -> pl.Series:
        # More distinct (h1, h2) pairs than first hashes: what two ids sharing h1 give.
        calls.append(h1.len())
        return pl.int_range(0, h1.len(), dtype=pl.UInt64, eager=True) + sum(calls)

    monkeypatch.setattr(keys, "pair_words", clash)
    options = LoadOptions(today=dt.date(2027, 1, 1))
    spec = str(SAMPLE / "orders.csv")
    loaded = load_order_events(spec, options, anonymous=True)
    assert calls  # the check ran, found a clash, and the input was read with its ids
    assert loaded.frame["customer_id"].dtype == pl.String
    assert _events(loaded.frame).equals(_events(load_order_events(spec, options).frame))


# Errors and warnings: the same message, naming the same line, from any batch.

GOOD = "c{n},2024-01-{d:02d},{n}.50\n"


def _orders(tmp_path: Path, bad: dict[int, str], rows: int = 30) -> Path:
    lines = ["customer_id,order_date,amount\n"]
    for n in range(rows):
        lines.append(bad.get(n, GOOD.format(n=n % 7, d=n % 27 + 1)))
    path = tmp_path / "orders.csv"
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize(
    "bad",
    [
        {17: "c1,2024-13-45,3.00\n", 23: "c2,yesterday,3.00\n"},  # unreadable dates
        {19: "c1,2024-01-02,twelve\n", 26: "c3,2024-01-02,1.2.3\n"},  # unreadable amounts
        {21: "c1,2999-01-02,3.00\n"},  # far in the future
        {22: "c1,1850-01-02,3.00\n"},  # before 1900
        {18: "c1,2024-01-02,3.00,oops\n"},  # a field more than the header
        {12: 'c1,2024-01-02,"1.234,50"\n', 25: 'c1,2024-01-03,"1,234.50"\n'},  # two marks
        {9: "c1,2024-01-02,3.00\n", 20: "c1,2024-01-02,3.00\n", 29: "c1,2024-01-02,3.00\n"},
        {13: ",2024-01-02,3.00\n", 14: "c4,,3.00\n", 15: ",,\n"},  # no id, no date, blank
        {16: "c2,2024-02-03,5.00\n", 27: "c2,2024-01-02,7.00\n"},  # nothing wrong
    ],
    ids=[
        "bad-date",
        "bad-amount",
        "future",
        "ancient",
        "ragged",
        "two-marks",
        "repeats",
        "missing",
        "fine",
    ],
)
@pytest.mark.parametrize("dedupe", [False, True])
def test_errors_and_warnings_are_the_same(
    tmp_path: Path, bad: dict[int, str], dedupe: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _orders(tmp_path, bad)
    args = ["retention", str(path), "--format", "csv", *(["--dedupe"] if dedupe else [])]
    result = assert_same(args, monkeypatch, rows=4)
    assert result.stderr or result.exit_code == 0


def test_no_rows_with_a_customer_and_a_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_date,amount\n,2024-01-02,3.00\nc1,,4.00\n")
    result = assert_same(["churn", str(path)], monkeypatch, rows=1)
    assert result.exit_code == 2
    assert "no order rows with a customer and a date" in result.stderr


def test_rows_are_summed_per_run_of_equal_values_even_when_the_running_sum_wraps() -> None:
    # Three runs: (a, x), (a, null) twice, (b, null); then (a, x) again, a run of its own.
    # 4e12 units are 4e18 micros: the running sum passes 2**63 and wraps around.
    rows = pl.LazyFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "a"],
            "channel": ["x", "x", None, None, None, "x"],
            "revenue": [4e12, 4e12, 4e12, -1.5, 2.25, 0.000001],
        }
    )
    summed = batched._run_sums(rows, ["customer_id", "channel"]).collect()
    assert summed.to_dicts() == [
        {"customer_id": "a", "channel": "x", "micros": 8 * 10**18},
        {"customer_id": "a", "channel": None, "micros": 4 * 10**18 - 1_500_000},
        {"customer_id": "b", "channel": None, "micros": 2_250_000},
        {"customer_id": "a", "channel": "x", "micros": 1},
    ]
