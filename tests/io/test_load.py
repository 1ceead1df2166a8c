"""Opening inputs: CSV, Parquet, a directory or glob of Parquet, stdin (SPEC §1, STYLE)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import polars as pl
import pytest

from retcalc.errors import InputError
from retcalc.io.frames import LoadOptions, load_customers, load_orders
from retcalc.io.load import ROW, open_table

ORDERS_CSV = "customer_id,order_date,amount\n007,2024-01-05,10\n13085.0,2024-02-01,20.5\n"


def rows(spec: str, **kwargs: object) -> list[dict[str, object]]:
    table = open_table(spec, **kwargs)  # type: ignore[arg-type]
    return table.frame.sort(ROW).drop(ROW).collect().to_dicts()


def orders_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["a", "b", "a"],
            "order_date": [dt.date(2024, 1, 5), dt.date(2024, 1, 20), dt.date(2024, 2, 3)],
            "amount": [10.0, 20.0, 5.0],
        }
    )


# The kinds of input.


def test_csv_file_is_scanned_lazily_as_text(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS_CSV)
    table = open_table(str(path))
    assert isinstance(table.frame, pl.LazyFrame)
    assert table.columns == ("customer_id", "order_date", "amount")
    assert table.is_csv and table.path == path
    schema = table.frame.collect_schema()
    assert all(schema[c] == pl.String for c in table.columns)
    assert table.location(0) == "line 2"


def test_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    orders_frame().write_parquet(path)
    table = open_table(str(path))
    assert not table.is_csv
    assert table.columns == ("customer_id", "order_date", "amount")
    assert table.location(0) == "row 1"
    loaded = load_orders(str(path), LoadOptions(), need_amount=True)
    assert loaded.frame.sort(ROW)["customer_id"].to_list() == ["a", "b", "a"]
    assert loaded.frame["amount"].sum() == 35.0


def test_directory_of_parquet_files(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    frame = orders_frame()
    frame.head(2).write_parquet(folder / "part-0.parquet")
    frame.tail(1).write_parquet(folder / "part-1.parquet")
    loaded = load_orders(str(folder), LoadOptions())
    assert loaded.frame.height == 3
    assert sorted(loaded.frame["customer_id"].to_list()) == ["a", "a", "b"]


def test_glob_of_parquet_files(tmp_path: Path) -> None:
    frame = orders_frame()
    frame.head(1).write_parquet(tmp_path / "o1.parquet")
    frame.tail(2).write_parquet(tmp_path / "o2.parquet")
    (tmp_path / "notes.txt").write_text("not data")
    loaded = load_orders(str(tmp_path / "o*.parquet"), LoadOptions())
    assert loaded.frame.height == 3


def test_glob_of_csv_files(tmp_path: Path) -> None:
    (tmp_path / "jan.csv").write_text("customer_id,order_date\na,2024-01-05\n")
    (tmp_path / "feb.csv").write_text("customer_id,order_date\nb,2024-02-05\nc,2024-02-06\n")
    loaded = load_orders(str(tmp_path / "*.csv"), LoadOptions())
    assert sorted(loaded.frame["customer_id"].to_list()) == ["a", "b", "c"]


def test_glob_matching_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        open_table(str(tmp_path / "*.parquet"))
    assert "no file matches" in info.value.message


def test_glob_mixing_csv_and_parquet_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("customer_id,order_date\na,2024-01-05\n")
    orders_frame().write_parquet(tmp_path / "b.parquet")
    with pytest.raises(InputError) as info:
        open_table(str(tmp_path / "*"))
    assert "both Parquet and CSV" in info.value.message


def test_stdin_csv_bytes() -> None:
    table = open_table("-", stdin=io.BytesIO(ORDERS_CSV.encode()))
    assert table.name == "<stdin>" and table.is_csv and table.path is None
    assert [r["customer_id"] for r in rows_of(table)] == ["007", "13085.0"]


def test_stdin_parquet_bytes() -> None:
    buffer = io.BytesIO()
    orders_frame().write_parquet(buffer)
    table = open_table("-", stdin=io.BytesIO(buffer.getvalue()))
    assert not table.is_csv
    assert table.frame.collect().height == 3


def test_stdin_empty() -> None:
    with pytest.raises(InputError) as info:
        open_table("-", stdin=io.BytesIO(b""))
    assert "<stdin>" in info.value.message and "empty" in info.value.message


def rows_of(table: object) -> list[dict[str, object]]:
    return table.frame.sort(ROW).drop(ROW).collect().to_dicts()  # type: ignore[attr-defined]


# Separators, BOM, identifiers.


@pytest.mark.parametrize(
    ("separator", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")]
)
def test_separators_are_sniffed(tmp_path: Path, separator: str, name: str) -> None:
    path = tmp_path / f"{name}.csv"
    text = ORDERS_CSV.replace(",", separator)
    path.write_text(text)
    assert rows(str(path)) == [
        {"customer_id": "007", "order_date": "2024-01-05", "amount": "10"},
        {"customer_id": "13085.0", "order_date": "2024-02-01", "amount": "20.5"},
    ]


def test_semicolon_file_with_decimal_commas_keeps_values_whole(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text("Kunde;Datum;Betrag\nA;31.01.2024;12,50\n")
    assert rows(str(path)) == [{"Kunde": "A", "Datum": "31.01.2024", "Betrag": "12,50"}]


def test_utf8_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ORDERS_CSV.encode())
    table = open_table(str(path))
    assert table.columns[0] == "customer_id"
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.mapping.get("customer_id") == "customer_id"


def test_utf8_bom_on_stdin() -> None:
    table = open_table("-", stdin=io.BytesIO(b"\xef\xbb\xbf" + ORDERS_CSV.encode()))
    assert table.columns[0] == "customer_id"


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "win.csv"
    path.write_bytes(ORDERS_CSV.replace("\n", "\r\n").encode())
    assert rows(str(path))[1] == {
        "customer_id": "13085.0",
        "order_date": "2024-02-01",
        "amount": "20.5",
    }


def test_customer_ids_keep_leading_zeros_and_drop_float_suffix(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_date\n007,2024-01-05\n13085.0,2024-02-01\n"
        " 42 ,2024-02-02\n'7985351721238,2024-02-03\n12.5,2024-02-04\n"
    )
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame.sort(ROW)["customer_id"].to_list() == [
        "007",
        "13085",
        "42",
        "7985351721238",
        "12.5",
    ]


def test_float_customer_ids_in_parquet(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": [13085.0, None], "order_date": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]}
    ).write_parquet(path)
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame["customer_id"].to_list() == ["13085"]
    assert any("1 rows have no customer id" in w for w in loaded.warnings)


def test_empty_customer_ids_are_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,order_date\na,2024-01-05\n,2024-01-06\n  ,2024-01-07\nb,2024-01-08\n"
    )
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame["customer_id"].to_list() == ["a", "b"]
    assert loaded.warnings == [
        f"{path}: 2 rows have no customer id (empty, or a placeholder such as guest, n/a, - or "
        "unknown) and were left out"
    ]


def test_latin1_with_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("customer_id,order_date\nJosé,2024-01-05\n".encode("latin-1"))
    loaded = load_orders(str(path), LoadOptions(encoding="latin-1"))
    assert loaded.frame["customer_id"].to_list() == ["José"]


def test_latin1_on_stdin_with_encoding_option() -> None:
    data = "customer_id,order_date\nJosé,2024-01-05\n".encode("latin-1")
    table = open_table("-", encoding="latin-1", stdin=io.BytesIO(data))
    assert rows_of(table)[0]["customer_id"] == "José"


def test_utf16_with_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("customer_id\torder_date\nA\t2024-01-05\n".encode("utf-16"))
    table = open_table(str(path), encoding="utf-16")
    assert rows_of(table) == [{"customer_id": "A", "order_date": "2024-01-05"}]


def test_customers_file(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "Customer ID,Signup Date,Churn Date,Plan\nc1,2024-01-01,,basic\nc2,2024-01-15,2024-03-01,pro\n"
    )
    loaded = load_customers(str(path), LoadOptions())
    assert loaded.frame.sort(ROW).select(
        "customer_id", "signup_date", "churn_date", "segment"
    ).rows() == [
        ("c1", dt.date(2024, 1, 1), None, "basic"),
        ("c2", dt.date(2024, 1, 15), dt.date(2024, 3, 1), "pro"),
    ]


# Inputs that cannot be read.


def expect_input_error(spec: str) -> str:
    with pytest.raises(InputError) as info:
        load_orders(spec, LoadOptions())
    return info.value.message


def test_missing_file(tmp_path: Path) -> None:
    message = expect_input_error(str(tmp_path / "nope.csv"))
    assert "nope.csv" in message and "no such file" in message


def test_directory_without_parquet(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("customer_id,order_date\na,2024-01-05\n")
    message = expect_input_error(str(tmp_path))
    assert str(tmp_path) in message and "directory" in message and "Parquet" in message


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"], ids=["zero-bytes", "blank-lines"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    message = expect_input_error(str(path))
    assert "empty.csv" in message and "empty" in message


def test_header_only_file(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("customer_id,order_date,amount\n")
    message = expect_input_error(str(path))
    assert "header.csv" in message


@pytest.mark.parametrize("row", [True, False], ids=["row-after-blanks", "only-blanks"])
def test_rows_after_more_blank_rows_than_the_first_look(tmp_path: Path, row: bool) -> None:
    # More blank rows (every cell empty) than require_rows looks at first (FIRST_ROWS):
    # a row below them still counts, and without one the input is refused.
    path = tmp_path / "blanks.csv"
    last = "c1,2024-01-05,10\n" if row else ""
    path.write_text("customer_id,order_date,amount\n" + ",,\n" * 1500 + last)
    if row:
        frame = load_orders(str(path), LoadOptions()).frame
        assert frame["customer_id"].to_list() == ["c1"]
    else:
        assert "no rows" in expect_input_error(str(path))


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    message = expect_input_error(str(path))
    assert "image.csv" in message and "binary" in message


def test_parquet_name_that_is_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    path.write_text(ORDERS_CSV)
    message = expect_input_error(str(path))
    assert "orders.parquet" in message and "not a Parquet file" in message


def test_truncated_parquet(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    orders_frame().write_parquet(buffer)
    path = tmp_path / "cut.parquet"
    path.write_bytes(buffer.getvalue()[:40])
    message = expect_input_error(str(path))
    assert "cut.parquet" in message and "Parquet" in message


def test_bad_value_in_a_csv_glob_names_the_file_and_its_line(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("customer_id,order_date\na,2024-01-01\nb,2024-01-02\n")
    (tmp_path / "b.csv").write_text("customer_id,order_date\nc,2024-02-01\nd,oops\n")
    message = expect_input_error(str(tmp_path / "*.csv"))
    assert "'oops'" in message
    assert "b.csv" in message and "line 3" in message


def test_directory_of_parquet_with_spark_marker_files(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    orders_frame().write_parquet(folder / "part-00000.parquet")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-00000.parquet.crc").write_bytes(b"crc")
    assert load_orders(str(folder), LoadOptions()).frame.height == 3
