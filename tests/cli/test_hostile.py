"""Hostile input and interrupted runs, end to end: exit codes, one message, nothing lost.

The corpus of tests/data/bad/ is run row by row from its README table, so the
table cannot drift from what retcalc prints.
"""

from __future__ import annotations

import csv
import io
import os
import pty
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from retcalc.cli import runner as runner_module
from retcalc.cli.app import app

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
RETCALC = Path(sys.executable).with_name("retcalc")
H = "customer_id,order_date,amount\n"
ORDERS = H + "c1,2024-01-05,10\nc2,2024-01-20,20\nc1,2024-02-10,15\n"

cli = CliRunner()


def invoke(args: Sequence[str], input: str | bytes | None = None) -> Result:
    return cli.invoke(app, list(args), input=input)


def fails_cleanly(result: Result, code: int = 2) -> str:
    """Exit ``code`` through an exit (no uncaught exception), no traceback, one error line."""
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    return result.stderr


# The corpus.


def corpus_rows() -> list[tuple[str, str, str, int]]:
    """(command, what is wrong, first line of stderr, exit code) from the corpus README."""
    rows = []
    for line in (CORPUS / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or line.startswith(("| file", "|---")):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 5, line
        _, command, what, stderr, code = cells
        rows.append((command.strip("`"), what, stderr.strip("`"), int(code)))
    return rows


ROWS = corpus_rows()


def test_the_corpus_has_a_row_for_every_file() -> None:
    named = {shlex.split(command)[2] for command, *_ in ROWS}
    named |= {
        word for command, *_ in ROWS for word in shlex.split(command) if (CORPUS / word).exists()
    }
    files = {p.name for p in CORPUS.iterdir() if p.name not in {"README.md", ".gitattributes"}}
    assert files <= named, f"files without a row in README.md: {sorted(files - named)}"


@pytest.mark.parametrize(
    ("command", "what", "stderr", "code"),
    ROWS,
    ids=[shlex.split(r[0])[2] + ":" + r[0].split()[1] for r in ROWS],
)
def test_corpus(
    command: str, what: str, stderr: str, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CORPUS)
    args = shlex.split(command)
    assert args[0] == "retcalc"
    result = invoke([*args[1:], "--format", "csv"])
    first = result.stderr.splitlines()[0] if result.stderr.strip() else "(nothing)"
    assert (first, result.exit_code) == (stderr, code), what
    assert "Traceback" not in result.stderr
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    if code == 0:
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert rows and "period_start" in rows[0]
    else:
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1  # one actionable message


def test_corpus_values_that_need_reading_right(monkeypatch: pytest.MonkeyPatch) -> None:
    """The messy-but-valid files give the figures the README promises."""

    def revenue(*args: str) -> list[float]:
        result = invoke(["churn", *args, "--format", "csv"])
        assert result.exit_code == 0, result.stderr
        return [float(r["revenue"]) for r in csv.DictReader(io.StringIO(result.stdout))]

    monkeypatch.chdir(CORPUS)
    assert revenue("accounting_amounts.csv") == [1217.0]
    german = ["--customer-col", "Kunde", "--date-col", "Datum", "--amount-col", "Betrag"]
    assert revenue("bom_semicolon_decimal_comma.csv", *german) == [1234.56, 12.5]
    assert revenue("ambiguous_decimal.csv", "--decimal", ",") == [1246.0]
    assert revenue("huge_totals.csv") == [10_000_000_000_000.0, 10.0]
    result = invoke(["retention", "leading_zeros.csv", "-p", "year", "-f", "csv"])
    assert next(csv.DictReader(io.StringIO(result.stdout)))["new_customers"] == "3"


# Inputs that cannot be files in a repository.


@pytest.fixture
def orders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    return path


def test_broken_symlink(orders: Path) -> None:
    link = orders.with_name("link.csv")
    link.symlink_to(orders.with_name("moved.csv"))
    stderr = fails_cleanly(invoke(["retention", str(link)]))
    assert "symbolic link" in stderr and "moved.csv" in stderr


def test_unreadable_file(orders: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run as root, which chmod 000 does not stop: the denial is simulated."""
    real_open = Path.open

    def denied(self: Path, *args: object, **kwargs: object) -> object:
        if self.name == "orders.csv":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", denied)
    stderr = fails_cleanly(invoke(["retention", str(orders)]))
    assert "orders.csv" in stderr and "Permission denied" in stderr


def test_corrupt_parquet(orders: Path) -> None:
    buffer = io.BytesIO()
    pl.DataFrame({"customer_id": ["a"] * 50, "order_date": ["2024-01-05"] * 50}).write_parquet(
        buffer
    )
    data = bytearray(buffer.getvalue())
    data[8:-40] = b"\xff" * (len(data) - 48)
    path = orders.with_name("corrupt.parquet")
    path.write_bytes(bytes(data))
    stderr = fails_cleanly(invoke(["retention", str(path)]))
    assert "corrupt.parquet" in stderr


def test_stdin_bad_input(orders: Path) -> None:
    stderr = fails_cleanly(invoke(["retention", "-"], input=H + "a,2202-01-05,1\n"))
    assert "<stdin>" in stderr and "line 2" in stderr and "future" in stderr


def test_option_of_another_command(orders: Path) -> None:
    stderr = fails_cleanly(invoke(["retention", str(orders), "--top", "5"]))
    assert "--top" in stderr


def test_top_returns_without_returns_data(orders: Path) -> None:
    stderr = fails_cleanly(invoke(["returns", str(orders), "--top", "5"]))
    assert "return" in stderr


@pytest.mark.parametrize("flag", ["--tz", "--decimal", "--encoding"])
def test_bad_values_of_the_new_options(orders: Path, flag: str) -> None:
    stderr = fails_cleanly(invoke(["retention", str(orders), flag, "bogus"]))
    assert flag in stderr and "'bogus'" in stderr


def test_new_options_end_to_end(orders: Path) -> None:
    path = orders.with_name("eu.csv")
    path.write_text(
        "customer_id;order_date;amount\n"
        'a;2024-01-31 23:30:00 -0500;"1.234,50"\n'
        "a;2024-01-31 23:30:00 -0500;1.234,50\n"
    )
    plain = invoke(["churn", str(path), "-f", "csv"])
    assert plain.exit_code == 0 and "1 row repeats" in plain.stderr
    first = next(csv.DictReader(io.StringIO(plain.stdout)))
    assert (first["period_start"], float(first["revenue"])) == ("2024-01-01", 2469.0)
    both = invoke(["churn", str(path), "-f", "csv", "--tz", "Europe/Paris", "--dedupe"])
    first = next(csv.DictReader(io.StringIO(both.stdout)))
    assert (first["period_start"], float(first["revenue"])) == ("2024-02-01", 1234.5)


# Nothing lost: --output.


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_output_through_a_symlink_to_the_input_is_refused(orders: Path) -> None:
    link = orders.with_name("out.csv")
    link.symlink_to(orders)
    before = orders.read_bytes()
    stderr = fails_cleanly(invoke(["retention", str(orders), "-o", str(link)]))
    assert "refusing to overwrite input file" in stderr
    assert orders.read_bytes() == before and link.is_symlink()


def test_input_through_a_symlink_and_output_to_the_real_file_is_refused(orders: Path) -> None:
    link = orders.with_name("link.csv")
    link.symlink_to(orders)
    before = orders.read_bytes()
    fails_cleanly(invoke(["retention", str(link), "-o", str(orders)]))
    assert orders.read_bytes() == before


def test_output_onto_a_hard_link_of_the_input_is_refused(orders: Path) -> None:
    twin = orders.with_name("twin.csv")
    os.link(orders, twin)
    before = orders.read_bytes()
    fails_cleanly(invoke(["retention", str(orders), "-o", str(twin), "-f", "csv"]))
    assert orders.read_bytes() == before


def test_output_onto_the_config_is_refused(orders: Path) -> None:
    config = orders.with_name("retcalc.yaml")
    config.write_text("orders:\n  customer_id: customer_id\n")
    before = config.read_bytes()
    stderr = fails_cleanly(invoke(["retention", str(orders), "-o", str(config), "-f", "csv"]))
    assert "retcalc.yaml" in stderr and config.read_bytes() == before


def test_a_failed_run_leaves_the_old_output_and_no_temporary_file(orders: Path) -> None:
    out = orders.with_name("report.csv")
    out.write_text("yesterday's figures\n")
    bad = orders.with_name("bad.csv")
    bad.write_text(H + "a,2024-01-05,oops\n")
    fails_cleanly(invoke(["churn", str(bad), "-o", str(out)]))
    assert out.read_text() == "yesterday's figures\n"
    assert listing(orders.parent) == ["bad.csv", "orders.csv", "report.csv"]


def test_output_is_replaced_whole_and_leaves_no_temporary_file(orders: Path) -> None:
    out = orders.with_name("report.csv")
    out.write_text("old\n")
    os.chmod(out, 0o640)
    result = invoke(["retention", str(orders), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_text().startswith("period_start,") and result.stdout == ""
    assert out.stat().st_mode & 0o777 == 0o640
    assert listing(orders.parent) == ["orders.csv", "report.csv"]


def test_an_interrupted_write_leaves_nothing(orders: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM while the output is being written: the temporary file goes, exit 143."""
    import retcalc.render.text as text

    real = text.write_csv

    def stopped(df: pl.DataFrame, sink: object, **kwargs: object) -> None:
        real(df, sink, **kwargs)  # type: ignore[arg-type]
        raise runner_module.Interrupted(signal.SIGTERM)

    monkeypatch.setattr(text, "write_csv", stopped)
    out = orders.with_name("report.csv")
    result = invoke(["retention", str(orders), "-o", str(out)])
    assert result.exit_code == 143 and result.stderr == ""
    assert listing(orders.parent) == ["orders.csv"]


def test_parquet_is_not_written_to_a_terminal_before_any_work(tmp_path: Path) -> None:
    if not RETCALC.exists():
        pytest.skip("the retcalc script is not installed")
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [str(RETCALC), "retention", str(path), "--format", "parquet"],
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2
    assert b"refusing to write binary parquet to a terminal" in done.stderr


# Interrupted runs (a real process, a real signal).


@pytest.fixture(scope="module")
def long_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Orders for a daily churn table that takes several seconds."""
    folder = tmp_path_factory.mktemp("signals")
    n = 1_000_000
    i = pl.int_range(n, dtype=pl.UInt64)
    frame = pl.select(
        ("c" + (i.hash(1) % 300_000).cast(pl.String)).alias("customer_id"),
        (pl.date(2010, 1, 1) + pl.duration(days=(i.hash(2) % 5000).cast(pl.Int64))).alias(
            "order_date"
        ),
        ((i.hash(3) % 90_000 + 100).cast(pl.Float64) / 100).alias("amount"),
    )
    path = folder / "orders.csv"
    frame.write_csv(path)
    return path


def catches_sigterm(pid: int) -> bool:
    """True once the process has its own SIGTERM handler: retcalc's run has begun."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def wait_until_running(process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not catches_sigterm(process.pid):
        assert process.poll() is None and time.monotonic() < deadline, "retcalc did not start"
        time.sleep(0.05)


@pytest.mark.skipif(not RETCALC.exists(), reason="the retcalc script is not installed")
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_signal_stops_the_run_quietly_and_leaves_no_output(
    long_input: Path, tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT, exit 130) and SIGTERM (exit 143), one process each, side by side."""
    source = long_input
    runs = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        folder = tmp_path / signum.name
        folder.mkdir()
        runs[signum] = (
            folder,
            subprocess.Popen(
                [str(RETCALC), "churn", str(source), "--period", "day", "-o", "churn.csv"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, "NO_COLOR": "1"},
                cwd=folder,
            ),
        )
    for _, process in runs.values():
        wait_until_running(process)
    time.sleep(0.5)  # inside the computation
    for signum, (_, process) in runs.items():
        assert process.poll() is None, "the run ended before the signal: make the input bigger"
        process.send_signal(signum)
    sent = time.monotonic()
    for signum, (folder, process) in runs.items():
        stdout, stderr = process.communicate(timeout=60)
        assert time.monotonic() - sent < 5, "the signal waited for the computation"
        assert process.returncode == 128 + signum, signum.name
        assert stdout == b"" and stderr == b""
        assert listing(folder) == []  # no output, no temporary file


def test_the_watcher_is_stopped_after_each_run(orders: Path) -> None:
    before_term, before_int = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    for _ in range(3):
        assert invoke(["retention", str(orders), "-f", "csv"]).exit_code == 0
    assert not [t for t in threading.enumerate() if t.name == "retcalc-signals"]
    assert signal.getsignal(signal.SIGTERM) is before_term
    assert signal.getsignal(signal.SIGINT) is before_int
    assert signal.set_wakeup_fd(-1) == -1  # no wakeup descriptor left behind
