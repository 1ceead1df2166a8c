"""Start-up cost: help and the formula command import none of the heavy libraries, and\nthe commands do not import SciPy until a CLV model needs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "orders.csv"


def test_the_app_imports_without_scipy() -> None:
    code = "import sys, retcalc.cli.app; print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_scipy_is_imported_when_a_model_is_fitted() -> None:
    code = (
        "import sys\n"
        "from retcalc.metrics.clv import bgnbd\n"
        "assert 'scipy.special' not in sys.modules\n"
        "print(bgnbd.special.gammaln(1.0))\n"
        "assert 'scipy.special' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "0.0"


#: What help and a formula command must not import: each costs from 0.1 s to seconds.
HEAVY = ("polars", "numpy", "scipy", "pyarrow", "matplotlib", "xlsxwriter", "pyspark", "yaml")


def _imported_after(*commands: list[str]) -> list[str]:
    """The heavy packages in ``sys.modules`` after running ``commands`` in one fresh
    interpreter, through the app as the console script runs it."""
    code = (
        "import sys\n"
        "from retcalc.cli.app import app\n"
        f"for args in {list(commands)!r}:\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, (args, exc.code)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return eval(done.stdout.strip().splitlines()[-1])


def test_help_imports_no_polars_numpy_or_scipy() -> None:
    from retcalc.cli.app import app

    names = [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]
    assert len(names) >= 12
    calc = [["calc", "--help"], ["calc", "churn", "--help"], ["calc", "clv", "--help"]]
    assert _imported_after(["--help"], *([name, "--help"] for name in names), *calc) == []


def test_a_data_command_does_import_polars() -> None:
    """The check above can see an import: a command that reads data shows Polars."""
    assert "polars" in _imported_after(["retention", str(SAMPLE), "-f", "json"])
