"""Issue 27, identity and quiet losses: one person written two ways is one customer,
and values read as nothing are counted and named (``--strict`` refuses them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from retcalc.io.load import ENGINE_VARIABLE

NFC, NFD = "Jos\u00e9", "Jose\u0301"
FULLWIDTH = "\uff21\uff22\uff23\uff11\uff12\uff13"


def invoke(args: list[str], input: bytes | None = None) -> Result:
    return CliRunner().invoke(app, args, input=input)


def kpis(path: str, *flags: str, input: bytes | None = None) -> tuple[dict, str]:
    result = invoke(["kpis", path, "--format", "json", *flags], input=input)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)[0], result.stderr


def test_one_person_in_several_unicode_forms_is_one_customer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "customer_id,order_date,amount\n"
        f"{NFC},2024-01-05,10\n"
        f"{NFD},2024-02-05,20\n"
        f"{FULLWIDTH},2024-01-06,5\n"
        "ABC123,2024-03-06,5\n"
        "Zo\u200b\u00eb,2024-01-07,1\n"
        "Zo\u00eb,2024-01-09,1\n"
        "Bea,2024-01-08,1\n"
    )
    path = tmp_path / "forms.csv"
    path.write_text(text, encoding="utf-8")
    said = (
        f"retcalc: warning: {path}: 3 customer ids were written in more than one Unicode "
        "form (e.g. 'ABC123' and '\\uff21\\uff22\\uff23\\uff11\\uff12\\uff13'); each is read "
        "as one customer (ids are compared in Unicode NFKC form, without zero-width characters)"
    )
    outputs = []
    for engine in ("in-memory", "streaming"):
        monkeypatch.setenv(ENGINE_VARIABLE, engine)
        row, stderr = kpis(str(path))
        assert row["customers"] == 4  # José, ABC123, Zoë, Bea
        assert row["orders"] == 7
        assert said in stderr.splitlines()
        outputs.append(row)
    assert outputs[0] == outputs[1]
    row, stderr = kpis("-", input=text.encode())
    assert row == outputs[0]
    assert said.replace(str(path), "<stdin>") in stderr.splitlines()


def test_float32_amounts_read_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl

    path = tmp_path / "f32.parquet"
    pl.DataFrame(
        {
            "customer_id": ["b", "a", "a"],
            "order_date": ["2024-01-05", "2024-01-06", "2024-02-05"],
            "amount": pl.Series([10746.37, 0.1, 123456.78], dtype=pl.Float32),
        }
    ).write_parquet(path)
    for engine in ("in-memory", "streaming"):
        monkeypatch.setenv(ENGINE_VARIABLE, engine)
        row, _ = kpis(str(path))
        assert row["revenue"] == 10746.37 + 0.1 + 123456.78  # not 134203.25...0117
    result = invoke(["rfm", str(path), "--format", "csv", "--per-customer"])
    assert result.exit_code == 0, result.stderr
    monetary = {r.split(",")[0]: r.split(",")[3] for r in result.stdout.splitlines()[1:]}
    assert monetary == {"a": "123456.88", "b": "10746.37"}


def test_xlsx_says_which_cells_it_cuts(tmp_path: Path) -> None:
    long_id = "x" * 40_000
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "customer_id,order_date,amount\n"
        f"{long_id},2024-01-05,10\n{long_id}y,2024-01-06,10\nshort,2024-01-07,5\n"
    )
    out = tmp_path / "rfm.xlsx"
    result = invoke(["rfm", str(orders), "--per-customer", "--output", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_size > 0
    assert (
        "retcalc: warning: column 'customer_id': 2 cells are longer than 32,767 characters, "
        "the most an XLSX cell holds, and cut at that length; use --format csv or parquet "
        "for the whole text"
    ) in result.stderr.splitlines()
    result = invoke(["rfm", str(orders), "--per-customer", "--output", str(tmp_path / "r.csv")])
    assert result.exit_code == 0 and "32,767" not in result.stderr


def test_a_file_mixing_utf8_and_cp1252_keeps_one_person_one_customer(tmp_path: Path) -> None:
    data = (
        f"customer_id,order_date,amount\n{NFC},2024-01-05,10\n".encode()
        + f"{NFC},2024-02-05,20\nZo\u00eb,2024-02-06,1\n".encode("cp1252")
        + "Bea \u2013 B,2024-03-01,1\n".encode()
    )
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    for args, input, name in (([str(path)], None, str(path)), (["-"], data, "<stdin>")):
        row, stderr = kpis(*args, input=input)
        assert row["customers"] == 3 and row["orders"] == 4
        assert stderr.splitlines() == [
            f"retcalc: warning: {name}: mixes UTF-8 and Windows-1252 text: 2 lines are not "
            "UTF-8 (the first is line 3, byte 0xE9) and were read as Windows-1252, the other "
            "lines as UTF-8, so that a name is one name in both; if names look wrong, pass "
            "--encoding"
        ]
    result = invoke(["rfm", str(path), "--per-customer", "--format", "csv"])
    assert {r.split(",")[0] for r in result.stdout.splitlines()[1:]} == {
        NFC,
        "Zo\u00eb",
        "Bea \u2013 B",
    }


def test_a_file_only_in_cp1252_is_read_whole_as_before(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        f"customer_id,order_date,amount\n{NFC},2024-01-05,1\nZo\u00eb,2024-02-06,1\n".encode(
            "cp1252"
        )
    )
    row, stderr = kpis(str(path))
    assert row["customers"] == 2
    assert "is not UTF-8 text (line 2 has the byte 0xE9), so it was read as Windows-1252" in stderr


EMPTY = (
    "customer_id,order_date,amount\n"
    "a,2024-01-05,10\n"
    "a,2024-02-05,\n"  # empty: line 3
    "b,2024-01-06,NaN\n"
    "c,2024-01-07\n"  # a short line: no amount field at all
    ",2024-01-08,\n"  # no customer: left out, said apart
    "d,2024-01-09,2.5\n"
)


def test_empty_amounts_and_short_lines_are_counted_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(EMPTY)
    said = (
        f"retcalc: warning: {path}: column 'amount' (amount): 3 rows have no value (empty, "
        "NaN, NULL or past the end of a short line; the first on line 3), counted as 0. "
        "Fill them in or remove the rows; --strict refuses them"
    )
    rows = []
    for engine in ("in-memory", "streaming"):
        monkeypatch.setenv(ENGINE_VARIABLE, engine)
        result = invoke(["churn", str(path), "--format", "json"])
        assert result.exit_code == 0, result.stderr
        assert result.stderr.splitlines()[0] == said
        rows.append(json.loads(result.stdout))
        assert sum(r["revenue"] for r in rows[-1]) == 12.5
        result = invoke(["retention", str(path), "--format", "csv", "--strict"])
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"retcalc: error: {path}: column 'amount' (amount), line 3: no value (empty, NaN, "
            "NULL or past the end of a short line) (2 more such rows); --strict refuses an "
            "amount that would count as 0. Fill it in or remove the row"
        ]
    assert rows[0] == rows[1]


def test_parquet_nan_and_null_amounts_are_counted(tmp_path: Path) -> None:
    import polars as pl

    path = tmp_path / "nan.parquet"
    pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "order_date": ["2024-01-05", "2024-01-06", "2024-01-07"],
            "amount": [1.0, float("nan"), None],
        }
    ).write_parquet(path)
    row, stderr = kpis(str(path))
    assert row["revenue"] == 1.0
    assert f"{path}: column 'amount' (amount): 2 rows have no value" in stderr
    assert "the first on row 2)" in stderr


def test_an_order_total_written_on_its_first_line_only_is_no_loss(tmp_path: Path) -> None:
    from tests.cli.test_real_exports import SHOPIFY

    path = tmp_path / "orders_export_1.csv"
    path.write_text(SHOPIFY)  # Total on each order's first line only
    _, stderr = kpis(str(path))
    assert "no value" not in stderr
    path.write_text(SHOPIFY.replace(",10.00,2024-02-15", ",,2024-02-15"))  # #1006's Total
    _, stderr = kpis(str(path))
    assert "column 'Total' (amount): 1 row has no value" in stderr
    assert "the first on line 9)" in stderr
