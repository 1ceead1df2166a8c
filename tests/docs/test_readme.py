"""The machine-format examples of the README and docs/commands.md are the commands' real output,
and every command is documented."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retcalc.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: The README shows one example per command; docs/commands.md has the others.
COMMANDS_DOC = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```console\n\$ (retcalc [^\n]*)\n(.*?)```", re.DOTALL)
EXAMPLES = [
    (cmd, out)
    for cmd, out in BLOCK.findall(README + COMMANDS_DOC)
    if "--format csv" in cmd and "|" not in cmd
]


def test_readme_has_csv_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example_is_real_output(
    command: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    got_rows = [line.split(",") for line in result.stdout.splitlines()]
    want_rows = [line.split(",") for line in expected.splitlines()]
    assert len(got_rows) == len(want_rows)
    for got, want in zip(got_rows, want_rows, strict=True):
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            if a == b:
                continue
            # Fitted model figures may differ in the last digits between BLAS builds.
            assert float(a) == pytest.approx(float(b), rel=1e-6), (a, b)


def test_every_command_has_help_and_a_readme_section() -> None:
    names = [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]
    assert names
    for name in names:
        assert f"### `retcalc {name}`" in README, name
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0
        assert "Usage" in result.stdout
