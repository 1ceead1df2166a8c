"""Every command explains itself: ``retcalc CMD --help`` shows its docstring."""

from __future__ import annotations

import inspect
import re

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from retcalc.cli.app import app

COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]
runner = CliRunner()


def one_line(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_the_spec_commands_that_exist_are_registered() -> None:
    assert {"retention", "churn", "crr", "inspect"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_text(name: str) -> None:
    command = get_command(app).commands[name]  # type: ignore[attr-defined]
    assert command.help and command.help.strip(), f"{name} has no docstring"
    result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    first_line = inspect.cleandoc(command.help).splitlines()[0]
    assert one_line(first_line) in one_line(result.stdout)
    assert "Usage" in result.stdout and name in result.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_short_help_flag(name: str) -> None:
    result = runner.invoke(app, [name, "-h"])
    assert result.exit_code == 0
    assert "--help" in result.stdout


def test_top_level_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("retcalc ")


#: Typer's type placeholders: ``<str>``, ``<bool>``, ``<int range>``, ``<list[str]>``,
#: ``<path>``, ``<day|week>`` (a choice), and a required argument as ``{orders}``.
PLACEHOLDER = re.compile(r"<[a-z][a-z_ |\[\],.-]*>|\{[a-z_]+\}")


@pytest.mark.parametrize("args", [[], *([name] for name in COMMANDS)], ids=["retcalc", *COMMANDS])
def test_help_names_values_not_types(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    found = {m.group(0) for m in PLACEHOLDER.finditer(result.stdout)}
    assert not found, f"retcalc {' '.join(args)} --help shows {sorted(found)}"


def test_help_shows_the_metavars_and_choices() -> None:
    """What replaces the placeholders is still there: names for values, choices listed."""
    text = one_line(runner.invoke(app, ["kpis", "--help"], env={"COLUMNS": "250"}).stdout)
    for shown in (
        "--start DATE",
        "--by COLUMN",
        "--loyal-orders N",
        "--customers FILE",
        "--period -p [day|week|month|quarter|year]",
        "[OPTIONS] ORDERS",
        "--status-map RAW=MEANING",
    ):
        assert shown in text
    assert "--strict Refuse" in text  # a flag: nothing between its name and its help
