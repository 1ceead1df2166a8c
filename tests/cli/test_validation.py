"""One validation layer (retcalc/validate.py): dates, lengths, counts and YAML from flags,
report specs and configs give exit 2 and a message naming the flag, or the file, line and
key path; never a traceback or a run that does not end. An unexpected exception is exit 70
with one line; its traceback only under --debug."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.errors import UsageError
from retcalc.periods import parse_duration, parse_window
from retcalc.validate import (
    FIRST_DAY,
    LAST_DAY,
    MAX_COUNT,
    MAX_DEPTH,
    MAX_HORIZON_YEARS,
    MAX_INT_DIGITS,
    MAX_NODES,
    MAX_OFFSET,
    MAX_TOP,
    MAX_WINDOW_YEARS,
    MAX_YAML_BYTES,
)
from retcalc.yamlsafe import load_yaml

ROOT = Path(__file__).resolve().parents[2]
# a: Jan 10 and Feb 5 2024; b: Jan 20; c: Mar 1.
ORDERS = """\
order_id,customer_id,order_date,product_id,quantity,amount
1,a,2024-01-10,p1,1,10.00
2,b,2024-01-20,p2,2,20.00
3,a,2024-02-05,p1,3,30.00
4,c,2024-03-01,p2,4,40.00
"""

runner = CliRunner()


def invoke(args: Sequence[str]) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def refused(result: Result) -> str:
    """Exit 2 through an exit, no traceback, nothing on stdout; stderr as one line."""
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return " ".join(result.stderr.split())


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "orders.csv").write_text(ORDERS)


# ----------------------------------------------------------------------- flags

OUTSIDE = "is outside the dates retcalc accepts (1900-01-01 to 2200-12-31)"
FLAG_CASES = [
    (["retention", "orders.csv", "--start", "0001-01-01"], f"--start 0001-01-01 {OUTSIDE}"),
    (["retention", "orders.csv", "--end", "9999-12-31"], f"--end 9999-12-31 {OUTSIDE}"),
    (["retention", "orders.csv", "--as-of", "9999-12-31"], f"--as-of 9999-12-31 {OUTSIDE}"),
    (["churn", "orders.csv", "--as-of", "1899-12-31"], f"--as-of 1899-12-31 {OUTSIDE}"),
    (["retention", "orders.csv", "--end", "2201-01-01"], f"--end 2201-01-01 {OUTSIDE}"),
    (["retention", "orders.csv", "--as-of", "2024-02-30"], "--as-of '2024-02-30' is not a date"),
    (["kpis", "orders.csv", "--start", "2024-13-01"], "--start '2024-13-01' is not a date"),
    (["sample", "-o", "s", "--start", "0001-01-01"], f"--start 0001-01-01 {OUTSIDE}"),
    (
        ["returns", "orders.csv", "--top", "99999999999999999999"],
        "Invalid value for '--top'",
    ),
    (["returns", "orders.csv", "--top", "1000001"], "Invalid value for '--top'"),
    (
        ["cohorts", "orders.csv", "--max-offset", "99999999999999999999"],
        "Invalid value for '--max-offset'",
    ),
    (
        ["cohorts", "orders.csv", "--min-cohort", "99999999999999999999"],
        "Invalid value for '--min-cohort'",
    ),
    (
        ["kpis", "orders.csv", "--loyal-orders", "99999999999999999999"],
        "Invalid value for '--loyal-orders'",
    ),
    (
        ["crr", "--start", "99999999999999999999", "--new", "1", "--end", "2"],
        "Invalid value for '--start'",
    ),
    (["sample", "-o", "s", "--years", "1e9"], "Invalid value for '--years'"),
    (
        ["clv", "orders.csv", "--model", "bgnbd", "--horizon", "1000y"],
        "--horizon '1000y' is too long: at most 100 years (100y)",
    ),
    (
        ["clv", "orders.csv", "--model", "bgnbd", "--holdout", "99999999999999999999w"],
        "--holdout '99999999999999999999w' is too long: at most 300 years (15653w)",
    ),
    (
        ["retention", "orders.csv", "--active-window", "99999999999999999999d"],
        "--active-window '99999999999999999999d' is too long: at most 300 years (109575d) "
        "(or 'all' for no limit)",
    ),
    (
        ["retention", "orders.csv", "--active-window", "1" * 5000 + "d"],
        "--active-window '" + "1" * 40 + "...' is too long",
    ),
    (
        ["retention", "orders.csv", "--max-age", "99999999999999999999d"],
        "--max-age '99999999999999999999d' is too long: at most 300 years (109575d)",
    ),
]


@pytest.mark.parametrize(
    ("args", "message"), FLAG_CASES, ids=[" ".join(a)[:60] for a, _ in FLAG_CASES]
)
def test_flags_out_of_bounds_are_refused(args: list[str], message: str) -> None:
    assert message in refused(invoke(args))


def test_explain_bounds_its_period_start() -> None:
    result = invoke(["explain", "retention_rate", "orders.csv", "--period-start", "9999-01-01"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"retcalc: error: --period-start 9999-01-01 {OUTSIDE}; a typo in the year?"
    ]


def test_the_date_bounds_themselves_are_accepted() -> None:
    # Yearly periods from 1900 to the data's last order (2024): 125 rows, the first 1900.
    result = invoke(["retention", "orders.csv", "-p", "year", "--start", "1900-01-01", "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert (rows[0]["period_start"], rows[-1]["period_start"], len(rows)) == (
        "1900-01-01",
        "2024-01-01",
        125,
    )
    result = invoke(["retention", "orders.csv", "-p", "year", "--end", "2200-12-31", "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert (rows[0]["period_start"], rows[-1]["period_start"]) == ("2024-01-01", "2200-01-01")


@pytest.mark.parametrize(
    ("text", "max_years", "count"),
    [
        ("100y", 100, 100),
        ("1200mo", 100, 1200),
        ("400q", 100, 400),
        ("36525d", 100, 36525),  # 100 x 365.25
        ("300y", 300, 300),
        ("0300y", 300, 300),
    ],
)
def test_lengths_at_the_bound_are_accepted(text: str, max_years: int, count: int) -> None:
    assert parse_duration(text, "--horizon", max_years=max_years).count == count


@pytest.mark.parametrize(
    ("text", "max_years"),
    [("101y", 100), ("1201mo", 100), ("401q", 100), ("36526d", 100), ("301y", 300)],
)
def test_lengths_beyond_the_bound_are_refused(text: str, max_years: int) -> None:
    with pytest.raises(UsageError, match=f"at most {max_years} years"):
        parse_duration(text, "--horizon", max_years=max_years)
    with pytest.raises(UsageError, match="'all' for no limit"):
        parse_window(text, max_years=max_years)


# ------------------------------------------------------------------------ YAML

SPEC_TAIL = "inputs: {orders: orders.csv}\noutput: out.html\n"


def bomb(levels: int = 9) -> str:
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


# l0 expanded holds 1 + 9 = 10 values, l1 1 + 9 * 10 = 91, l2 820, l3 7,381, l4 66,430,
# l5 597,871 > 100,000: refused at l5, on line 6.
YAML_CASES = [
    ("as_of: 2024-02-30\n", "line 1: as_of: '2024-02-30' is not a date"),
    ("as_of: 2024-13-01\n", "line 1: as_of: '2024-13-01' is not a date"),
    ("as_of: 9999-12-31\n", "line 1: as_of: 9999-12-31 " + OUTSIDE),
    ("title: x\nas_of: 0001-01-01\n", "line 2: as_of: 0001-01-01 " + OUTSIDE),
    ("title: " + "7" * 5000 + "\n", "line 1: title: a number with 5000 digits (at most 100)"),
    (
        "title: " + "[" * 10_000 + "]" * 10_000 + "\n",
        # the key path is cut after 60 characters
        "line 1: " + ("title" + "[0]" * 50)[:60] + "...: nested more than 50 levels deep",
    ),
    ("title:\n" + "".join("  " * i + "-\n" for i in range(1, 60)), "nested more than 50"),
    (bomb(), "line 6: l5: holds more than 100,000 values once its aliases (*name) are expanded"),
    ("title: &t [1, *t]\n", "line 1: title[1]: an alias refers to the value it is part of"),
    ("title: !!timestamp 2024-02-30\n", "line 1: title: '2024-02-30' is not a date"),
    ("title: !!int 12x\n", "line 1: title: cannot read '12x'"),
]
YAML_IDS = [
    "impossible-day",
    "month-13",
    "year-9999",
    "year-1",
    "5000-digits",
    "10000-nested-lists",
    "60-nested-block-lists",
    "alias-bomb",
    "alias-cycle",
    "tagged-timestamp",
    "tagged-int",
]


@pytest.mark.parametrize(("text", "message"), YAML_CASES, ids=YAML_IDS)
def test_config_values_are_refused_with_line_and_key(text: str, message: str) -> None:
    Path("retcalc.yaml").write_text(text)
    started = time.perf_counter()
    given = refused(invoke(["retention", "orders.csv", "--config", "retcalc.yaml"]))
    assert time.perf_counter() - started < 5
    assert given.startswith("retcalc: error: retcalc.yaml, line "), given
    assert message in given
    # The same file found as ./retcalc.yaml, without --config.
    assert message in refused(invoke(["retention", "orders.csv"]))


@pytest.mark.parametrize(("text", "message"), YAML_CASES, ids=YAML_IDS)
def test_spec_values_are_refused_with_line_and_key(text: str, message: str) -> None:
    Path("spec.yaml").write_text(text + SPEC_TAIL)
    started = time.perf_counter()
    given = refused(invoke(["report", "--spec", "spec.yaml"]))
    assert time.perf_counter() - started < 5
    assert given.startswith("retcalc: error: spec.yaml, line "), given
    assert message in given
    assert not Path("out.html").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("as_of: '2024-02-30'", "line 3: as_of: '2024-02-30' is not a date"),
        ("as_of: '9999-12-31'", "line 3: as_of: 9999-12-31 " + OUTSIDE),
        ("max_age: 99999999999d", "line 3: max_age: '99999999999d' is too long: at most 300"),
        ("active_window: 301y", "line 3: active_window: '301y' is too long: at most 300 years"),
    ],
)
def test_spec_values_read_by_the_spec_are_bounded(line: str, message: str) -> None:
    Path("spec.yaml").write_text(SPEC_TAIL + line + "\n")
    assert message in refused(invoke(["report", "--spec", "spec.yaml"]))


def test_an_unquoted_date_in_a_spec_is_still_read() -> None:
    Path("spec.yaml").write_text(SPEC_TAIL + "as_of: 2024-03-01\nperiod: month\n")
    result = invoke(["report", "--spec", "spec.yaml"])
    assert result.exit_code == 0, result.stderr
    assert Path("out.html").is_file()


def test_aliases_within_the_limit_are_expanded() -> None:
    # l3 expands to 7,381 values (see YAML_CASES): under the limit, and read in full.
    data, _ = load_yaml(bomb(4), name="x.yaml")
    flat = [x for b in data["l3"] for a in b for item in a for x in item]
    assert len(flat) == 9**4 and MAX_NODES > 7_381


@pytest.mark.parametrize("flag", ["--config", "--spec"])
def test_yaml_files_that_are_devices_directories_or_too_large(flag: str, tmp_path: Path) -> None:
    command = ["report"] if flag == "--spec" else ["retention", "orders.csv"]
    message = refused(invoke([*command, flag, "/dev/zero"]))
    assert f"{flag} /dev/zero: is a device, not a file" in message
    message = refused(invoke([*command, flag, str(tmp_path)]))
    assert f"{flag} {tmp_path}: is a directory" in message
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 110_000)  # 1.1 MB of comments
    assert f"{flag} {big}: is larger than 1024 KiB" in refused(invoke([*command, flag, big]))


@pytest.mark.parametrize("key", ["orders", "customers", "returns"])
def test_a_spec_input_that_is_a_device_is_refused(key: str) -> None:
    inputs = {"orders": "orders.csv", key: "/dev/zero"}
    Path("spec.yaml").write_text(
        "inputs: {" + ", ".join(f"{k}: {v}" for k, v in inputs.items()) + "}\noutput: o.html\n"
    )
    started = time.perf_counter()
    message = refused(invoke(["report", "--spec", "spec.yaml"]))
    assert time.perf_counter() - started < 10
    assert "/dev/zero: is a device, not a file" in message


@pytest.mark.parametrize(
    "args",
    [["retention", "/dev/zero"], ["returns", "orders.csv", "--returns", "/dev/zero"]],
)
def test_an_input_that_is_a_device_is_refused(args: list[str]) -> None:
    assert "/dev/zero: is a device, not a file" in refused(invoke(args))


# -------------------------------------------------------------------- catch-all


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom: something nobody expected\nsecond line of the text")


INTERNAL = (
    "retcalc: internal error: RuntimeError: boom: something nobody expected; "
    "rerun with --debug for the traceback"
)


@pytest.mark.parametrize(
    ("target", "args"),
    [
        ("retcalc.cli.common.load", ["retention", "orders.csv"]),
        ("retcalc.report.build.build_report", ["report", "--spec", "spec.yaml"]),
        ("retcalc.metrics.crr.classic_crr", ["crr", "--start", "10", "--new", "2", "--end", "9"]),
        ("retcalc.cli.inspect._summary", ["inspect", "orders.csv"]),
        ("retcalc.sample.generate", ["sample", "-o", "s"]),
    ],
    ids=["data command", "report", "crr", "inspect", "sample"],
)
def test_an_unexpected_exception_is_exit_70_and_one_line(
    target: str, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("spec.yaml").write_text(SPEC_TAIL)
    monkeypatch.setattr(target, _boom)
    result = invoke(args)
    assert result.exit_code == 70, result.stderr
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.splitlines() == [INTERNAL]
    assert result.stdout == ""
    # --debug lets the exception through (Python prints its traceback).
    result = invoke([*args, "--debug"])
    assert isinstance(result.exception, RuntimeError), repr(result.exception)
    assert "internal error" not in result.stderr


def test_memory_error_is_exit_2_saying_the_input_is_too_large(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr("retcalc.cli.common.load", exhausted)
    message = refused(invoke(["retention", "orders.csv"]))
    assert message.startswith("retcalc: error: out of memory: the input is too large"), message


SCRIPT = """
import sys
import retcalc.cli.common as common
def boom(*args, **kwargs):
    raise RuntimeError("boom")
