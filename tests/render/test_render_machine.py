"""csv, tsv, json, ndjson and parquet: parse the output back and compare exactly (SPEC §4)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from retcalc.render import OutputFormat, write_output

FORMULA = "=HYPERLINK(1)"
AWKWARD = 'Smith, "Bob"\nJr'


@pytest.fixture
def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "period_start": [dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)],
            "customers_start": [1000, 12345, None],
            "crr": [0.6, 0.123456789012345, None],
            "revenue": [1234567.891, -0.0, float("nan")],
            "complete": [True, False, None],
            "segment": [FORMULA, AWKWARD, None],
        },
        schema_overrides={"customers_start": pl.Int64},
    )


def render(df: pl.DataFrame, fmt: OutputFormat, **kwargs: object) -> str:
    out = io.StringIO()
    write_output(df, fmt=fmt, stdout=out, **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


EXPECTED_RECORDS = [
    {
        "period_start": "2024-01-01",
        "customers_start": 1000,
        "crr": 0.6,
        "revenue": 1234567.891,
        "complete": True,
        "segment": FORMULA,
    },
    {
        "period_start": "2024-02-01",
        "customers_start": 12345,
        "crr": 0.123456789012345,
        "revenue": 0.0,
        "complete": False,
        "segment": AWKWARD,
    },
    {
        "period_start": "2024-03-01",
        "customers_start": None,
        "crr": None,
        "revenue": None,
        "complete": None,
        "segment": None,
    },
]


def test_json_is_an_array_of_records(frame: pl.DataFrame) -> None:
    text = render(frame, OutputFormat.json)
    assert json.loads(text) == EXPECTED_RECORDS
    assert text.startswith("[\n{") and text.endswith("}\n]\n")
    assert "-0.0" not in text and "NaN" not in text


def test_ndjson_is_one_record_per_line(frame: pl.DataFrame) -> None:
    lines = render(frame, OutputFormat.ndjson).splitlines()
    assert [json.loads(line) for line in lines] == EXPECTED_RECORDS


def test_json_keeps_full_float_precision_and_never_scales_rates() -> None:
    df = pl.DataFrame({"churn_rate": [0.1 + 0.2, 1e-7, 1e20]})
    assert [r["churn_rate"] for r in json.loads(render(df, OutputFormat.json))] == [
        0.1 + 0.2,
        1e-7,
        1e20,
    ]


def test_json_writes_infinity_as_null() -> None:
    df = pl.DataFrame({"x": [float("inf"), float("-inf"), 1.5]})
    assert json.loads(render(df, OutputFormat.json)) == [{"x": None}, {"x": None}, {"x": 1.5}]


@pytest.mark.parametrize(("fmt", "sep"), [(OutputFormat.csv, ","), (OutputFormat.tsv, "\t")])
def test_delimited_round_trip(frame: pl.DataFrame, fmt: OutputFormat, sep: str) -> None:
    rows = list(csv.reader(io.StringIO(render(frame, fmt), newline=""), delimiter=sep))
    assert rows == [
        ["period_start", "customers_start", "crr", "revenue", "complete", "segment"],
        ["2024-01-01", "1000", "0.6", "1234567.891", "true", FORMULA],
        ["2024-02-01", "12345", "0.123456789012345", "0.0", "false", AWKWARD],
        ["2024-03-01", "", "", "", "", ""],
    ]


def test_datetimes_are_iso_with_t() -> None:
    df = pl.DataFrame(
        {
            "at": [dt.datetime(2024, 5, 6, 7, 8, 9), dt.datetime(2024, 5, 6, 7, 8, 9, 500_000)],
            "tz": [dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)] * 2,
        }
    )
    assert render(df, OutputFormat.csv).splitlines()[1:] == [
        "2024-05-06T07:08:09,2024-05-06T07:08:09+00:00",
        "2024-05-06T07:08:09.500,2024-05-06T07:08:09+00:00",
    ]
    assert json.loads(render(df, OutputFormat.json))[0] == {
        "at": "2024-05-06T07:08:09",
        "tz": "2024-05-06T07:08:09+00:00",
    }


def test_csv_writes_nested_and_duration_columns_as_text() -> None:
    df = pl.DataFrame({"gaps": [[1, 2], None], "tenure": [dt.timedelta(days=3), None]})
    rows = list(csv.reader(io.StringIO(render(df, OutputFormat.csv))))
    assert rows[1:] == [["[1,2]", "P3D"], ["", ""]]


def test_excel_safe_prefixes_formula_like_text_only(frame: pl.DataFrame) -> None:
    df = frame.with_columns(
        pl.Series("segment", ["=1+1", "+1", "-x"]),
        pl.Series("label", ["@me", "plain", None]),
        pl.Series("cat", ["=a", "b", "c"], dtype=pl.Categorical),
        pl.Series("delta", [-5, 3, -1]),
    )
    rows = list(csv.DictReader(io.StringIO(render(df, OutputFormat.csv, excel_safe=True))))
    assert [r["segment"] for r in rows] == ["'=1+1", "'+1", "'-x"]
    assert [r["label"] for r in rows] == ["'@me", "plain", ""]
    assert [r["cat"] for r in rows] == ["'=a", "b", "c"]
    assert [r["delta"] for r in rows] == ["-5", "3", "-1"]  # numbers are not text cells


def test_csv_is_byte_faithful_by_default(frame: pl.DataFrame) -> None:
    rows = list(csv.DictReader(io.StringIO(render(frame, OutputFormat.csv))))
    assert rows[0]["segment"] == FORMULA


def test_empty_frames(frame: pl.DataFrame) -> None:
    empty = frame.clear()
    assert render(empty, OutputFormat.json) == "[]\n"
    assert render(empty, OutputFormat.ndjson) == ""
    assert render(empty, OutputFormat.csv) == (
        "period_start,customers_start,crr,revenue,complete,segment\n"
    )


def test_parquet_file_round_trip(frame: pl.DataFrame, tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    write_output(frame, fmt=OutputFormat.parquet, output=target)
    back = pl.read_parquet(target)
    assert back.schema == frame.schema
    assert back["period_start"].to_list() == frame["period_start"].to_list()
    assert back["crr"].to_list() == [0.6, 0.123456789012345, None]
    assert back["revenue"].to_list() == [1234567.891, 0.0, None]
    assert back["segment"].to_list() == [FORMULA, AWKWARD, None]
    assert back["complete"].to_list() == [True, False, None]


class FakeStdout(io.TextIOWrapper):
    """A text stream with a binary buffer that is not a terminal, like a pipe."""

    def __init__(self, tty: bool = False) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_parquet_to_stdout_uses_the_binary_buffer(frame: pl.DataFrame) -> None:
    out = FakeStdout()
    write_output(frame, fmt=OutputFormat.parquet, stdout=out)
    raw = out.buffer
    assert isinstance(raw, io.BytesIO)
    assert pl.read_parquet(io.BytesIO(raw.getvalue()))["crr"].to_list() == [
        0.6,
        0.123456789012345,
        None,
    ]


def test_text_formats_to_stdout_are_utf8_on_the_buffer() -> None:
    out = FakeStdout()
    out.write("")
    write_output(pl.DataFrame({"name": ["Zoë ✓"]}), fmt=OutputFormat.csv, stdout=out)
    raw = out.buffer
    assert isinstance(raw, io.BytesIO)
    assert raw.getvalue() == "name\nZoë ✓\n".encode()


def test_other_dtypes_in_text_formats() -> None:
    df = pl.DataFrame(
        {
            "amount": [Decimal("1.50"), None],
            "at": [dt.time(1, 2, 3), None],
            "segment": pl.Series(["a", "b"], dtype=pl.Enum(["a", "b"])),
            "all_null": [None, None],
        }
    )
    assert json.loads(render(df, OutputFormat.json)) == [
        {"amount": 1.5, "at": "01:02:03", "segment": "a", "all_null": None},
        {"amount": None, "at": None, "segment": "b", "all_null": None},
    ]
    assert render(df, OutputFormat.csv) == "amount,at,segment,all_null\n1.50,01:02:03,a,\n,,b,\n"
