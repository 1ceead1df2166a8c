"""Choosing the format and writing --output files safely (SPEC §4, §6)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import polars as pl
import pytest

import retcalc.render.table
import retcalc.render.text
from retcalc.errors import RetcalcError, UsageError
from retcalc.render import OutputFormat, resolve_format, write_output


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.json", OutputFormat.json),
        ("a.ndjson", OutputFormat.ndjson),
        ("a.jsonl", OutputFormat.ndjson),
        ("a.csv", OutputFormat.csv),
        ("A.CSV", OutputFormat.csv),
        ("a.tsv", OutputFormat.tsv),
        ("a.tab", OutputFormat.tsv),
        ("a.md", OutputFormat.markdown),
        ("a.markdown", OutputFormat.markdown),
        ("a.parquet", OutputFormat.parquet),
        ("a.pq", OutputFormat.parquet),
        ("a.txt", OutputFormat.table),
    ],
    ids=lambda v: str(v),
)
def test_format_from_extension(name: str, expected: OutputFormat) -> None:
    assert resolve_format(None, Path(name), stdout_is_tty=True) is expected
    assert resolve_format(None, Path(name), stdout_is_tty=False) is expected


def test_explicit_format_wins() -> None:
    assert resolve_format(OutputFormat.json, Path("a.csv"), stdout_is_tty=True) is OutputFormat.json
    assert resolve_format(OutputFormat.csv, None, stdout_is_tty=True) is OutputFormat.csv


def test_default_is_table_on_a_terminal_and_csv_on_a_pipe() -> None:
    assert resolve_format(None, None, stdout_is_tty=True) is OutputFormat.table
    assert resolve_format(None, None, stdout_is_tty=False) is OutputFormat.csv
    assert resolve_format(None, Path("-"), stdout_is_tty=False) is OutputFormat.csv


@pytest.mark.parametrize("name", ["report.xls", "report"])
def test_unknown_extension_is_a_usage_error(name: str) -> None:
    with pytest.raises(UsageError) as info:
        resolve_format(None, Path(name), stdout_is_tty=False)
    message = info.value.message
    assert name in message and ".csv" in message and ".parquet" in message
    if "." in name:
        assert "'.xls'" in message


@pytest.fixture
def small() -> pl.DataFrame:
    return pl.DataFrame({"customers": [1, 2]})


def test_refuses_to_overwrite_an_input_file(
    small: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,order_date\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="refusing to overwrite input file"):
        write_output(
            small,
            fmt=OutputFormat.csv,
            output=Path("sub/../orders.csv"),
            protected_paths=[orders],
        )
    assert orders.read_text() == "customer_id,order_date\n"


def test_refuses_an_input_reached_through_a_symlink(small: pl.DataFrame, tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("x\n")
    link = tmp_path / "link.csv"
    link.symlink_to(orders)
    with pytest.raises(UsageError, match="refusing to overwrite"):
        write_output(small, fmt=OutputFormat.csv, output=link, protected_paths=[Path("-"), orders])
    assert orders.read_text() == "x\n"


def test_refuses_a_directory(small: pl.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        write_output(small, fmt=OutputFormat.csv, output=tmp_path)


def test_missing_directory_is_a_clear_error(small: pl.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        write_output(small, fmt=OutputFormat.csv, output=tmp_path / "nope" / "a.csv")


def test_unwritable_directory_is_a_retcalc_error(
    small: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deny(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", deny)
    with pytest.raises(RetcalcError, match=r"cannot write .*Permission denied"):
        write_output(small, fmt=OutputFormat.csv, output=tmp_path / "a.csv")


def test_writes_a_new_file_with_normal_permissions(small: pl.DataFrame, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    write_output(small, fmt=OutputFormat.csv, output=target)
    assert target.read_text() == "customers\n1\n2\n"
    assert list(tmp_path.iterdir()) == [target]
    if os.name == "posix":
        umask = os.umask(0)
        os.umask(umask)
        assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_replaces_an_existing_file_keeping_its_mode(small: pl.DataFrame, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o640)
    write_output(small, fmt=OutputFormat.json, output=target)
    assert target.read_text() == '[\n{"customers":1},\n{"customers":2}\n]\n'
    assert target.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()], ids=repr)
def test_interrupted_write_leaves_the_old_file_and_no_temp(
    small: pl.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous run")

    def half_write(df: pl.DataFrame, sink: io.BufferedIOBase) -> None:
        sink.write(b"[\n{")
        raise error

    monkeypatch.setattr(retcalc.render.text, "write_json", half_write)
    with pytest.raises(type(error)):
        write_output(small, fmt=OutputFormat.json, output=target)
    assert target.read_text() == "previous run"
    assert list(tmp_path.iterdir()) == [target]


def test_interrupted_table_write_leaves_no_temp(
    small: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(retcalc.render.table, "print_table", boom)
    with pytest.raises(KeyboardInterrupt):
        write_output(small, fmt=OutputFormat.table, output=tmp_path / "out.txt")
    assert list(tmp_path.iterdir()) == []


def test_table_to_a_file_has_no_styling(small: pl.DataFrame, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_output(small, fmt=OutputFormat.table, output=target, title="Counts")
    text = target.read_text(encoding="utf-8")
    assert "\x1b[" not in text
    assert "Counts" in text and "customers" in text


def test_dash_output_means_stdout(small: pl.DataFrame) -> None:
    out = io.StringIO()
    write_output(small, fmt=OutputFormat.csv, output=Path("-"), stdout=out)
    assert out.getvalue() == "customers\n1\n2\n"


def test_parquet_is_refused_on_a_terminal(small: pl.DataFrame) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    with pytest.raises(UsageError, match="--output"):
        write_output(small, fmt=OutputFormat.parquet, stdout=Tty())


def test_parquet_needs_a_binary_stream(small: pl.DataFrame) -> None:
    with pytest.raises(UsageError, match="--output"):
        write_output(small, fmt=OutputFormat.parquet, stdout=io.StringIO())


def test_broken_pipe_propagates(small: pl.DataFrame) -> None:
    class Closed(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError

    with pytest.raises(BrokenPipeError):
        write_output(small, fmt=OutputFormat.csv, stdout=Closed())


def test_render_does_not_import_metrics() -> None:
    import ast

    package = Path(retcalc.render.text.__file__).parent
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.startswith("retcalc.metrics") for n in names), module
