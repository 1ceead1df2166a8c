"""Where ``--output`` goes (issue 27, item 2): devices and FIFOs are written straight to,
regular files replaced by a rename; temporary files of killed runs are removed; the exit
code of a stopped run says whether an output file was written."""

from __future__ import annotations

import csv
import io
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.render import atomic

H = "customer_id,order_date,amount\n"
ORDERS = H + "c1,2024-01-05,10\nc2,2024-01-20,20\nc1,2024-02-10,15\n"
STOPPED_AFTER_WRITING = 3  # README "Exit codes"

cli = CliRunner()


def invoke(args: Sequence[str]) -> Result:
    return cli.invoke(app, list(args))


@pytest.fixture
def orders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    return path


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def retention_rows(text: str) -> list[tuple[str, str, str]]:
    """(period_start, new_customers, returning) of a retention CSV."""
    rows = csv.DictReader(io.StringIO(text))
    return [(r["period_start"], r["new_customers"], r["returning"]) for r in rows]


# By hand: January has c1 and c2, both new; in February c1 buys again (returning).
EXPECTED = [("2024-01-01", "2", "0"), ("2024-02-01", "0", "1")]


# Devices and FIFOs.


def test_dev_null_stays_a_device(orders: Path) -> None:
    before = os.stat("/dev/null")
    result = invoke(["retention", str(orders), "-o", "/dev/null", "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert result.stdout == ""


def _full_is_writable() -> bool:
    try:
        return stat.S_ISCHR(os.stat("/dev/full").st_mode) and os.access("/dev/full", os.W_OK)
    except OSError:
        return False


@pytest.mark.skipif(not _full_is_writable(), reason="no writable character device /dev/full")
@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "table"])
def test_dev_full_is_exit_2_naming_it_and_stays_a_device(orders: Path, fmt: str) -> None:
    before = os.stat("/dev/full")
    result = invoke(["retention", str(orders), "-o", "/dev/full", "-f", fmt])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit)
    assert result.stderr == "retcalc: error: cannot write /dev/full: No space left on device\n"
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


