"""Start-up cost: the commands do not import SciPy until a CLV model needs it."""

from __future__ import annotations

import subprocess
import sys


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
