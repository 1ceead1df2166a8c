"""A CSV file whose quotes are wrong (issue 27): the message names the file and the
line, shows the line and says how to write the value."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from retcalc.errors import InputError
from retcalc.io.batched import load_order_events
from retcalc.io.frames import LoadOptions, load_orders
from retcalc.io.load import open_table
from retcalc.io.quoting import CsvText, find_fault

H = "customer_id,order_date,amount,product\n"
GOOD = 'c1,2024-01-05,10.00,Desk\nc1,2024-01-06,10.00,"Lamp, ""retro"""\n'


def fault(text: str, separator: str = ",") -> tuple[int, str, str] | None:
    found = find_fault(CsvText(text.encode(), separator))
    return None if found is None else (found.line, found.value, found.problem)


def test_valid_quoting_has_no_fault() -> None:
    assert fault(H + GOOD) is None
    # A quoted value over two lines, then more rows.
    assert fault(H + 'c1,2024-01-05,1,"two\nlines"\nc2,2024-01-06,2,x\n') is None
    assert fault(H + 'c1,2024-01-05,1,""\n') is None  # an empty quoted value


def test_a_quote_inside_an_unquoted_value() -> None:
    assert fault(H + GOOD + 'c2,2024-01-06,20.00,Monitor 27" wide\n') == (
        4,
        'Monitor 27" wide',
        "inside",
    )


def test_an_undoubled_quote_inside_a_quoted_value() -> None:
    assert fault(H + 'c2,2024-01-06,20.00,"Monitor 27" wide",x\n') == (
        2,
        '"Monitor 27" wide"',
        "after",
    )


def test_a_quote_never_closed_is_found_where_it_opens() -> None:
    text = H + 'c1,2024-01-05,1,"a\nb"\nc2,2024-01-06,2,"Monitor 27 wide\nc3,2024-01-07,3,x\n'
    assert fault(text) == (4, '"Monitor 27 wide', "unclosed")


def test_lines_count_after_a_quoted_line_break_and_with_another_separator() -> None:
    text = 'customer_id;order_date;amount;note\nc1;2024-01-05;1;"a\nb"\nc2;2024-01-06;2;5" x\n'
    assert fault(text, ";") == (4, '5" x', "inside")


def stray(tmp_path: Path, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(H + GOOD + 'c2,2024-01-06,20.00,Monitor 27" wide\nc3,2024-02-06,30.00,Chair\n')
    return path


EXPECTED = (
    'line 4 has a quote inside the value Monitor 27" wide, which CSV reads as the start '
    'or end of a quoted value; write the value as "Monitor 27"" wide" (in quotes, its own '
    'quotes doubled) or remove the quote. The line: c2,2024-01-06,20.00,Monitor 27" wide'
)


def test_reading_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = stray(tmp_path)
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert info.value.message == f"{path}: {EXPECTED}"
    with pytest.raises(InputError) as info:
        load_order_events(str(path), LoadOptions(), batch_rows=2)
    assert info.value.message == f"{path}: {EXPECTED}"


def test_gzip_and_glob_inputs_name_the_line_too(tmp_path: Path) -> None:
    text = stray(tmp_path).read_bytes()
    packed = tmp_path / "packed.csv.gz"
    packed.write_bytes(gzip.compress(text))
    with pytest.raises(InputError) as info:
        load_orders(str(packed), LoadOptions())
    assert info.value.message == f"{packed}: {EXPECTED}"
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "a.csv").write_text(H + GOOD)
    (parts / "b.csv").write_bytes(text)
    with pytest.raises(InputError) as info:
        load_orders(str(parts / "*.csv"), LoadOptions())
    assert info.value.message == f"{parts / 'b.csv'}: {EXPECTED}"


def test_a_long_line_is_shown_cut(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(H + "c1,2024-01-05,1," + "x" * 200 + '"y\nc2,2024-01-06,2,z\n')
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "line 2 has a quote inside the value" in info.value.message
    said = info.value.message.removeprefix(f"{path}: ")
    assert len(said) < 500 and said.count("…") == 3  # the value, the fix, the line


def test_a_file_the_reader_accepts_is_not_searched(tmp_path: Path) -> None:
    path = tmp_path / "fine.csv"
    path.write_text(H + GOOD)
    assert open_table(str(path)).texts  # kept for the error path only
    assert load_orders(str(path), LoadOptions()).frame.height == 2
