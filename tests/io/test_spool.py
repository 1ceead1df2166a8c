"""Standard input, pipes and gzip files are copied to a temporary file and read as a file.

The output must be the same as for the file by path; the copy must be gone after the
run (and after an error); an endless input stops at RETCALC_MAX_INPUT_BYTES.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest

from retcalc.errors import InputError, UsageError
from retcalc.io import spool
from retcalc.io.load import ROW, open_table

ORDERS = (
    "customer_id,order_date,amount\n"
    "c1,2024-01-05,10\n"
    "c2,2024-01-20,5\n"
    "c1,2024-02-03,7\n"
    "c3,2024-02-10,1\n"
    "c2,2024-03-01,2\n"
)


def retcalc(*args: str, stdin: bytes | None = None, tmpdir: Path | None = None, **env: str):
    environment = {**os.environ, **env}
    if tmpdir is not None:
        environment["TMPDIR"] = str(tmpdir)
    return subprocess.run(
        [sys.executable, "-m", "retcalc", *args],
        input=stdin,
        capture_output=True,
        env=environment,
        timeout=120,
        check=False,
    )


def left_behind(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(spool.PREFIX)]


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    return path


def test_stdin_and_gzip_give_the_output_of_the_path(orders: Path, tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    by_path = retcalc("retention", str(orders))
    assert by_path.returncode == 0 and by_path.stdout.count(b"\n") == 4  # header + 3 months
    packed = tmp_path / "orders.csv.gz"
    packed.write_bytes(gzip.compress(ORDERS.encode()))
    for done in (
        retcalc("retention", "-", stdin=ORDERS.encode(), tmpdir=temp),
        retcalc("retention", str(packed), tmpdir=temp),
        retcalc("retention", "-", stdin=packed.read_bytes(), tmpdir=temp),
    ):
        assert done.returncode == 0, done.stderr
        assert done.stdout == by_path.stdout
    assert left_behind(temp) == []


def test_parquet_on_stdin_gives_the_output_of_the_path(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.read_csv(io.StringIO(ORDERS), infer_schema=False).write_parquet(path)
    by_path = retcalc("retention", str(path))
    piped = retcalc("retention", "-", stdin=path.read_bytes(), tmpdir=tmp_path)
    assert by_path.returncode == 0 and piped.returncode == 0, piped.stderr
    assert piped.stdout == by_path.stdout and by_path.stdout.count(b"\n") == 4


def test_latin1_on_stdin_is_transcoded_as_by_path(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(ORDERS.replace("c3", "Jos\xe9").encode("latin-1"))
    temp = tmp_path / "tmp"
    temp.mkdir()
    by_path = retcalc("retention", str(path))
    piped = retcalc("retention", "-", stdin=path.read_bytes(), tmpdir=temp)
    assert piped.returncode == 0 and piped.stdout == by_path.stdout
    # The same warning, naming <stdin> instead of the path, and line 5 (José's).
    warning = by_path.stderr.decode().replace(str(path), "<stdin>")
    assert piped.stderr.decode() == warning
    assert "<stdin>: is not UTF-8 text (line 5 has the byte 0xE9)" in warning
    assert left_behind(temp) == []


def test_a_latin1_name_on_stdin_reads_as_latin1() -> None:
    data = ORDERS.replace("c3", "Jos\xe9").encode("latin-1")
    table = open_table("-", stdin=io.BytesIO(data))
    names = table.frame.sort(ROW).collect()["customer_id"].to_list()
    assert names == ["c1", "c2", "c1", "José", "c2"]
    assert table.name == "<stdin>" and table.path is None and table.files == ()


def test_an_error_names_stdin_and_the_line_and_leaves_no_file(tmp_path: Path) -> None:
    bad = ORDERS + 'c4,2024-03-05,"3\nc5,2024-03-06,1\n'
    done = retcalc("retention", "-", stdin=bad.encode(), tmpdir=tmp_path)
    assert done.returncode == 2
    message = done.stderr.decode()
    assert "<stdin>: line 7" in message, message
    assert spool.PREFIX not in message and str(tmp_path) not in message
    assert left_behind(tmp_path) == []


def test_gzip_on_stdin_that_is_truncated(tmp_path: Path) -> None:
    packed = gzip.compress(ORDERS.encode() * 50)[:40]
    done = retcalc("retention", "-", stdin=packed, tmpdir=tmp_path)
    assert done.returncode == 2
    assert "<stdin>: is gzip-compressed" in done.stderr.decode()
    assert "truncated" in done.stderr.decode()
    assert left_behind(tmp_path) == []


def test_an_endless_input_stops_at_the_limit(tmp_path: Path) -> None:
    command = f"yes c1,2024-01-05,1 | {sys.executable} -m retcalc retention -"
    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        env={**os.environ, "TMPDIR": str(tmp_path), spool.LIMIT_VARIABLE: "100000"},
        timeout=120,
        check=False,
    )
    message = done.stderr.decode()
    assert done.returncode == 2, message
    assert "<stdin>: is larger than 100000 bytes" in message
    assert f"{spool.LIMIT_VARIABLE}=400000" in message
    assert left_behind(tmp_path) == []


def test_the_limit_counts_decompressed_bytes(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress(ORDERS.encode()))
    monkeypatch.setenv(spool.LIMIT_VARIABLE, str(len(ORDERS) - 1))
    with pytest.raises(InputError) as info:
        open_table(str(path))
    assert f"is larger than {len(ORDERS) - 1} bytes once decompressed" in info.value.message
    monkeypatch.setenv(spool.LIMIT_VARIABLE, str(len(ORDERS)))
    assert open_table(str(path)).frame.collect().height == 5


def test_a_limit_that_is_not_a_number(monkeypatch) -> None:
    monkeypatch.setenv(spool.LIMIT_VARIABLE, "lots")
    with pytest.raises(UsageError) as info:
        open_table("-", stdin=io.BytesIO(ORDERS.encode()))
    assert spool.LIMIT_VARIABLE in info.value.message and "lots" in info.value.message


def test_without_proc_the_named_copy_is_deleted_when_released(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(spool, "_PROC_FD", tmp_path / "no-proc")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    table = open_table("-", stdin=io.BytesIO(ORDERS.encode()))
    assert len(left_behind(tmp_path)) == 1
    assert table.frame.collect().height == 5
    spool.release()
    assert left_behind(tmp_path) == []


def test_with_proc_the_copy_has_no_name_even_while_read(tmp_path: Path, monkeypatch) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    table = open_table("-", stdin=io.BytesIO(ORDERS.encode()))
    assert left_behind(tmp_path) == []
    assert table.frame.collect().height == 5
    spool.release()
