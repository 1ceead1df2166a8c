"""The Rich table and markdown: for people, so rates are percentages (SPEC §4)."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest
from rich.cells import cell_len
from rich.console import Console

from retcalc.render import OutputFormat, write_output
from retcalc.render.table import EMPTY_CAPTION, INCOMPLETE_CAPTION, print_table


@pytest.fixture
def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "period_start": [dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)],
            "customer_id": [12345, 2, 3],
            "customers_start": [1000, 1234567, None],
            "crr": [0.6, 0.78, None],
            "revenue": [1234567.891, -0.001, float("nan")],
            "complete": [True, False, None],
            "segment": ["=SUM(A1)", "a|b <i>x</i>\nnext", None],
        }
    )


def render(df: pl.DataFrame, fmt: OutputFormat, **kwargs: object) -> str:
    out = io.StringIO()
    write_output(df, fmt=fmt, stdout=out, **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


def test_markdown_pipe_table(frame: pl.DataFrame) -> None:
    text = render(frame, OutputFormat.markdown, percent_columns=["crr"])
    assert text.splitlines() == [
        "| period_start | customer_id | customers_start |   crr |      revenue | complete "
        "| segment                   |",
        "| ------------ | ----------: | --------------: | ----: | -----------: | -------- "
        "| ------------------------- |",
        "| 2024-01-01   |       12345 |           1,000 | 60.0% | 1,234,567.89 | \u2713        "
        "| =SUM(A1)                  |",
        "| 2024-02-01   |           2 |       1,234,567 | 78.0% |         0.00 | partial  "
        r"| a\|b \<i\>x\</i\><br>next |",
        "| 2024-03-01   |           3 |                 |       |              |          "
        "|                           |",
    ]


def test_markdown_without_percent_columns_shows_two_decimals() -> None:
    text = render(pl.DataFrame({"churn_rate": [0.0712]}), OutputFormat.markdown)
    assert text.splitlines() == ["| churn_rate |", "| ---------: |", "|       0.07 |"]


def test_markdown_empty_frame_has_header_and_rule() -> None:
    text = render(pl.DataFrame({"a": pl.Series([], dtype=pl.Int64)}), OutputFormat.markdown)
    assert text == "|   a |\n| --: |\n"


def test_table_without_a_terminal_is_plain_text(frame: pl.DataFrame) -> None:
    text = render(frame, OutputFormat.table, percent_columns=["crr"], title="Retention")
    assert "\x1b" not in text
    assert "Retention" in text
    assert "60.0%" in text and "78.0%" in text
    assert "1,234,567.89" in text and "1,234,567" in text
    assert "12345" in text  # identifiers keep no separators
    assert "0.00" in text and "-0.00" not in text
    assert "2024-02-01" in text
    # The period carries the completeness mark; period_end and complete are not shown.
    assert "2024-02-01 *" in text and "2024-01-01 *" not in text
    assert "period start" in text and "period end" not in text
    assert "\u2013" in text  # en dash for nulls
    assert "* " + INCOMPLETE_CAPTION in text
    assert "=SUM(A1)" in text


def test_table_is_not_truncated_in_a_pipe() -> None:
    wide = pl.DataFrame({f"column_number_{i}": ["a long value here"] for i in range(12)})
    text = render(wide, OutputFormat.table)
    assert "…" not in text
    assert all(f"column number {i}" in text for i in range(12))


def test_wide_table_on_a_terminal_is_split_and_repeats_the_period() -> None:
    wide = pl.DataFrame(
        {
            "period_start": [dt.date(2024, 1, 1)],
            **{f"figure_{i}": [123456.0 + i] for i in range(12)},
        }
    )
    out = io.StringIO()
    print_table(wide, console=Console(file=out, force_terminal=True, width=60, color_system=None))
    text = out.getvalue()
    assert text.count("period start") >= 2  # one header per part
    assert all(f"{123456 + i:,}.00" in text for i in range(12))  # nothing cut
    assert max(len(line) for line in text.splitlines()) <= 60


def test_table_treats_values_as_text_not_markup_or_escapes() -> None:
    df = pl.DataFrame({"segment": ["[bold red]x[/]", "evil\x1b[2Jname", ":smile:"]})
    out = io.StringIO()
    print_table(df, console=Console(file=out, force_terminal=True, color_system="standard"))
    text = out.getvalue()
    assert "[bold red]x[/]" in text
    assert ":smile:" in text
    assert "\x1b[2J" not in text


def test_dim_rows_on_a_colour_terminal(frame: pl.DataFrame) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=200)
    print_table(frame, console=console, percent_columns=["crr"])
    lines = out.getvalue().splitlines()
    partial = next(line for line in lines if "2024-02-01" in line)
    complete = next(line for line in lines if "2024-01-01" in line)
    assert "\x1b[2m" in partial  # dim
    assert "\x1b[2m" not in complete


def test_no_color_keeps_colours_off(frame: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    print_table(frame, console=Console(file=out, force_terminal=True))
    assert "\x1b[3" not in out.getvalue()  # no foreground colours


def test_empty_table_has_header_and_caption(frame: pl.DataFrame) -> None:
    text = render(frame.clear(), OutputFormat.table)
    assert "period start" in text and EMPTY_CAPTION in text


def test_table_falls_back_to_ascii_marks_on_a_narrow_encoding(frame: pl.DataFrame) -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="latin-1")
    console = Console(file=out, width=200, legacy_windows=False)
    print_table(frame.select("complete", "crr"), console=console)
    out.flush()
    text = raw.getvalue().decode("latin-1")
    assert "yes" in text and "partial" in text


def _terminal(df: pl.DataFrame, width: int, **kwargs: object) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=width, color_system=None)
    print_table(df, console=console, **kwargs)  # type: ignore[arg-type]
    return out.getvalue().splitlines()


def test_headers_wrap_between_words_and_values_stay_on_one_line() -> None:
    # Two columns of 8-cell values under long headers: at 30 cells they fit only with
    # their headers wrapped; no value is folded onto a second line.
    df = pl.DataFrame(
        {"average_monetary_value": [1375.56, 21.89], "another_long_header_name": [1.5, 2.25]}
    )
    lines = _terminal(df, 30)
    assert max(len(line) for line in lines) <= 30
    assert any(line.split() == ["1,375.56", "1.50"] for line in lines)
    assert any(line.split() == ["21.89", "2.25"] for line in lines)
    assert "average" in " ".join(lines) and "monetary" in " ".join(lines)


def test_a_value_wider_than_the_terminal_is_printed_whole() -> None:
    # The key and one value cannot fit 50 cells together: that part is wider than the
    # terminal rather than losing characters (README: nothing is cut).
    df = pl.DataFrame({"customer_id": ["c" * 40], "lifetime_value": [123456789012.34]})
    lines = _terminal(df, 50)
    row = next(line for line in lines if "c" * 40 in line)
    assert row.split() == ["c" * 40, "123,456,789,012.34"]


def test_the_key_columns_are_repeated_in_every_part() -> None:
    df = pl.DataFrame(
        {
            "channel": ["web", "store"],
            "period_start": [dt.date(2024, 1, 1), dt.date(2024, 2, 1)],
            **{f"figure_{i}": [1234.5, 2.0] for i in range(6)},
        }
    )
    lines = _terminal(df, 50)
    headers = [line.split() for line in lines if "figure" in line]
    assert len(headers) > 1 and all(h[:3] == ["channel", "period", "start"] for h in headers)
    assert sum(line.split()[:2] == ["store", "2024-02-01"] for line in lines) == len(headers)


def test_chosen_keys_leave_room_for_the_other_columns() -> None:
    df = pl.DataFrame(
        {
            "column": ["returned_quantity"],
            "source": ["a source column name"],
            "found_by": ["synonym"],
            "empty": [0],
        }
    )
    lines = _terminal(df, 50, keys=["column"])
    assert max(len(line) for line in lines) <= 50
    assert sum(line.split()[:1] == ["returned_quantity"] for line in lines) == 2
    assert any("a source column name" in line for line in lines)


def test_wide_characters_are_measured_in_terminal_cells() -> None:
    df = pl.DataFrame(
        {"segment": ["顧客セグメント名", "x"], **{f"figure_{i}": [1234.5, 2.0] for i in range(6)}}
    )
    lines = _terminal(df, 50)
    assert all(cell_len(line) <= 50 for line in lines)
    assert sum("顧客セグメント名" in line for line in lines) >= 2  # repeated in every part
    assert sum(line.count("1,234.50") for line in lines) == 6
