"""Run manifests (``--manifest``) and ``retcalc diff`` on tiny shops worked by hand.

The shop (activity basis, months, --active-window 1mo: a period's base is who ordered
in the period before; its end, who ordered in it):

OLD: a orders in Jan, Feb, Mar, Apr; b in Jan; c in Feb and Mar. Last order 2024-04-02,
so OLD's data end is 2024-04-03: January to March are complete periods.
  Feb: start {a, b} = 2, end {a, c} = 2, new {c} = 1, retained {a} = 1, churned {b} = 1,
       crr = (2 - 1) / 2 = 0.5.
  Mar: start {a, c} = 2, end {a, c} = 2, retained 2, churned 0, crr = 1.
NEW adds o7, a late order of b on 2024-02-25 (in a complete month), and refunds o5
(a's March order: still a purchase, so no retention figure moves by it):
  Feb: end {a, b, c} = 3, retained {a, b} = 2, churned 0, crr = (3 - 1) / 2 = 1.
  Mar: start {a, b, c} = 3, retained 2, churned {b} = 1, crr = (2 - 0) / 3.
  Jan and Apr are the same in both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from retcalc import __version__, definitions
from retcalc.cli.app import app
from retcalc.io.load import ENGINE_VARIABLE

OLD = """\
order_id,customer_id,order_date,amount,status
o1,a,2024-01-05,10,paid
o2,b,2024-01-10,20,paid
o3,a,2024-02-03,15,paid
o4,c,2024-02-20,30,paid
o5,a,2024-03-04,12,paid
o6,c,2024-03-15,25,paid
o8,a,2024-04-02,9,paid
"""
NEW = """\
order_id,customer_id,order_date,amount,status
o1,a,2024-01-05,10,paid
o2,b,2024-01-10,20,paid
o3,a,2024-02-03,15,paid
o4,c,2024-02-20,30,paid
o5,a,2024-03-04,12,refunded
o6,c,2024-03-15,25,paid
o7,b,2024-02-25,18,paid
o8,a,2024-04-02,9,paid
"""

runner = CliRunner()


def invoke(args: Sequence[str], input: str | None = None) -> Result:
    return runner.invoke(app, [str(a) for a in args], input=input)


def ok(args: Sequence[str], input: str | None = None) -> Result:
    result = invoke(args, input)
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stderr}"
    return result


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    """Retention of OLD and NEW as CSV, each with its manifest beside it."""
    paths = {}
    for name, text in (("old", OLD), ("new", NEW)):
        orders = tmp_path / f"{name}_orders.csv"
        orders.write_text(text)
        out = tmp_path / f"{name}.csv"
        ok(["retention", orders, "-w", "1mo", "-o", out, "--manifest", f"{out}.manifest.json"])
        paths[name], paths[f"{name}_orders"] = out, orders
    return paths


def cells(result: Result) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


# --------------------------------------------------------------------------- manifest


@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_the_manifest_names_the_input_its_hash_and_its_rows(
    tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENGINE_VARIABLE, engine)  # streaming: the batched reader counts
    # OLD's 7 rows, a row without a customer id, one without a date, a blank line (no
    # row) and o2 again (dropped by --dedupe): 10 rows read, 7 used.
    text = OLD + ",,2024-02-01,5,paid\no9,d,,5,paid\n\no2,b,2024-01-10,20,paid\n"
    orders = tmp_path / "orders.csv"
    orders.write_text(text)
    manifest = tmp_path / "run.json"
    result = ok(
        ["retention", orders, "-w", "1mo", "--dedupe", "-f", "json", "--manifest", manifest]
    )
    assert isinstance(json.loads(result.stdout), list)  # the output stays a list of rows
    found = json.loads(manifest.read_text())
    assert found["retcalc_version"] == __version__
    assert found["definitions_version"] == definitions.VERSION
    assert found["command"] == "retention"
    assert found["parameters"]["period"] == "month"
    assert found["parameters"]["active_window"] == "1mo"
    assert found["parameters"]["dedupe"] is True
    (entry,) = found["inputs"]
    data = orders.read_bytes()
    assert entry["files"] == [
        {"path": str(orders), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    ]
    assert entry["rows"] == {
        "read": 10,
        "used": 7,
        "dropped": {"repeated row (--dedupe)": 1, "no order date": 1, "no customer id": 1},
    }
    assert (entry["first_order"], entry["last_order"]) == ("2024-01-05", "2024-04-02")
    assert (found["data_start"], found["data_end"]) == ("2024-01-05", "2024-04-03")


def test_stdin_is_listed_as_dash_with_the_hash_of_what_was_read(tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    ok(["churn", "-", "--as-of", "2024-03-01", "--manifest", manifest], input=OLD)
    found = json.loads(manifest.read_text())
    data = OLD.encode()
    assert found["inputs"][0]["files"] == [
        {"path": "-", "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    ]
    assert found["inputs"][0]["rows"] == {"read": 7, "used": 7, "dropped": {}}
    assert found["data_end"] == "2024-03-01"  # --as-of: the first day not observed
    assert found["parameters"]["as_of"] == "2024-03-01"


def test_the_manifest_is_not_the_output(tmp_path: Path) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text(OLD)
    out = tmp_path / "r.csv"
    result = invoke(["retention", orders, "-o", out, "--manifest", out])
    assert result.exit_code == 2
    assert "--manifest" in result.stderr and "also the --output" in result.stderr
    assert not out.exists()


def test_a_report_holds_its_manifest_or_writes_it_beside(tmp_path: Path) -> None:
    orders = tmp_path / "o.csv"
    orders.write_text(OLD)
    report = tmp_path / "r.json"
    ok(["report", orders, "-o", report, "--section", "retention", "-w", "1mo"])
    found = json.loads(report.read_text())["manifest"]
    assert found["command"] == "report"
    assert found["parameters"]["sections"] == ["retention"]
    assert found["inputs"][0]["files"][0]["sha256"] == hashlib.sha256(OLD.encode()).hexdigest()
    html = tmp_path / "r.html"
    ok(["report", orders, "-o", html, "--section", "retention"])
    beside = json.loads((tmp_path / "r.html.manifest.json").read_text())
    assert beside["inputs"] == found["inputs"]


# ------------------------------------------------------------------------------ diff


def test_diff_names_the_restated_cells_and_the_orders_behind_them(runs: dict[str, Path]) -> None:
    result = ok(
        [
            "diff",
            runs["old"],
            runs["new"],
            "--orders",
            runs["old_orders"],
            runs["new_orders"],
            "-f",
            "json",
        ]
    )
    rows = cells(result)
    counts = {
        (r["period_start"], r["column"]): (r["old"], r["new"], r["delta"])
        for r in rows
        if r["column"]
        in ("customers_start", "new_customers", "customers_end", "retained", "churned")
    }
    assert counts == {
        ("2024-02-01", "customers_end"): (2, 3, 1),
        ("2024-02-01", "retained"): (1, 2, 1),
        ("2024-02-01", "churned"): (1, 0, -1),
        ("2024-03-01", "customers_start"): (2, 3, 1),
        ("2024-03-01", "churned"): (0, 1, 1),
    }
    crr = {r["period_start"]: (r["old"], r["new"]) for r in rows if r["column"] == "crr"}
    assert crr == {"2024-02-01": (0.5, 1.0), "2024-03-01": (1.0, pytest.approx(2 / 3))}
    assert {r["period_start"] for r in rows} == {"2024-02-01", "2024-03-01"}
    assert all(r["restated"] for r in rows)  # February and March had ended in OLD
    # February's figures can move by orders dated in [Jan 1, Mar 1): o7 only; March's by
    # those in [Feb 1, Apr 1): o7 and the refunded o5.
    for r in rows:
        assert r["orders_added"] == "o7"
        assert r["orders_removed"] is None
        assert r["orders_changed"] == (None if r["period_start"] == "2024-02-01" else "o5")
    assert "input orders: content changed" in result.stderr


def test_fail_on_restated_exits_1_and_an_unchanged_run_exits_0(runs: dict[str, Path]) -> None:
    result = invoke(["diff", runs["old"], runs["new"], "--fail-on-restated", "-f", "csv"])
    assert result.exit_code == 1
    assert "restated" in result.stderr
    assert result.stdout.startswith("period_start,column,old,new,delta,restated\n")
    same = ok(["diff", runs["old"], runs["old"], "--fail-on-restated", "-f", "json"])
    assert cells(same) == []
    assert "changed" not in same.stderr


def test_a_period_still_open_in_the_old_run_is_changed_not_restated(tmp_path: Path) -> None:
    # OLD ends on 2024-03-15 (data end 2024-03-16); NEW adds orders of c and b after it:
    # March's figures change, but March was not over in OLD: changed, not restated.
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    base = "customer_id,order_date\na,2024-01-05\nb,2024-01-10\na,2024-02-03\na,2024-03-15\n"
    old.write_text(base)
    new.write_text(base + "c,2024-03-20\nb,2024-03-21\n")
    for name in ("old", "new"):
        src = tmp_path / f"{name}.csv"
        ok(
            [
                "retention",
                src,
                "-w",
                "1mo",
                "-o",
                tmp_path / f"{name}_r.csv",
                "--manifest",
                tmp_path / f"{name}_r.csv.manifest.json",
            ]
        )
    result = ok(
        ["diff", tmp_path / "old_r.csv", tmp_path / "new_r.csv", "--fail-on-restated", "-f", "json"]
    )
    rows = cells(result)
    assert rows and {r["period_start"] for r in rows} == {"2024-03-01"}
    assert not any(r["restated"] for r in rows)
    assert "data_end: 2024-03-16 -> 2024-03-22" in result.stderr


def test_parameter_changes_are_listed(runs: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "w2.csv"
    ok(
        [
            "retention",
            runs["old_orders"],
            "-w",
            "2mo",
            "-o",
            other,
            "--manifest",
            f"{other}.manifest.json",
        ]
    )
    result = ok(["diff", runs["old"], other, "-f", "json"])
    assert 'parameter active_window: "1mo" -> "2mo"' in result.stderr
    assert "input orders" not in result.stderr  # the same file
    assert cells(result)  # a 2-month base moves figures


def test_reports_are_compared_table_by_table(runs: dict[str, Path], tmp_path: Path) -> None:
    reports = []
    for name in ("old", "new"):
        out = tmp_path / f"{name}_report.json"
        ok(["report", runs[f"{name}_orders"], "-o", out, "--section", "retention", "-w", "1mo"])
        reports.append(out)
    result = invoke(["diff", *reports, "--fail-on-restated", "-f", "json"])
    assert result.exit_code == 1
    rows = cells(result)
    assert {r["table"] for r in rows} == {"retention/retention"}
    got = {(r["period_start"], r["column"]): r["delta"] for r in rows if r["column"] == "churned"}
    assert got == {("2024-02-01", "churned"): -1, ("2024-03-01", "churned"): 1}


# ---------------------------------------------------------------------- mix and rate

TIERS_OLD = """\
customer_id,order_date,tier
a1,2024-01-05,A
a2,2024-01-05,A
a3,2024-01-05,A
a4,2024-01-05,A
b1,2024-01-06,B
b2,2024-01-06,B
a1,2024-02-05,A
a2,2024-02-05,A
a3,2024-02-05,A
b1,2024-02-06,B
"""
# NEW: b3 and b4 late January orders, b1's February order gone. February:
#   OLD: A 3/4 (w 4/6), B 1/2 (w 2/6): pooled 4/6.  NEW: A 3/4 (w 4/8), B 0/4 (w 4/8): 3/8.
#   rate effect = 4/6 * 0 + 2/6 * (0 - 1/2) = -1/6
#   mix effect  = (4/8 - 4/6) * 3/4 + (4/8 - 2/6) * 0 = -1/8;   sum -7/24 = 3/8 - 4/6.
TIERS_NEW = TIERS_OLD.replace("b1,2024-02-06,B\n", "") + "b3,2024-01-07,B\nb4,2024-01-08,B\n"


def test_effects_split_the_pooled_rate_into_rate_and_mix(tmp_path: Path) -> None:
    for name, text in (("old", TIERS_OLD), ("new", TIERS_NEW)):
        src = tmp_path / f"{name}.csv"
        src.write_text(text)
        out = tmp_path / f"{name}_r.json"
        ok(
            [
                "retention",
                src,
                "-w",
                "1mo",
                "--by",
                "tier",
                "-o",
                out,
                "--manifest",
                f"{out}.manifest.json",
            ]
        )
    result = ok(
        ["diff", tmp_path / "old_r.json", tmp_path / "new_r.json", "--effects", "-f", "json"]
    )
    rows = {(r["period_start"], r["column"]): r for r in cells(result)}
    row = rows[("2024-02-01", "retention_rate")]
    assert row["old"] == pytest.approx(4 / 6)
    assert row["new"] == pytest.approx(3 / 8)
    assert row["rate_effect"] == pytest.approx(-1 / 6)
    assert row["mix_effect"] == pytest.approx(-1 / 8)
    for r in rows.values():
        assert r["rate_effect"] + r["mix_effect"] == pytest.approx(r["delta"], abs=1e-12)
        assert r["new"] - r["old"] == pytest.approx(r["delta"], abs=1e-12)


def test_the_effects_match_the_shift_share_sums_on_random_groups() -> None:
    import random

    from retcalc.changes import effects

    rng = random.Random(7)

    def groups(n: int) -> dict[tuple[int, str], tuple[int, float | None]]:
        out = {}
        for p in range(3):
            for g in range(n):
                d = rng.randint(0, 20)
                out[(p, f"g{g}")] = (d, rng.random() if d else None)
        return out

    def frame(cells: dict[tuple[int, str], tuple[int, float | None]]) -> pl.DataFrame:
        return pl.DataFrame(
            [
                {"period_start": p, "g": g, "customers_start": d, "retention_rate": r}
                for (p, g), (d, r) in cells.items()
            ]
        )

    old, new = groups(3), groups(4)  # g3 is new
    out = effects(frame(old), frame(new), by=["g"], keys=["g", "period_start"])
    got = {
        r["period_start"]: r
        for r in out.filter(pl.col("column") == "retention_rate").rows(named=True)
    }
    for p in range(3):
        d_old = {g: d for (q, g), (d, _) in old.items() if q == p}
        d_new = {g: d for (q, g), (d, _) in new.items() if q == p}
        r_old = {g: r for (q, g), (_, r) in old.items() if q == p}
        r_new = {g: r for (q, g), (_, r) in new.items() if q == p}
        w_old = {g: d / sum(d_old.values()) for g, d in d_old.items()}
        w_new = {g: d / sum(d_new.values()) for g, d in d_new.items()}
        rate = sum(w_old[g] * (r_new[g] - r_old[g]) for g in w_old if w_old[g] and w_new.get(g))
        mix = sum((w_new[g] - w_old.get(g, 0.0)) * r_new[g] for g in w_new if w_new[g])
        # a group with weight in OLD only: its rate carried over, so mix takes -w_old r_old
        mix += sum(-w_old[g] * r_old[g] for g in w_old if w_old[g] and not w_new.get(g))
        assert got[p]["rate_effect"] == pytest.approx(rate, abs=1e-12)
        assert got[p]["mix_effect"] == pytest.approx(mix, abs=1e-12)
        assert got[p]["rate_effect"] + got[p]["mix_effect"] == got[p]["delta"]


# ------------------------------------------------------------------------- refusals


def test_a_file_without_a_manifest_is_exit_2(tmp_path: Path, runs: dict[str, Path]) -> None:
    stray = tmp_path / "stray.csv"
    stray.write_text("a,b\n1,2\n")
    result = invoke(["diff", stray, runs["new"]])
    assert result.exit_code == 2
    assert "no manifest" in result.stderr and "--manifest" in result.stderr
    fake = tmp_path / "fake.json"
    fake.write_text('{"hello": 1}')
    result = invoke(["diff", runs["old"], runs["new"], "--old-manifest", fake])
    assert result.exit_code == 2
    assert "is not a retcalc manifest" in result.stderr
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    result = invoke(["diff", text, runs["new"]])
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_outputs_of_two_commands_are_exit_2(tmp_path: Path, runs: dict[str, Path]) -> None:
    churn = tmp_path / "churn.csv"
    ok(["churn", runs["new_orders"], "-o", churn, "--manifest", f"{churn}.manifest.json"])
    result = invoke(["diff", runs["old"], churn])
    assert result.exit_code == 2
    assert "retention output" in result.stderr and "churn output" in result.stderr


def test_every_diff_column_has_an_entry_naming_diff(runs: dict[str, Path]) -> None:
    result = ok(
        [
            "diff",
            runs["old"],
            runs["new"],
            "--orders",
            runs["old_orders"],
            runs["new_orders"],
            "-f",
            "json",
        ]
    )
    for name in cells(result)[0]:
        if name != "period_start":  # the key of the compared output
            assert "diff" in definitions.COLUMNS[name].commands, name


@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_rows_of_another_currency_are_counted_as_dropped(
    tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENGINE_VARIABLE, engine)
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,order_date,amount,currency\n1,a,2024-01-05,10,EUR\n"
        "2,b,2024-01-06,10,USD\n3,,2024-01-07,5,EUR\n4,c,,5,EUR\n5,a,2024-02-05,7,EUR\n"
    )
    manifest = tmp_path / "run.json"
    ok(["retention", orders, "--currency", "EUR", "-f", "csv", "--manifest", manifest])
    (entry,) = json.loads(manifest.read_text())["inputs"]
    assert entry["rows"] == {
        "read": 5,
        "used": 2,
        "dropped": {"no order date": 1, "no customer id": 1, "other currency (--currency)": 1},
    }