common.load = boom
from retcalc.cli.entry import main
sys.argv = ["retcalc", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("debug", [False, True])
def test_the_traceback_is_printed_only_under_debug(debug: bool, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["retention", "orders.csv", *(["--debug"] if debug else [])]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    if debug:
        assert done.returncode == 1
        assert "Traceback (most recent call last)" in done.stderr
        assert done.stderr.rstrip().endswith("RuntimeError: boom")
    else:
        assert done.returncode == 70
        assert done.stderr.splitlines() == [
            "retcalc: internal error: RuntimeError: boom; rerun with --debug for the traceback"
        ]


def test_the_documented_bounds_are_the_code_s() -> None:
    doc = (ROOT / "docs" / "inputs.md").read_text(encoding="utf-8")
    section = doc.split("## Limits on flags, specs and configs\n", 1)[1].split("\n## ", 1)[0]
    section = " ".join(section.split())
    for text in [
        f"{FIRST_DAY} to {LAST_DAY}",
        f"at most {MAX_WINDOW_YEARS} years (`{MAX_WINDOW_YEARS}y`",
        f"at most {MAX_HORIZON_YEARS} years (`{MAX_HORIZON_YEARS}y`",
        f"1 to {MAX_TOP:,}",
        f"at most {MAX_OFFSET:,}",
        f"({MAX_YAML_BYTES // 1024} KiB)",
        f"at most {MAX_DEPTH} levels deep",
        f"at most {MAX_NODES:,} values",
        f"at most {MAX_INT_DIGITS} digits",
        "exits 70",
    ]:
        assert text in section, text
    assert MAX_COUNT == 10**12 and "at most 10^12" in section
