"""Reading order dates in every format SPEC §1 accepts, and refusing the rest clearly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from retcalc.errors import InputError, UsageError
from retcalc.io import dates
from retcalc.io.dates import DateStyle
from retcalc.io.frames import LoadOptions, load_orders

D = dt.date


def write_orders(tmp_path: Path, values: list[str], name: str = "orders.csv") -> Path:
    """A two-column orders CSV with one customer per date value."""
    path = tmp_path / name
    lines = ["customer_id,order_date"] + [f"c{i},{value}" for i, value in enumerate(values)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_days(path: Path, style: dates.Style | None = None) -> list[dt.date]:
    loaded = load_orders(str(path), LoadOptions(date_style=style))
    return loaded.frame.sort("_retcalc_row")["day"].to_list()


@pytest.mark.parametrize(
    ("values", "expected", "style"),
    [
        (["2024-01-05", "2024-12-31"], [D(2024, 1, 5), D(2024, 12, 31)], DateStyle.iso),
        (
            ["2024-01-05T10:00:00Z", "2024-02-29T23:59:59Z"],
            [D(2024, 1, 5), D(2024, 2, 29)],
            DateStyle.iso,
        ),
        (
            ["2024-01-05T10:00:00", "2024-01-06T00:00"],
            [D(2024, 1, 5), D(2024, 1, 6)],
            DateStyle.iso,
        ),
        (
            ["2024-01-05T23:30:00+05:30", "2024-01-06T01:00:00.123-08:00"],
            [D(2024, 1, 5), D(2024, 1, 6)],
            DateStyle.iso,
        ),
        # Shopify: the store's offset; retcalc keeps the local date as written.
        (
            ["2021-07-12 04:57:56 -0400", "2021-07-12 23:10:00 -0400"],
            [D(2021, 7, 12), D(2021, 7, 12)],
            DateStyle.iso,
        ),
        (
            ["2023-08-28 20:18", "2024-09-20 17:40:57"],
            [D(2023, 8, 28), D(2024, 9, 20)],
            DateStyle.iso,
        ),
        (["20240131", "20231201"], [D(2024, 1, 31), D(2023, 12, 1)], DateStyle.compact),
        (["31/01/2024", "01/02/2024"], [D(2024, 1, 31), D(2024, 2, 1)], DateStyle.day_first),
        (["01/31/2024", "02/01/2024"], [D(2024, 1, 31), D(2024, 2, 1)], DateStyle.month_first),
        # UCI Online Retail I: month first, two-digit year, no zero padding, a time.
        (
            ["12/1/10 8:26", "12/13/10 9:01", "1/4/11 10:00"],
            [D(2010, 12, 1), D(2010, 12, 13), D(2011, 1, 4)],
            DateStyle.month_first,
        ),
        (
            ["12/1/2010 08:26", "12/13/2010 08:26"],
            [D(2010, 12, 1), D(2010, 12, 13)],
            DateStyle.month_first,
        ),
        # The day-first copy of UCI seen in the wild, with dashes.
        (
            ["01-12-2010 08:26", "13-12-2010 08:26"],
            [D(2010, 12, 1), D(2010, 12, 13)],
            DateStyle.day_first,
        ),
        (["31.01.2024", "01.02.2024"], [D(2024, 1, 31), D(2024, 2, 1)], DateStyle.day_first),
        # Etsy: MM/DD/YY.
        (["12/31/22", "01/15/23"], [D(2022, 12, 31), D(2023, 1, 15)], DateStyle.month_first),
    ],
    ids=[
        "iso-date",
        "iso-datetime-Z",
        "iso-datetime-naive",
        "iso-datetime-offset",
        "shopify-offset",
        "space-hh-mm-and-ss",
        "yyyymmdd",
        "dd/mm/yyyy",
        "mm/dd/yyyy",
        "uci-2-digit-year",
        "uci-4-digit-year",
        "dd-mm-yyyy-time",
        "dd.mm.yyyy",
        "etsy-mm/dd/yy",
    ],
)
def test_accepted_formats(
    tmp_path: Path, values: list[str], expected: list[dt.date], style: DateStyle
) -> None:
    path = write_orders(tmp_path, values)
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.date_formats["order_date"].style is style
    assert loaded.frame.sort("_retcalc_row")["day"].to_list() == expected


def test_day_first_detected_from_a_late_value(tmp_path: Path) -> None:
    """The whole column decides: a day above 12 far down the file makes it day-first."""
    values = ["01/02/2024"] * 50 + ["25/03/2024"]
    days = read_days(write_orders(tmp_path, values))
    assert days[0] == D(2024, 2, 1)
    assert days[-1] == D(2024, 3, 25)


def test_month_first_detected_from_a_late_value(tmp_path: Path) -> None:
    values = ["01/02/2024"] * 50 + ["03/25/2024"]
    days = read_days(write_orders(tmp_path, values))
    assert days[0] == D(2024, 1, 2)
    assert days[-1] == D(2024, 3, 25)


@pytest.mark.parametrize(
    "values",
    [["01/02/2024", "03/04/2024"], ["1/2/24 10:00", "2/1/24 11:00"]],
    ids=["4-digit-year", "2-digit-year"],
)
def test_ambiguous_file_is_refused_with_a_hint(tmp_path: Path, values: list[str]) -> None:
    path = write_orders(tmp_path, values)
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    message = info.value.message
    assert "orders.csv" in message
    assert "order_date" in message
    assert "--date-format" in message
    assert "dmy" in message and "mdy" in message


@pytest.mark.parametrize(
    ("flag", "expected"),
    [("dmy", [D(2024, 2, 1), D(2024, 4, 3)]), ("mdy", [D(2024, 1, 2), D(2024, 3, 4)])],
)
def test_date_format_flag_forces_the_order(
    tmp_path: Path, flag: str, expected: list[dt.date]
) -> None:
    path = write_orders(tmp_path, ["01/02/2024", "03/04/2024"])
    assert read_days(path, dates.style_from_flag(flag)) == expected


def test_date_format_flag_overrides_detection(tmp_path: Path) -> None:
    """Forcing mdy on a file whose values say day-first makes the impossible value an error."""
    path = write_orders(tmp_path, ["01/02/2024", "25/03/2024"])
    with pytest.raises(InputError) as info:
        read_days(path, DateStyle.month_first)
    assert "line 3" in info.value.message
    assert "'25/03/2024'" in info.value.message


@pytest.mark.parametrize(
    ("flag", "style"),
    [
        ("iso", DateStyle.iso),
        ("yyyymmdd", DateStyle.compact),
        ("dmy", DateStyle.day_first),
        ("MDY", DateStyle.month_first),
    ],
)
def test_style_from_flag(flag: str, style: DateStyle) -> None:
    assert dates.style_from_flag(flag) is style


def test_unknown_date_format_flag() -> None:
    with pytest.raises(UsageError) as info:
        dates.style_from_flag("european")
    assert "'european'" in info.value.message
    assert "dmy" in info.value.message


def test_unparsable_value_mid_file_names_file_column_line_and_value(tmp_path: Path) -> None:
    path = write_orders(tmp_path, ["2024-01-02", "2024-01-03", "not a date", "2024-01-05"])
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    message = info.value.message
    assert "orders.csv" in message
    assert "'order_date'" in message
    assert "line 4" in message  # header is line 1, the third data row is line 4
    assert "'not a date'" in message
    assert "2024-01-31" in message  # what was expected


def test_unparsable_value_counts_the_other_bad_rows(tmp_path: Path) -> None:
    path = write_orders(tmp_path, ["2024-01-02", "2024-02-30", "2024-01-04", "31/12/2024"])
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "line 3" in info.value.message
    assert "'2024-02-30'" in info.value.message
    assert "1 more" in info.value.message


def test_unparsable_value_in_a_mapped_column_names_the_source_header(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_text("Client,Purchase Date\nA,2024-01-01\nB,2024-01-02\nC,yesterday\n")
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    message = info.value.message
    assert "shop.csv" in message and "'Purchase Date'" in message
    assert "line 4" in message and "'yesterday'" in message


def test_first_value_not_a_date_at_all(tmp_path: Path) -> None:
    path = write_orders(tmp_path, ["soon", "2024-01-01"])
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "'soon'" in info.value.message
    assert "order_date" in info.value.message


def test_empty_dates_are_left_out_with_a_warning(tmp_path: Path) -> None:
    path = write_orders(tmp_path, ["", "2024-01-03", "2024-01-04"])
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame["day"].to_list() == [D(2024, 1, 3), D(2024, 1, 4)]
    assert any("1 rows have no order date" in w for w in loaded.warnings)


# Parquet keeps dates as dates.


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([D(2024, 1, 5), D(2024, 2, 29)], pl.Date),
        ([dt.datetime(2024, 1, 5, 23, 59), dt.datetime(2024, 2, 29, 0, 0)], pl.Datetime("us")),
        ([dt.datetime(2024, 1, 5, 23, 59), dt.datetime(2024, 2, 29, 0, 0)], pl.Datetime("ms")),
    ],
    ids=["date", "datetime-us", "datetime-ms"],
)
def test_native_parquet_dates(tmp_path: Path, values: list[object], dtype: pl.DataType) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": ["a", "b"], "order_date": values}, schema_overrides={"order_date": dtype}
    ).write_parquet(path)
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.date_formats["order_date"].style is DateStyle.native
    assert loaded.frame["day"].to_list() == [D(2024, 1, 5), D(2024, 2, 29)]


def test_native_parquet_datetime_with_time_zone_keeps_the_local_date(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": ["a"], "order_date": [dt.datetime(2024, 1, 5, 23, 30)]}
    ).with_columns(pl.col("order_date").dt.replace_time_zone("America/New_York")).write_parquet(
        path
    )
    assert load_orders(str(path), LoadOptions()).frame["day"].to_list() == [D(2024, 1, 5)]


def test_parquet_integer_dates_read_as_yyyymmdd(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame({"customer_id": ["a", "b"], "order_date": [20240105, 20231231]}).write_parquet(
        path
    )
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.date_formats["order_date"].style is DateStyle.compact
    assert loaded.frame["day"].to_list() == [D(2024, 1, 5), D(2023, 12, 31)]


def test_parquet_text_dates_are_detected_like_csv(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": ["a", "b"], "order_date": ["31/01/2024", "01/02/2024"]}
    ).write_parquet(path)
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.frame["day"].to_list() == [D(2024, 1, 31), D(2024, 2, 1)]


def test_parquet_bad_value_is_reported_by_row(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": ["a", "b", "c"], "order_date": ["2024-01-01", "2024-01-02", "oops"]}
    ).write_parquet(path)
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "orders.parquet" in info.value.message
    assert "row 3" in info.value.message and "'oops'" in info.value.message


# The pure pieces.


def test_parse_expr_two_digit_years_pivot() -> None:
    frame = pl.DataFrame({"d": ["1/2/68", "1/2/69", "1/2/99", "1/2/00"]})
    out = frame.select(dates.parse_expr(pl.col("d"), DateStyle.month_first))["d"].to_list()
    assert out == [D(2068, 1, 2), D(1969, 1, 2), D(1999, 1, 2), D(2000, 1, 2)]


def test_parse_expr_is_null_where_unreadable() -> None:
    frame = pl.DataFrame({"d": ["2024-01-05", "2024-13-01", "x", None]})
    out = frame.select(dates.parse_expr(pl.col("d"), DateStyle.iso))["d"].to_list()
    assert out == [D(2024, 1, 5), None, None, None]


def test_iso_date_part_is_what_the_iso_pattern_captures() -> None:
    # Padded dates take a shortcut (their first 10 characters); every value must come out
    # as the pattern's capture would give it, whichever way it is found.
    values = [
        "2024-01-05",
        "2024-01-05 08:14:54",
        "2024-01-05T08:14:54+02:00",
        "2024-01-05\t8:00",
        "2024-01-05 ",
        " 2024-01-05",
        "2024-1-5",
        "2024-01-5 10:00",
        "2024-01-05x",
        "2024-01-0512:00",
        "2024-01-05/",
        "2024-13-45",
        "20240105",
        "\u0662\u0660\u0662\u0664-01-05",  # Arabic-Indic digits: \d matches them
        "",
        None,
    ]
    frame = pl.DataFrame({"d": values}, schema={"d": pl.String})
    ours = frame.select(dates._iso_date_part(pl.col("d")))["d"].to_list()
    captured = frame.select(pl.col("d").str.extract(dates.ISO_RE, 1))["d"].to_list()
    assert ours == captured
    assert ours[:6] == ["2024-01-05"] * 6


def test_detect_style_all_empty() -> None:
    frame = pl.LazyFrame({"d": ["", None, "  "]}, schema={"d": pl.String})
    with pytest.raises(InputError) as info:
        dates.detect_style(frame, "d", where="f.csv: column 'd'")
    assert "f.csv" in info.value.message and "empty" in info.value.message


def test_detect_style_both_places_above_twelve_is_refused() -> None:
    frame = pl.LazyFrame({"d": ["13/01/2024", "01/13/2024"]})
    with pytest.raises(InputError) as info:
        dates.detect_style(frame, "d", where="f.csv: column 'd'")
    assert "--date-format" in info.value.message


def test_detect_style_equal_day_and_month_everywhere_is_not_ambiguous() -> None:
    frame = pl.LazyFrame({"d": ["01/01/2024", "05/05/2024"]})
    assert dates.detect_style(frame, "d", where="w").style in {
        DateStyle.day_first,
        DateStyle.month_first,
    }


# Month names, YYYY/MM/DD, 12-hour clocks, Unix epochs and strftime patterns.


@pytest.mark.parametrize(
    ("values", "expected", "style"),
    [
        (
            ['"Mar 5, 2024"', '"March 5, 2024"', '"Feb 29, 2024 11:59 PM"', '"Sept 30, 2024"'],
            [D(2024, 3, 5), D(2024, 3, 5), D(2024, 2, 29), D(2024, 9, 30)],
            DateStyle.month_name,
        ),
        (
            ["05-Mar-2024", "5-MAR-24", "29-feb-2024 23:59", "31-Dec-99"],
            [D(2024, 3, 5), D(2024, 3, 5), D(2024, 2, 29), D(1999, 12, 31)],
            DateStyle.month_name,
        ),
        (
            ["5 March 2024", "5 Mar 2024 14:05", "05MAR2024", "1st January 2024"],
            [D(2024, 3, 5), D(2024, 3, 5), D(2024, 3, 5), D(2024, 1, 1)],
            DateStyle.month_name,
        ),
        (
            ['"Tue, 05 Mar 2024 23:30:00 +0000"', "05/Mar/2024:14:05:00 +0000", "Mar 5 2024"],
            [D(2024, 3, 5)] * 3,
            DateStyle.month_name,
        ),
        (
            ["2024/03/05", "2024/3/5 14:05", "2024.02.29", "2024.12.31 11:59 PM"],
            [D(2024, 3, 5), D(2024, 3, 5), D(2024, 2, 29), D(2024, 12, 31)],
            DateStyle.iso,
        ),
        # 12-hour clocks: the time never moves the date (12:30 AM is just after midnight).
        (
            ["3/5/2024 1:05 PM", "3/31/2024 12:30 AM", "12/31/2024 11:59 p.m."],
            [D(2024, 3, 5), D(2024, 3, 31), D(2024, 12, 31)],
            DateStyle.month_first,
        ),
        (
            ["2024-03-05 01:05 PM", "2024-03-05 12:30 AM", "2024-03-06 12:00 PM"],
            [D(2024, 3, 5), D(2024, 3, 5), D(2024, 3, 6)],
            DateStyle.iso,
        ),
        # Epoch seconds: 1709647500 is 2024-03-05 14:05 UTC, 1709251140 2024-02-29 23:59;
        # 0 is 1970-01-01 and -1 the last second of 1969; a fraction is dropped.
        (
            ["1709647500", "1709251140", "0", "-1", "1709251140.999"],
            [D(2024, 3, 5), D(2024, 2, 29), D(1970, 1, 1), D(1969, 12, 31), D(2024, 2, 29)],
            DateStyle.epoch_s,
        ),
        # 13 digits: milliseconds. 1709251199999 is 2024-02-29 23:59:59.999 UTC.
        (
            ["1709647500000", "1709251199999", "1709251200000", "-1000"],
            [D(2024, 3, 5), D(2024, 2, 29), D(2024, 3, 1), D(1969, 12, 31)],
            DateStyle.epoch_ms,
        ),
        # Before 1970, negative: -1000000000 is 1938-04-24 22:13:20 UTC.
        (["-1000000000"], [D(1938, 4, 24)], DateStyle.epoch_s),
    ],
    ids=[
        "mon-d-yyyy",
        "dd-mon-yyyy",
        "d-month-yyyy",
        "rfc-2822-and-web-log",
        "yyyy/mm/dd",
        "mdy-12-hour",
        "iso-12-hour",
        "epoch-seconds",
        "epoch-milliseconds",
        "epoch-negative",
    ],
)
def test_more_accepted_forms(
    tmp_path: Path, values: list[str], expected: list[dt.date], style: DateStyle
) -> None:
    path = write_orders(tmp_path, values)
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.date_formats["order_date"].style is style
    assert loaded.frame.sort("_retcalc_row")["day"].to_list() == expected


def test_parquet_integer_epochs(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": ["a", "b", "c"], "order_date": [1709647500, 1709251140, 0]}
    ).write_parquet(path)
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.date_formats["order_date"].style is DateStyle.epoch_s
    assert loaded.frame["day"].to_list() == [D(2024, 3, 5), D(2024, 2, 29), D(1970, 1, 1)]
    pl.DataFrame(
        {"customer_id": ["a", "b"], "order_date": [1709647500000, 1709251199999]}
    ).write_parquet(path)
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.date_formats["order_date"].style is DateStyle.epoch_ms
    assert loaded.frame["day"].to_list() == [D(2024, 3, 5), D(2024, 2, 29)]


def test_parquet_float_yyyymmdd_with_a_gap(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"customer_id": ["a", "b", "c"], "order_date": [20240105.0, None, 20240229.0]}
    ).write_parquet(path)
    loaded = load_orders(str(path), LoadOptions())
    assert loaded.date_formats["order_date"].style is DateStyle.compact
    assert loaded.frame["day"].to_list() == [D(2024, 1, 5), D(2024, 2, 29)]


def test_parquet_float_epochs_drop_the_fraction(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame({"customer_id": ["a"], "order_date": [1709251199.75]}).write_parquet(path)
    assert load_orders(str(path), LoadOptions()).frame["day"].to_list() == [D(2024, 2, 29)]


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # 1709251140 is 2024-02-29 23:59 UTC, 1706745600 2024-02-01 00:00 UTC.
        (None, [D(2024, 2, 29), D(2024, 2, 1)]),
        ("UTC", [D(2024, 2, 29), D(2024, 2, 1)]),
        ("Asia/Tokyo", [D(2024, 3, 1), D(2024, 2, 1)]),  # UTC+9
        ("America/New_York", [D(2024, 2, 29), D(2024, 1, 31)]),  # UTC-5
    ],
)
def test_epochs_are_utc_instants(tmp_path: Path, zone: str | None, expected: list[dt.date]) -> None:
    for values in (["1709251140", "1706745600"], ["1709251140000", "1706745600000"]):
        path = write_orders(tmp_path, values)
        loaded = load_orders(str(path), LoadOptions(tz=zone))
        assert loaded.frame.sort("_retcalc_row")["day"].to_list() == expected


@pytest.mark.parametrize(
    ("value", "tokyo", "new_york"),
    [
        # A UTC column: 12:30 AM is 00:30 UTC, the evening before in New York.
        ("2024-03-05 12:30 AM", D(2024, 3, 5), D(2024, 3, 4)),
        ("2024-03-05 12:30 PM", D(2024, 3, 5), D(2024, 3, 5)),  # 12:30 UTC
        ("2024-03-05 11:30 PM", D(2024, 3, 6), D(2024, 3, 5)),  # 23:30 UTC
        ("2024/03/05 3:00 PM", D(2024, 3, 6), D(2024, 3, 5)),  # 15:00 UTC, 00:00 in Tokyo
        ("Mar 5, 2024 11:30 PM", D(2024, 3, 6), D(2024, 3, 5)),
        ("05-Mar-2024 00:30", D(2024, 3, 5), D(2024, 3, 4)),
    ],
)
def test_tz_reads_12_hour_clocks_in_a_utc_column(
    tmp_path: Path, value: str, tokyo: dt.date, new_york: dt.date
) -> None:
    path = tmp_path / "payments.csv"
    path.write_text(f'customer_id,Created (UTC)\na,"{value}"\n')
    assert load_orders(str(path), LoadOptions()).frame["day"].to_list() == [D(2024, 3, 5)]
    assert load_orders(str(path), LoadOptions(tz="Asia/Tokyo")).frame["day"].to_list() == [tokyo]
    loaded = load_orders(str(path), LoadOptions(tz="America/New_York"))
    assert loaded.frame["day"].to_list() == [new_york]


def test_tz_converts_a_month_name_timestamp_with_an_offset(tmp_path: Path) -> None:
    path = write_orders(tmp_path, ['"Tue, 05 Mar 2024 23:30:00 +0000"', '"Mar 5, 2024 1:05 PM"'])
    loaded = load_orders(str(path), LoadOptions(tz="Europe/Paris"))
    # The first carries an offset (00:30 on Mar 6 in Paris); the second has none: as written.
    assert loaded.frame.sort("_retcalc_row")["day"].to_list() == [D(2024, 3, 6), D(2024, 3, 5)]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["99999999999999"], "between 1900 and 2200"),  # 14 digits: year 5138 even in ms
        (["-2208988800001"], "between 1900 and 2200"),  # 1 ms before 1900
        (["1234567"], "7 digits"),  # neither YYYYMMDD nor an epoch
        (['"Foo 5, 2024"'], "Jan 31, 2024"),  # not a month
    ],
)
def test_first_value_that_is_no_date_is_refused(
    tmp_path: Path, values: list[str], message: str
) -> None:
    path = write_orders(tmp_path, values)
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "orders.csv" in info.value.message and "order_date" in info.value.message
    assert repr(values[0].strip('"')) in info.value.message
    assert message in info.value.message


def test_epoch_out_of_range_later_names_its_line(tmp_path: Path) -> None:
    # Seconds from the first value; 17096475000 seconds would be the year 2511.
    path = write_orders(tmp_path, ["1709647500", "1709251140", "17096475000"])
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "line 4" in info.value.message and "'17096475000'" in info.value.message
    assert "epoch" in info.value.message


def test_epoch_before_1900_is_refused_like_any_early_date(tmp_path: Path) -> None:
    # -2208988800 is 1900-01-01 00:00 UTC: read; a second earlier is no epoch of 1900-2199.
    path = write_orders(tmp_path, ["1709647500", "-2208988800", "-2208988801"])
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "line 4" in info.value.message and "'-2208988801'" in info.value.message


def test_bad_month_name_later_names_its_line(tmp_path: Path) -> None:
    path = write_orders(tmp_path, ["05-Mar-2024", "29-Feb-2023", "06-Mar-2024"])
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "line 3" in info.value.message and "'29-Feb-2023'" in info.value.message


def test_ambiguous_12_hour_dates_stay_refused(tmp_path: Path) -> None:
    path = write_orders(tmp_path, ["3/5/2024 1:05 PM", "4/6/2024 12:30 AM"])
    with pytest.raises(InputError) as info:
        load_orders(str(path), LoadOptions())
    assert "--date-format dmy" in info.value.message


@pytest.mark.parametrize(
    ("flag", "values", "expected"),
    [
        (
            "%d.%m.%Y %Hh%M",
            ["05.03.2024 23h30", "29.02.2024 00h05"],
            [D(2024, 3, 5), D(2024, 2, 29)],
        ),
        ("%d.%m.%Y", ["05.03.2024", "01.02.2024"], [D(2024, 3, 5), D(2024, 2, 1)]),
        ("%Y%j", ["2024060", "2024001"], [D(2024, 2, 29), D(2024, 1, 1)]),  # day of the year
        ("epoch-s", ["12345", "0"], [D(1970, 1, 1), D(1970, 1, 1)]),
        ("epoch-ms", ["86400000", "1709251140000"], [D(1970, 1, 2), D(2024, 2, 29)]),
        ("mdy", ["3/5/2024 1:05 PM"], [D(2024, 3, 5)]),
    ],
)
def test_date_format_patterns_and_epoch_units(
    tmp_path: Path, flag: str, values: list[str], expected: list[dt.date]
) -> None:
    path = write_orders(tmp_path, values)
    assert read_days(path, dates.style_from_flag(flag)) == expected


def test_date_format_pattern_is_strict(tmp_path: Path) -> None:
    path = write_orders(tmp_path, ["05.03.2024 23h30", "2024-03-06"])
    with pytest.raises(InputError) as info:
        read_days(path, dates.style_from_flag("%d.%m.%Y %Hh%M"))
    assert "line 3" in info.value.message and "'2024-03-06'" in info.value.message


def test_date_format_pattern_with_an_offset_needs_tz(tmp_path: Path) -> None:
    path = write_orders(tmp_path, ["05.03.2024 23:30 +0000"])
    style = dates.style_from_flag("%d.%m.%Y %H:%M %z")
    with pytest.raises(UsageError) as info:
        load_orders(str(path), LoadOptions(date_style=style))
    assert "--tz" in info.value.message
    loaded = load_orders(str(path), LoadOptions(date_style=style, tz="Europe/Paris"))
    assert loaded.frame["day"].to_list() == [D(2024, 3, 6)]


def test_style_from_flag_takes_a_pattern() -> None:
    assert dates.style_from_flag("%d.%m.%Y") == dates.Pattern("%d.%m.%Y")
    assert dates.style_from_flag("epoch-ms") is DateStyle.epoch_ms


def test_iso_date_part_reads_slashes_and_dots() -> None:
    frame = pl.DataFrame({"d": ["2024/03/05", "2024.3.5 10:00", "2024/03-05", "2024/03/05x"]})
    out = frame.select(dates._iso_date_part(pl.col("d")))["d"].to_list()
    assert out == ["2024-03-05", "2024-3-5", "2024-03-05", None]


def test_month_number() -> None:
    words = ["jan", "JANUARY", "Sept", "sep", "May", "Dec", "Mars", "ja", None]
    frame = pl.DataFrame({"w": words}, schema={"w": pl.String})
    out = frame.select(dates.month_number(pl.col("w")))["w"].to_list()
    assert out == [1, 1, 9, 9, 5, 12, None, None, None]


def test_expected_forms_name_the_new_ones() -> None:
    for form in ("2024/01/31", "Jan 31, 2024", "31-Jan-2024", "PM", "epoch", "milliseconds"):
        assert form in dates.EXPECTED


def test_customers_dates_read_every_form(tmp_path: Path) -> None:
    from retcalc.io.frames import load_customers

    path = tmp_path / "customers.csv"
    # 1704459900 is 2024-01-05 13:05 UTC.
    path.write_text(
        'customer_id,signup_date,churn_date\na,1704459900,"Mar 5, 2024"\nb,1706745600,\n'
    )
    loaded = load_customers(str(path), LoadOptions())
    assert loaded.date_formats["signup_date"].style is DateStyle.epoch_s
    assert loaded.date_formats["churn_date"].style is DateStyle.month_name
    frame = loaded.frame.sort("customer_id")
    assert frame["signup_date"].to_list() == [D(2024, 1, 5), D(2024, 2, 1)]
    assert frame["churn_date"].to_list() == [D(2024, 3, 5), None]