@pytest.mark.skipif(not _full_is_writable(), reason="no writable character device /dev/full")
def test_report_to_dev_full_is_exit_2(orders: Path) -> None:
    result = invoke(
        ["report", str(orders), "-o", "/dev/full", "-f", "json", "--as-of", "2024-03-01"]
    )
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "retcalc: error: cannot write /dev/full: No space left on device\n"
    )
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_written_straight_to(orders: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as reader:
            received.append(reader.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = invoke(["retention", str(orders), "-o", str(fifo), "-f", "csv"])
    reader.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert not reader.is_alive()
    assert retention_rows(received[0].decode()) == EXPECTED
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO
    assert listing(tmp_path) == ["orders.csv", "out.fifo"]  # no temporary file
    assert invoke(["retention", str(orders), "-o", "regular.csv"]).exit_code == 0
    assert (tmp_path / "regular.csv").read_bytes() == received[0]


def test_a_regular_file_is_still_replaced_by_a_rename(orders: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    old_inode = out.stat().st_ino
    keep = os.open(out, os.O_RDONLY)  # holds the old inode, so it cannot be reused
    try:
        result = invoke(["retention", str(orders), "-o", str(out)])
        assert os.read(keep, 100) == b"old\n"  # the old file was not written into
    finally:
        os.close(keep)
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_ino != old_inode
    assert retention_rows(out.read_text()) == EXPECTED
    assert listing(tmp_path) == ["orders.csv", "out.csv"]


def test_an_input_is_still_refused_as_output(orders: Path) -> None:
    before = orders.read_bytes()
    result = invoke(["retention", str(orders), "-o", str(orders)])
    assert result.exit_code == 2
    assert "refusing to overwrite input file" in result.stderr
    assert orders.read_bytes() == before


def test_dash_is_standard_output(orders: Path, tmp_path: Path) -> None:
    result = invoke(["retention", str(orders), "-o", "-", "-f", "csv"])
    assert result.exit_code == 0
    assert retention_rows(result.stdout) == EXPECTED
    assert listing(tmp_path) == ["orders.csv"]


# Temporary files of killed runs.


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temp(folder: Path, name: str, pid: int, host: str = atomic._HOST) -> Path:
    path = folder / f".{name}.retcalc-{pid}@{host}-a1b2c3d4.tmp"
    path.write_text("half")
    return path


def test_a_kill_9_leaves_a_temporary_file_that_the_next_write_removes(
    orders: Path, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from retcalc.render.atomic import atomic_write
        with atomic_write(Path(sys.argv[1])) as sink:
            sink.write(b"period_start,half")
            sink.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    out = tmp_path / "out.csv"
    killed = subprocess.Popen([sys.executable, "-c", script, str(out)])
    assert killed.wait(timeout=60) == -signal.SIGKILL
    left = [name for name in listing(tmp_path) if name.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(f".out.csv.retcalc-{killed.pid}@{atomic._HOST}-")
    result = invoke(["retention", str(orders), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert listing(tmp_path) == ["orders.csv", "out.csv"]


def test_only_dead_runs_temporary_files_are_removed(orders: Path, tmp_path: Path) -> None:
    dead = _temp(tmp_path, "out.csv", _dead_pid())
    dead_other_name = _temp(tmp_path, "yesterday.csv", _dead_pid())
    live = _temp(tmp_path, "out.csv", os.getpid())  # this process is alive
    other_host = _temp(tmp_path, "out.csv", _dead_pid(), host="0123abcd")
    own = [tmp_path / "x.tmp", tmp_path / ".out.csv.tmp", tmp_path / ".out.csv.retcalc-1.tmp"]
    for path in own:
        path.write_text("the user's")
    result = invoke(["retention", str(orders), "-o", "out.csv"])
    assert result.exit_code == 0, result.stderr
    assert not dead.exists() and not dead_other_name.exists()
    assert live.exists() and other_host.exists()
    assert all(p.read_text() == "the user's" for p in own)


def test_a_directory_of_that_name_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / f".x.retcalc-{_dead_pid()}@{atomic._HOST}-a1b2c3d4.tmp"
    folder.mkdir()
    assert atomic.remove_stale_temporaries(tmp_path) == []
    assert folder.is_dir()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs root to chown")
def test_another_users_temporary_file_is_left_alone(tmp_path: Path) -> None:
    theirs = _temp(tmp_path, "out.csv", _dead_pid())
    os.chown(theirs, 54321, 54321)
    mine = _temp(tmp_path, "out.csv", _dead_pid())
    mine.rename(mine.with_name(mine.name.replace("a1b2c3d4", "e5f6g7h8")))
    assert atomic.remove_stale_temporaries(tmp_path) == [
        tmp_path / mine.name.replace("a1b2c3d4", "e5f6g7h8")
    ]
    assert theirs.exists()


# The exit code of a stopped run.

in_main_thread = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="retcalc handles signals only in the main thread; a real one would end pytest",
)


@in_main_thread
def test_a_signal_during_the_rename_is_exit_3_with_the_file_complete(
    orders: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signal comes in the middle of the commit: deferred, then exit 3, not 143."""
    real = os.replace

    def replace_then_signal(src: str | Path, dst: str | Path) -> None:
        real(src, dst)
        signal.raise_signal(signal.SIGTERM)  # the handler runs before the next bytecode

    monkeypatch.setattr(atomic.os, "replace", replace_then_signal)
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    result = invoke(["retention", str(orders), "-o", str(out)])
    assert result.exit_code == STOPPED_AFTER_WRITING, result.stderr
    assert retention_rows(out.read_text()) == EXPECTED
    assert result.stderr == (
        f"retcalc: stopped by SIGTERM after writing {out} (complete); nothing else was written\n"
    )
    assert listing(tmp_path) == ["orders.csv", "out.csv"]


@in_main_thread
def test_a_signal_after_the_write_is_exit_3(
    orders: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retcalc.cli import runner

    def signal_then_check(breaches: object) -> None:
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(runner, "raise_breaches", signal_then_check)
    result = invoke(["retention", str(orders), "-o", "out.csv"])
    assert result.exit_code == STOPPED_AFTER_WRITING, result.stderr
    assert "stopped by SIGINT after writing" in result.stderr
    assert retention_rows((tmp_path / "out.csv").read_text()) == EXPECTED


@in_main_thread
def test_a_signal_before_the_rename_is_still_143_and_nothing_written(
    orders: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The signal comes with the fsync of the temporary file, just before the rename.
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: signal.raise_signal(signal.SIGTERM))
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    result = invoke(["retention", str(orders), "-o", str(out)])
    assert result.exit_code == 143 and result.stderr == ""
    assert out.read_text() == "old\n"
    assert listing(tmp_path) == ["orders.csv", "out.csv"]


@in_main_thread
def test_stdout_run_stopped_is_still_128_plus_the_signal(
    orders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retcalc.cli import runner

    monkeypatch.setattr(
        runner, "raise_breaches", lambda breaches: signal.raise_signal(signal.SIGTERM)
    )
    result = invoke(["retention", str(orders), "-f", "csv"])
    assert result.exit_code == 143 and result.stderr == ""


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_the_watcher_also_says_3_after_a_commit(orders: Path, tmp_path: Path) -> None:
    """The main thread cannot stop itself (the signal blocked there, as when it computes
    in Rust): the watcher thread ends the process, with 3 since out.csv was written."""
    script = textwrap.dedent(
        """
        import os, signal, sys, time
        from retcalc.cli import runner
        from retcalc.cli.entry import main

        def stuck(breaches):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)

        runner.raise_breaches = stuck
        sys.argv = ["retcalc", "retention", sys.argv[1], "-o", "out.csv"]
        main()
        """
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script, str(orders)],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert time.monotonic() - started < 25, "the watcher did not end the run"
    assert done.returncode == STOPPED_AFTER_WRITING, done.stderr
    assert b"stopped by SIGTERM after writing" in done.stderr
    assert retention_rows((tmp_path / "out.csv").read_text()) == EXPECTED


def _run_has_begun(pid: int) -> bool:
    """True once the process catches SIGTERM (retcalc's run has begun) or ignores it (the
    run is over and the process exits)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    bit = 1 << (signal.SIGTERM - 1)
    masks = [
        int(line.split()[1], 16)
        for line in status.splitlines()
        if line.startswith(("SigCgt:", "SigIgn:"))
    ]
    return any(mask & bit for mask in masks)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_signal_at_any_moment_tells_whether_the_output_was_written(
    orders: Path, tmp_path: Path
) -> None:
    """The reproducer (2 of 20 SIGTERMs exited 143 after the output was complete):
    SIGTERM or SIGINT at moments spread over runs, from the start of the run (its
    handlers installed) through the write and the exit. Whenever it comes, 130/143
    means no out.csv and no temporary file; 0 and 3 mean out.csv is complete."""
    rng = random.Random(27)
    plan = [(rng.uniform(0.0, 0.6), rng.choice([signal.SIGTERM, signal.SIGINT])) for _ in range(16)]
    outcomes = []
    for batch in range(0, len(plan), 4):
        runs = []
        for i, (delay, signum) in enumerate(plan[batch : batch + 4], start=batch):
            folder = tmp_path / f"run{i}"
            folder.mkdir()
            process = subprocess.Popen(
                [sys.executable, "-m", "retcalc", "retention", str(orders), "-o", "out.csv"],
                cwd=folder,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, "NO_COLOR": "1"},
            )
            runs.append((delay, signum, folder, process))
        for delay, signum, _, process in runs:
            deadline = time.monotonic() + 60
            while process.poll() is None and not _run_has_begun(process.pid):
                assert time.monotonic() < deadline, "retcalc did not start"
                time.sleep(0.005)
            time.sleep(delay)
            if process.poll() is None:
                process.send_signal(signum)
        for _, signum, folder, process in runs:
            _, stderr = process.communicate(timeout=60)
            code = 128 - process.returncode if process.returncode < 0 else process.returncode
            out = folder / "out.csv"
            assert [p for p in listing(folder) if p.endswith(".tmp")] == [], code
            if code == 128 + signum:
                assert not out.exists(), f"exit {code} but out.csv was written"
            else:
                assert code in (0, STOPPED_AFTER_WRITING), (code, stderr)
                assert retention_rows(out.read_text()) == EXPECTED
                assert (b"stopped by" in stderr) == (code == STOPPED_AFTER_WRITING), stderr
            outcomes.append(code)
    assert len(outcomes) == len(plan)


@pytest.mark.skipif(not _full_is_writable(), reason="no writable character device /dev/full")
def test_clv_params_out_to_dev_full_is_exit_2_naming_it(tmp_path: Path) -> None:
    from retcalc.sample import generate, write_sample

    write_sample(generate(customers=300, seed=42), tmp_path)
    result = invoke(
        [
            "clv",
            str(tmp_path / "orders.csv"),
            "--model",
            "bgnbd",
            "--params-out",
            "/dev/full",
            "--as-of",
            "2026-01-01",
            "-o",
            "/dev/null",
            "-f",
            "csv",
        ]
    )
    assert result.exit_code == 2
    last = result.stderr.splitlines()[-1]
    assert last == "retcalc: error: cannot write /dev/full: No space left on device"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
