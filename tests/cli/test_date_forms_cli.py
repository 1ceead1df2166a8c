"""The date forms of ``retcalc.io.dates`` end to end: each form of one small set of orders
gives the same, hand-counted customers per month, read in memory and in batches."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.cli.test_cli_contract import fails_cleanly, invoke, ok, parse_csv
from tests.io.test_batched import assert_same

# The orders, as UTC instants:
#   a: 2024-01-05 13:05, 2024-02-29 23:59 (the leap day, a minute before March)
#   b: 2024-01-31 00:30
#   c: 2024-02-01 00:00, 2024-03-05 14:05
#   d: 2024-03-31 12:59
CUSTOMERS = ["a", "a", "b", "c", "c", "d"]
# As written (no --tz): January: a and b new. February: c new, a back. March: d new, c back.
MONTHS = [("2024-01-01", "2", "0"), ("2024-02-01", "1", "1"), ("2024-03-01", "1", "1")]

FORMS = {
    "mon-d-yyyy-12-hour": [
        "Jan 5, 2024 1:05 PM",
        "Feb 29, 2024 11:59 PM",
        "Jan 31, 2024 12:30 AM",
        "Feb 1, 2024 12:00 AM",
        "Mar 5, 2024 2:05 PM",
        "Mar 31, 2024 12:59 PM",
    ],
    "dd-mon-yyyy": [
        "05-Jan-2024 13:05",
        "29-FEB-2024 23:59",
        "31-jan-24 00:30",
        "1 February 2024",
        "5 Mar 2024 14:05",
        "31 March 2024 12:59",
    ],
    "yyyy/mm/dd": [
        "2024/01/05 13:05",
        "2024/02/29 11:59 PM",
        "2024.01.31 00:30",
        "2024/02/01",
        "2024/3/5 2:05 PM",
        "2024/03/31 12:59 PM",
    ],
    "mdy-12-hour": [
        "1/5/2024 1:05 PM",
        "2/29/2024 11:59 PM",
        "1/31/2024 12:30 AM",
        "2/1/2024 12:00 AM",
        "3/5/2024 2:05 PM",
        "3/31/2024 12:59 PM",
    ],
    "iso-12-hour": [
        "2024-01-05 01:05 PM",
        "2024-02-29 11:59 PM",
        "2024-01-31 12:30 AM",
        "2024-02-01 12:00 AM",
        "2024-03-05 02:05 PM",
        "2024-03-31 12:59 PM",
    ],
    # 2024-01-01 00:00 UTC is 1704067200; add the days and seconds since.
    "epoch-seconds": [
        "1704459900",
        "1709251140",
        "1706661000",
        "1706745600",
        "1709647500",
        "1711889940",
    ],
    "epoch-milliseconds": [
        "1704459900000",
        "1709251140000",
        "1706661000000",
        "1706745600000",
        "1709647500000",
        "1711889940000",
    ],
}
EPOCHS = [int(v) for v in FORMS["epoch-seconds"]]
PATTERN = ["05.01.2024 13h05", "29.02.2024 23h59", "31.01.2024 00h30", "01.02.2024 00h00"]
PATTERN += ["05.03.2024 14h05", "31.03.2024 12h59"]


def write(path: Path, values: list[str]) -> Path:
    lines = ["customer_id,order_date"]
    lines += [f'{c},"{v}"' for c, v in zip(CUSTOMERS, values, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def months(stdout: str) -> list[tuple[str, str, str]]:
    rows = parse_csv(stdout)
    return [(r["period_start"], r["new_customers"], r["returning"]) for r in rows]


def retention(path: Path, *flags: str) -> list[str]:
    return ["retention", str(path), "--period", "month", "--format", "csv", *flags]


@pytest.mark.parametrize("form", list(FORMS))
def test_each_form_counts_the_same_customers_per_month(
    tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "orders.csv", FORMS[form])
    assert months(ok(invoke(retention(path))).stdout) == MONTHS
    assert assert_same(retention(path), monkeypatch, rows=2).exit_code == 0


def test_a_strftime_pattern(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "orders.csv", PATTERN)
    flags = ["--date-format", "%d.%m.%Y %Hh%M"]
    assert months(ok(invoke(retention(path, *flags))).stdout) == MONTHS
    assert assert_same(retention(path, *flags), monkeypatch, rows=2).exit_code == 0
    # Without the pattern, 05.01.2024 reads as day-first; 13h05 is no time of ours but the
    # date comes first, so the months are the same.
    assert months(ok(invoke(retention(path))).stdout) == MONTHS
    error = fails_cleanly(invoke(retention(path, "--date-format", "%Y-%m-%d")))
    assert "'05.01.2024 13h05'" in error and "line 2" in error


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # Tokyo (UTC+9): a's Feb 29 23:59 is Mar 1; c's Feb 1 00:00 stays Feb 1.
        (
            "Asia/Tokyo",
            [("2024-01-01", "2", "0"), ("2024-02-01", "1", "0"), ("2024-03-01", "1", "2")],
        ),
        # New York (UTC-5, UTC-4 from Mar 10): b's Jan 31 00:30 is Jan 30, c's Feb 1 00:00 is
        # Jan 31; a's Feb 29 23:59 stays Feb 29.
        (
            "America/New_York",
            [("2024-01-01", "3", "0"), ("2024-02-01", "0", "1"), ("2024-03-01", "1", "1")],
        ),
    ],
)
def test_tz_takes_the_epochs_date_in_the_zone(
    tmp_path: Path, zone: str, expected: list[tuple[str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "orders.csv", FORMS["epoch-milliseconds"])
    assert months(ok(invoke(retention(path, "--tz", zone))).stdout) == expected
    parquet = tmp_path / "orders.parquet"
    pl.DataFrame({"customer_id": CUSTOMERS, "order_date": EPOCHS}).write_parquet(parquet)
    assert months(ok(invoke(retention(parquet, "--tz", zone))).stdout) == expected
    assert months(ok(invoke(retention(parquet))).stdout) == MONTHS
    assert assert_same(retention(path, "--tz", zone), monkeypatch, rows=2).exit_code == 0


def test_inspect_says_which_form(tmp_path: Path) -> None:
    path = write(tmp_path / "orders.csv", FORMS["mon-d-yyyy-12-hour"])
    assert "month names like 'Jan 5, 2024 1:05 PM'" in ok(invoke(["inspect", str(path)])).stdout
    path = write(tmp_path / "orders.csv", FORMS["epoch-milliseconds"])
    assert "epoch milliseconds like '1704459900000'" in ok(invoke(["inspect", str(path)])).stdout


def test_an_unreadable_epoch_names_its_line_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = [*FORMS["epoch-seconds"][:5], "99999999999"]  # the year 5138 in seconds
    path = write(tmp_path / "orders.csv", values)
    error = fails_cleanly(invoke(retention(path)))
    assert "line 7" in error and "'99999999999'" in error and "epoch" in error
    assert assert_same(retention(path), monkeypatch, rows=2).exit_code == 2
