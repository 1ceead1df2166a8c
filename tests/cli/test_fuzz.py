"""A seeded mutator over the shipped sample and the real-export fixtures (issue 27).

Each case takes one fixture, applies a few random edits (a deleted or doubled
line, a stray quote or separator, a cell replaced by junk, a cut-off end, a
header in another case...) and runs one command on it twice: by path and on
stdin. Whatever the file, retcalc must end through an exit code it documents
(0, 1 or 2), never a traceback, and print the same data either way. The seeds
are fixed, so a failure reproduces; the number of cases bounds the time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from retcalc.cli.app import app
from tests.cli.test_cli_contract import SHOPIFY, UCI
from tests.cli.test_real_exports import ETSY, GERMAN, SQUARE, STRIPE, WOOCOMMERCE

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "orders.csv"

FIXTURES: dict[str, str] = {
    "orders.csv": "".join(SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)[:60]),
    "orders_export_1.csv": SHOPIFY,
    "Online Retail.csv": UCI,
    "orders-2024.csv": WOOCOMMERCE,
    "unified_payments.csv": STRIPE,
    "items-2024-01-01-2024-03-01.csv": SQUARE,
    "EtsySoldOrders2024.csv": ETSY,
    "german.csv": GERMAN,
}

JUNK = ["", "NaN", "NULL", "-", "9999-99-99", "1e309", "-0", "€12,5", '"', "guest", "0001-01-01"]
STRAYS = ['"', ",", ";", "\t", "\n", "\x00", "é", "\ufeff", "\u200b", " ", "-", "9"]

COMMANDS = [
    ["retention", "-w", "1mo"],
    ["churn", "-w", "1mo"],
    ["kpis", "--period", "month"],
    ["returns", "--period", "month"],
    ["cohorts", "--period", "month"],
    ["clv", "--model", "historical"],
    ["rfm"],
]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def drop_line(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    if len(lines) > 2:
        del lines[rng.randrange(1, len(lines))]
    return "".join(lines)


def double_line(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    i = rng.randrange(len(lines))
    return "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])


def stray(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + rng.choice(STRAYS) + text[i:]


def junk_cell(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    if len(lines) < 2:
        return text
    i = rng.randrange(1, len(lines))
    end = "\n" if lines[i].endswith("\n") else ""
    cells = lines[i].rstrip("\n").split(",")
    cells[rng.randrange(len(cells))] = rng.choice(JUNK)
    lines[i] = ",".join(cells) + end
    return "".join(lines)


def cut(rng: random.Random, text: str) -> str:
    return text[: rng.randrange(len(text) // 2, len(text) + 1)]


def header_case(rng: random.Random, text: str) -> str:
    head, _, rest = text.partition("\n")
    return (head.upper() if rng.random() < 0.5 else head.lower()) + "\n" + rest


MUTATIONS: list[Callable[[random.Random, str], str]] = [
    drop_line,
    double_line,
    stray,
    junk_cell,
    cut,
    header_case,
]

CASES = 40


def mutant(seed: int) -> tuple[str, str, list[str]]:
    rng = random.Random(seed)
    name = rng.choice(sorted(FIXTURES))
    text = FIXTURES[name]
    for _ in range(rng.randint(1, 3)):
        text = rng.choice(MUTATIONS)(rng, text)
    return name, text, rng.choice(COMMANDS)


def settled(result: Result) -> None:
    """Ended through a documented exit code, without a traceback."""
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr[-2000:])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


@pytest.mark.parametrize("seed", range(CASES))
def test_mutated_exports_end_cleanly_and_read_the_same_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.chdir(tmp_path)  # no retcalc.yaml of the developer's
    name, text, command = mutant(seed)
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    runner = CliRunner()
    by_path = runner.invoke(app, [command[0], str(path), *command[1:], "-f", "csv"])
    settled(by_path)
    piped = runner.invoke(
        app, [command[0], "-", *command[1:], "-f", "csv"], input=text.encode("utf-8")
    )
    settled(piped)
    assert piped.exit_code == by_path.exit_code, (by_path.stderr, piped.stderr)
    assert piped.stdout == by_path.stdout
