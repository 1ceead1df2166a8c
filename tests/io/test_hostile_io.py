"""Real exports and hostile input at the loader: encodings, shapes, ids, zones, dates, copies.

The CLI side (exit codes, stderr, output safety, signals) is in tests/cli/test_hostile.py;
the corpus of bad files is tests/data/bad/.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import io
import os
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

from retcalc.errors import InputError, UsageError
from retcalc.io import dates
from retcalc.io import load as load_io
from retcalc.io.frames import LoadOptions, load_customers, load_orders
from retcalc.io.load import ROW, open_table
from retcalc.io.returns_file import load_returns

D = dt.date
H = "customer_id,order_date,amount\n"


def load(path: Path, **options: object) -> pl.DataFrame:
    return load_orders(str(path), LoadOptions(**options)).frame.sort(ROW)  # type: ignore[arg-type]


def message_of(path: Path | str, **options: object) -> str:
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions(**options))  # type: ignore[arg-type]
    return info.value.message


# Encodings.


def test_windows_1252_is_read_with_a_warning_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_bytes(
        (H + "a,2024-01-05,10\nJosé,2024-01-06,5\nRené,2024-01-07,€\n").encode("cp1252")
    )
    with pytest.raises(InputError):  # '€' is not a number; the file was decoded, not mangled
        load_orders(str(path), LoadOptions())
    path.write_bytes(
        (H + "a,2024-01-05,10\nJosé,2024-01-06,5\nRené,2024-01-07,3\n").encode("cp1252")
    )
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame.sort(ROW)["customer_id"].to_list() == ["a", "José", "René"]
    assert len(loaded.warnings) == 1
    assert "line 3" in loaded.warnings[0] and "0xE9" in loaded.warnings[0]
    assert "Windows-1252" in loaded.warnings[0] and "--encoding" in loaded.warnings[0]


def test_invalid_bytes_never_merge_distinct_ids(tmp_path: Path) -> None:
    """Lossy UTF-8 would turn both ids into 'Caf\ufffd'; a one-byte encoding keeps them apart."""
    path = tmp_path / "ids.csv"
    path.write_bytes(H.encode() + b"Caf\xe9,2024-01-05,1\nCaf\xe8,2024-01-06,1\n")
    ids = load(path)["customer_id"].to_list()
    assert len(set(ids)) == 2 and "\ufffd" not in "".join(ids)


def test_bytes_undefined_in_windows_1252_fall_back_to_latin_1(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(H.encode() + b"x\x81y,2024-01-05,1\n")
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame["customer_id"].to_list() == ["x\x81y"]
    assert "Latin-1" in loaded.warnings[0]


def test_invalid_utf8_far_into_a_large_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    body = "".join(f"c{i},2024-01-05,1\n" for i in range(20000))
    path.write_bytes(H.encode() + body.encode() + b"Jos\xe9,2024-01-06,1\n")
    loaded = load_orders(str(path), LoadOptions())
    assert "line 20002" in loaded.warnings[0]
    assert loaded.frame.height == 20001


def test_explicit_encoding_wins_and_bad_bytes_for_it_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(H.encode() + b"a,2024-01-05,1\nb\xff\xfe,2024-01-06,1\n")
    message = message_of(path, encoding="ascii")
    assert "line 3" in message and "0xFF" in message and "--encoding" in message


def test_unknown_encoding_is_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        open_table(str(tmp_path / "nope.csv"), encoding="klingon")
    assert "--encoding 'klingon'" in info.value.message


def test_utf16_without_bom_is_recognised_and_readable_with_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes((H + "a,2024-01-05,1\n").encode("utf-16-le"))
    assert "utf-16-le" in message_of(path)
    assert load(path, encoding="utf-16-le")["customer_id"].to_list() == ["a"]


# Shapes of text.


@pytest.mark.parametrize(
    ("header", "sep"),
    [
        ('"customer_id";"order_date";"amount"', ";"),
        ('"Name, first";customer_id;order_date', ";"),  # a comma inside a quoted header
        ("customer_id\torder_date\tamount", "\t"),
        ('"a;b",customer_id,order_date', ","),
    ],
    ids=["quoted-semicolon", "comma-in-quoted-header", "tab", "semicolon-in-quoted-header"],
)
def test_separator_is_sniffed_outside_quotes(tmp_path: Path, header: str, sep: str) -> None:
    path = tmp_path / "x.csv"
    names = [h.strip('"') for h in header.split(sep)]
    row = sep.join(
        "2024-01-05" if n == "order_date" else "c1" if n == "customer_id" else "1" for n in names
    )
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    table = open_table(str(path))
    assert list(table.columns) == names


def test_a_tie_between_separators_is_broken_by_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("customer_id;order_date,x\nc1;2024-01-05,1\nc2;2024-01-06,2\n")
    # one ';' and one ',' in the header; both split every row the same way: the first wins
    assert len(open_table(str(path)).columns) == 2


def test_quoted_newlines_shift_line_numbers_in_messages(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(
        "customer_id,order_date,amount,note\n"
        'c1,2024-01-05,1,"one\ntwo\nthree"\n'
        "c2,2024-01-06,1,plain\n"
        "c3,2024-01-07,oops,plain\n",
        encoding="utf-8",
    )
    message = message_of(path)
    assert "row 3 (line 6)" in message and "'oops'" in message


def test_quoted_newline_after_the_bad_row_does_not_change_its_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(
        'customer_id,order_date,amount,note\nc1,2024-01-05,oops,x\nc2,2024-01-06,1,"a\nb"\n',
        encoding="utf-8",
    )
    assert "line 2:" in message_of(path)


def test_windows_line_ends_inside_quoted_fields(tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes(
        b'customer_id,order_date,amount,note\r\nc1,2024-01-05,1,"a\r\nb"\r\nc2,2024-01-06,x,y\r\n'
    )
    assert "row 2 (line 4)" in message_of(path)


def test_blank_lines_are_skipped_and_counted_in_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text(H + "a,2024-01-05,1\n\n\nb,2024-01-06,x\n")
    assert "line 5" in message_of(path)
    path.write_text(H + "a,2024-01-05,1\n\n\nb,2024-01-06,2\n\n")
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame["customer_id"].to_list() == ["a", "b"]
    assert loaded.warnings == []  # blank lines are not rows without a date or a customer


def test_a_line_with_more_fields_than_the_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "shifted.csv"
    path.write_text(H + "a,2024-01-05,10\nb,2024-01-06,1,234.50\nc,2024-01-07,1,5\n")
    message = message_of(path)
    assert "line 3 has more fields than the header's 3" in message
    assert "(1 more such line)" in message


def test_extra_empty_fields_are_harmless(tmp_path: Path) -> None:
    path = tmp_path / "trailing.csv"
    path.write_text(H + "a,2024-01-05,10,,\nb,2024-01-06,2,\n")
    assert load(path)["amount"].to_list() == [10.0, 2.0]


def test_short_lines_read_missing_values_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text(H + "a,2024-01-05\nb,2024-01-06,2\n")
    assert load(path)["amount"].to_list() == [None, 2.0]


def test_ragged_line_in_a_glob_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(H + "a,2024-01-05,1\n")
    (tmp_path / "b.csv").write_text(H + "b,2024-01-06,1\nc,2024-01-07,1,5\n")
    assert "b.csv, line 3 has more fields" in message_of(tmp_path / "*.csv")


def test_classic_mac_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes((H + "a,2024-01-05,1\rb,2024-01-06,2\r").replace("\n", "\r").encode())
    assert load(path)["customer_id"].to_list() == ["a", "b"]


def test_gzip_compressed_csv_is_read(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress((H + "a,2024-01-05,1\n").encode()))
    assert load(path)["customer_id"].to_list() == ["a"]


def test_truncated_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress((H + "a,2024-01-05,1\n" * 50).encode())[:30])
    assert "gzip" in message_of(path) and "truncated" in message_of(path)


@pytest.mark.parametrize(
    ("magic", "words"),
    [
        (b"PK\x03\x04", "Excel workbook (.xlsx)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel 97-2003"),
        (b"SQLite format 3\x00", "SQLite"),
        (b"BZh91AY&SY", "bzip2"),
    ],
    ids=["xlsx", "xls", "sqlite", "bzip2"],
)
def test_files_that_are_not_exports_say_what_they_are(
    tmp_path: Path, magic: bytes, words: str
) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(magic + b"\x00" * 40)
    assert words in message_of(path)


def test_nul_byte_deep_in_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "damaged.csv"
    path.write_bytes(H.encode() + b"a,2024-01-05,1\n" * 400 + b"b,2024-01-0\x006,1\n")
    assert "line 402 contains a NUL byte" in message_of(path)


@pytest.mark.parametrize("chunk", [5, 16, 64, 1 << 20])
@pytest.mark.parametrize("fault", [None, b"\xe9", b"\x00", b"\xc3"])
def test_utf8_check_names_the_line_of_a_fault_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, fault: bytes | None
) -> None:
    # ASCII runs, accented names (two-byte characters that chunks cut in two), a line
    # longer than a chunk; the fault (if any) on line 40, in the middle of a value.
    lines = [H.encode()]
    for n in range(2, 60):
        name = "Jos\u00e9 Ren\u00e9e" if n % 7 == 0 else f"c{n}"
        if n == 23:
            name = "x" * 100
        value = f"{name},2024-01-05,{n}"
        if n == 40 and fault is not None:
            lines.append(value[:3].encode() + fault + value[3:].encode() + b"\n")
        else:
            lines.append(value.encode() + b"\n")
    data = b"".join(lines)
    path = tmp_path / "orders.csv"
    path.write_bytes(data)
    monkeypatch.setattr(load_io, "CHUNK", chunk)
    if fault == b"\x00":
        with pytest.raises(InputError, match="line 40 contains a NUL byte"):
            load_io._scan_utf8(path, "orders.csv")
        return
    found = load_io._scan_utf8(path, "orders.csv")
    if fault is None:
        assert found is None
        return
    assert found == (40, fault[0], data.index(b"c40") + 3)


def test_duplicate_header_names_warn(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("customer_id,order_date,amount,amount\na,2024-01-05,1,2\n")
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame["amount"].to_list() == [1.0]
    assert any("'amount' appears more than once" in w for w in loaded.warnings)


def test_columns_in_any_order_and_case_extra_columns_ignored(tmp_path: Path) -> None:
    path = tmp_path / "any.csv"
    path.write_text("NOTES,Total,ORDER DATE,Customer ID,Region\nhi,5,2024-01-05,007,EU\n")
    frame = load(path)
    assert frame.select("customer_id", "day", "amount").row(0) == ("007", D(2024, 1, 5), 5.0)
    assert "NOTES" not in frame.columns and "Region" not in frame.columns


# Inputs that are not plain files.


def test_a_fifo_is_read_whole(tmp_path: Path) -> None:
    """`retcalc retention <(zcat orders.csv.gz)`: the path is a pipe, read once."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    text = (H + "a,2024-01-05,1\n" + "".join(f"c{i},2024-01-06,1\n" for i in range(5000))).encode()

    def feed() -> None:
        with fifo.open("wb") as handle:
            handle.write(text)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        frame = load(fifo)
    finally:
        writer.join(timeout=10)
    assert frame.height == 5001 and frame["customer_id"][0] == "a"


def test_broken_symlink_says_where_it_points(tmp_path: Path) -> None:
    link = tmp_path / "orders.csv"
    link.symlink_to(tmp_path / "gone" / "orders.csv")
    message = message_of(link)
    assert "symbolic link" in message and "gone" in message


def test_missing_file_suggests_a_close_name(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(H + "a,2024-01-05,1\n")
    assert "did you mean" in message_of(tmp_path / "order.csv")
    assert "directory" in message_of(tmp_path / "nowhere" / "orders.csv")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as root, which reads files whatever their mode: the denial is simulated."""
    path = tmp_path / "locked.csv"
    path.write_text(H + "a,2024-01-05,1\n")
    real_open = Path.open

    def denied(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", denied)
    message = message_of(path)
    assert "locked.csv" in message and "Permission denied" in message


def test_stdin_that_is_a_terminal_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    with pytest.raises(InputError) as info:
        open_table("-")
    assert "terminal" in info.value.message


def test_corrupt_parquet_names_the_file(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    pl.DataFrame({"customer_id": ["a"] * 100, "order_date": [D(2024, 1, 5)] * 100}).write_parquet(
        buffer
    )
    data = bytearray(buffer.getvalue())
    data[8:-40] = b"\xff" * (len(data) - 48)  # keep both magic numbers, ruin the pages
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "corrupt.parquet" in info.value.message


# Identifiers.


def test_ids_with_leading_zeros_and_beyond_64_bits_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(
        H + "007,2024-01-05,1\n7,2024-01-05,1\n123456789012345678901234567890,2024-01-05,1\n"
    )
    assert load(path)["customer_id"].to_list() == ["007", "7", "123456789012345678901234567890"]


def test_parquet_integer_and_decimal_ids(tmp_path: Path) -> None:
    path = tmp_path / "ids.parquet"
    pl.DataFrame(
        {
            "customer_id": pl.Series([2**64 - 1, 7], dtype=pl.UInt64),
            "order_date": [D(2024, 1, 5)] * 2,
        }
    ).write_parquet(path)
    assert load(path)["customer_id"].to_list() == ["18446744073709551615", "7"]
    pl.DataFrame(
        {
            "customer_id": pl.Series(
                [decimal.Decimal("13085.00"), decimal.Decimal("12345678901234567890123")],
                dtype=pl.Decimal(38, 2),
            ),
            "order_date": [D(2024, 1, 5)] * 2,
        }
    ).write_parquet(path)
    assert load(path)["customer_id"].to_list() == ["13085", "12345678901234567890123"]


def test_float_ids_beyond_2_53_warn(tmp_path: Path) -> None:
    path = tmp_path / "ids.parquet"
    pl.DataFrame(
        {"customer_id": [9007199254740993.0, 12.0], "order_date": [D(2024, 1, 5)] * 2}
    ).write_parquet(path)
    loaded = load_orders(str(path), LoadOptions())
    assert any("2^53" in w for w in loaded.warnings)


@pytest.mark.parametrize("marker", ["NULL", "null", "NaN", "None", "\\N"])
def test_missing_markers_are_no_customer(tmp_path: Path, marker: str) -> None:
    path = tmp_path / "nulls.csv"
    path.write_text(H + f"a,2024-01-05,1\n{marker},2024-01-06,2\n")
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame["customer_id"].to_list() == ["a"]
    assert "1 rows have no customer id" in loaded.warnings[0]


def test_missing_date_markers_are_no_date(tmp_path: Path) -> None:
    path = tmp_path / "nulls.csv"
    path.write_text(H + "a,NULL,1\nb,2024-01-06,2\n")
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame["customer_id"].to_list() == ["b"]


# Time zones.

SHOPIFY_TIMES = (
    "Name,Email,Financial Status,Created at,Lineitem quantity,Total\n"
    "#1,a@x.com,paid,2024-01-31 23:30:00 -0500,1,10\n"
    "#2,b@x.com,paid,2024-01-31 12:00:00 -0500,1,10\n"
    "#3,c@x.com,paid,2024-01-31,1,10\n"
)


def test_without_tz_the_date_is_the_one_written(tmp_path: Path) -> None:
    path = tmp_path / "shopify.csv"
    path.write_text(SHOPIFY_TIMES)
    assert load(path)["day"].to_list() == [D(2024, 1, 31)] * 3


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Paris", [D(2024, 2, 1), D(2024, 1, 31), D(2024, 1, 31)]),
        ("America/Los_Angeles", [D(2024, 1, 31), D(2024, 1, 31), D(2024, 1, 31)]),
        ("Asia/Tokyo", [D(2024, 2, 1), D(2024, 2, 1), D(2024, 1, 31)]),
        ("UTC", [D(2024, 2, 1), D(2024, 1, 31), D(2024, 1, 31)]),
    ],
)
def test_tz_converts_timestamps_with_an_offset(
    tmp_path: Path, zone: str, expected: list[dt.date]
) -> None:
    path = tmp_path / "shopify.csv"
    path.write_text(SHOPIFY_TIMES)
    # 23:30 -05:00 is 04:30 UTC on Feb 1; 12:00 -05:00 is 17:00 UTC on Jan 31;
    # a date without a time stays as written.
    assert load(path, tz=zone)["day"].to_list() == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-31T23:30:00Z", D(2024, 2, 1)),
        ("2024-01-31T23:30:00.123+00:00", D(2024, 2, 1)),
        ("2024-01-31 20:30+05:30", D(2024, 1, 31)),  # 15:00 UTC, 16:00 in Paris
        ("2024-01-31T22:59:59-01", D(2024, 2, 1)),  # 23:59:59 UTC, 00:59:59 in Paris
        ("2024-07-31 22:30:00 +0000", D(2024, 8, 1)),  # summer time: UTC+2
    ],
)
def test_tz_offset_spellings(tmp_path: Path, value: str, expected: dt.date) -> None:
    path = tmp_path / "o.csv"
    path.write_text(f"customer_id,order_date\na,{value}\n")
    assert load(path, tz="Europe/Paris")["day"].to_list() == [expected]


def test_tz_reads_a_utc_column_as_utc(tmp_path: Path) -> None:
    path = tmp_path / "unified_payments.csv"
    path.write_text(
        "id,Created (UTC),Amount,Amount Refunded,Currency,Status,Customer ID\n"
        "ch_1,2024-01-31 23:30,10,0,usd,Paid,cus_A\n"
    )
    assert load(path)["day"].to_list() == [D(2024, 1, 31)]
    assert load(path, tz="Asia/Tokyo")["day"].to_list() == [D(2024, 2, 1)]
    assert load(path, tz="America/New_York")["day"].to_list() == [D(2024, 1, 31)]


def test_tz_converts_zone_aware_parquet_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": ["a"], "order_date": [dt.datetime(2024, 1, 31, 23, 30)]}
    ).with_columns(pl.col("order_date").dt.replace_time_zone("America/New_York")).write_parquet(
        path
    )
    assert load(path)["day"].to_list() == [D(2024, 1, 31)]
    assert load(path, tz="Europe/Paris")["day"].to_list() == [D(2024, 2, 1)]


def test_tz_leaves_naive_parquet_datetimes_as_written(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": ["a"], "order_date": [dt.datetime(2024, 1, 31, 23, 30)]}
    ).write_parquet(path)
    assert load(path, tz="Asia/Tokyo")["day"].to_list() == [D(2024, 1, 31)]


def test_tz_names(tmp_path: Path) -> None:
    assert dates.check_zone("Europe/Paris") == "Europe/Paris"
    assert dates.check_zone("europe/paris") == "Europe/Paris"
    with pytest.raises(UsageError) as info:
        dates.check_zone("Europe/Pariss")
    assert "Europe/Paris" in info.value.message


def test_utc_headers() -> None:
    assert dates.header_says_utc("Created (UTC)")
    assert dates.header_says_utc("created_at_utc")
    assert not dates.header_says_utc("Outcome")


# Dates far from today.


def test_a_date_far_in_the_future_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "typo.csv"
    path.write_text(H + "a,2024-01-05,1\nb,2202-01-05,1\nc,2302-01-05,1\n")
    message = message_of(path, today=D(2025, 1, 1))
    assert "line 3" in message and "'2202-01-05'" in message and "future" in message
    assert "(1 more such row)" in message


def test_dates_up_to_a_year_ahead_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "soon.csv"
    path.write_text(H + "a,2024-01-05,1\nb,2025-12-31,1\n")
    assert load(path, today=D(2025, 1, 1)).height == 2


def test_as_of_after_today_moves_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    path.write_text(H + "a,2024-01-05,1\nb,2027-06-01,1\n")
    assert "future" in message_of(path, today=D(2025, 1, 1))
    assert load(path, today=D(2025, 1, 1), as_of=D(2027, 1, 1)).height == 2


def test_a_date_before_1900_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text(H + "a,1899-12-30,1\n")  # a spreadsheet's day zero
    assert "before 1900" in message_of(path)


def test_customers_dates_are_checked_too(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,signup_date,churn_date\na,2024-01-01,2240-01-01\n")
    with pytest.raises(InputError) as info:
        load_customers(str(path), LoadOptions(today=D(2025, 1, 1)))
    assert "churn_date" in info.value.message and "future" in info.value.message


def test_returns_file_dates_and_numbers(tmp_path: Path) -> None:
    path = tmp_path / "returns.csv"
    path.write_text("order_id;return_date;qty;refund\nA1;2024-02-01;1;12,50\nA2;2024-02-02;2;3\n")
    loaded = load_returns(str(path))
    assert loaded.frame.sort(ROW)["amount"].to_list() == [12.5, 3.0]
    path.write_text("order_id,return_date,qty\nA1,2902-02-01,1\n")
    with pytest.raises(InputError) as info:
        load_returns(str(path))
    assert "future" in info.value.message


# Exact copies.


def test_exact_duplicates_are_counted_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "dups.csv"
    path.write_text(H + "a,2024-01-05,1\nb,2024-01-05,1\na,2024-01-05,1\na,2024-01-05,1\n")
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame.height == 4 and loaded.duplicates == 2
    assert "2 rows repeat an earlier row exactly (e.g. line 4 repeats line 2)" in loaded.warnings[0]
    assert "--dedupe" in loaded.warnings[0]


def test_dedupe_drops_the_copies_and_keeps_the_first(tmp_path: Path) -> None:
    path = tmp_path / "dups.csv"
    path.write_text(H + "a,2024-01-05,1\nb,2024-01-05,1\na,2024-01-05,1\n")
    loaded = load_orders(str(path), LoadOptions(dedupe=True))
    assert loaded.frame[ROW].to_list() == [0, 1]
    assert "--dedupe left out 1 row" in loaded.warnings[0]


def test_rows_that_differ_in_an_unused_column_are_not_copies(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text("customer_id,order_date,amount,sku\na,2024-01-05,1,X\na,2024-01-05,1,Y\n")
    loaded = load_orders(str(path), LoadOptions(dedupe=True))
    assert loaded.frame.height == 2 and loaded.duplicates == 0 and loaded.warnings == []


def test_overlapping_exports_in_a_glob(tmp_path: Path) -> None:
    (tmp_path / "1-jan-feb.csv").write_text(H + "a,2024-01-05,1\nb,2024-02-05,2\n")
    (tmp_path / "2-feb-mar.csv").write_text(H + "b,2024-02-05,2\nc,2024-03-05,3\n")
    loaded = load_orders(str(tmp_path / "*.csv"), LoadOptions(dedupe=True))
    assert sorted(loaded.frame["customer_id"].to_list()) == ["a", "b", "c"]
    assert "2-feb-mar.csv, line 2 repeats" in loaded.warnings[0]
    assert "1-jan-feb.csv, line 3" in loaded.warnings[0]


def test_customers_copies_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,signup_date\na,2024-01-01\na,2024-01-01\n")
    assert load_customers(str(path), LoadOptions()).duplicates == 1
    assert load_customers(str(path), LoadOptions(dedupe=True)).frame.height == 1


def test_blank_lines_before_the_header(tmp_path: Path) -> None:
    path = tmp_path / "lead.csv"
    path.write_text("\n\n" + H + "a,2024-01-05,1\nb,2024-01-06,x\n")
    assert "line 5" in message_of(path)
    path.write_text("\n\n" + H + "a,2024-01-05,1\n")
    assert load(path)["customer_id"].to_list() == ["a"]


def test_excel_separator_line(tmp_path: Path) -> None:
    """Excel writes (and reads) ``sep=;`` above the header to name the separator."""
    path = tmp_path / "excel.csv"
    path.write_text("sep=;\ncustomer_id;order_date;amount\na;2024-01-05;1,5\nb;2024-01-06;x\n")
    assert "line 4" in message_of(path)
    path.write_text("sep=;\ncustomer_id;order_date;amount\na;2024-01-05;1,5\n")
    assert load(path)["amount"].to_list() == [1.5]
