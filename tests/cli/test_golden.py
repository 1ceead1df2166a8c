"""Every command's JSON on the shipped sample is byte-identical to what retcalc printed
before the refactoring of issue 28 (b30be83: before the Python API, the registry and
the readers' one module of checks).

tests/data/golden/sha256.txt holds, per command line, the SHA-256 of its ``-f json``
output at that commit. A change of definition that is meant must update the file
(and say so in its commit); anything else that changes a figure is a bug.
"""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

import pytest

from tests.cli.test_cli_contract import invoke, ok

ROOT = Path(__file__).parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden" / "sha256.txt"
CASES = [line.split("  ", 1) for line in GOLDEN.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(("digest", "command"), CASES, ids=[c for _, c in CASES])
def test_output_is_unchanged(digest: str, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = ok(invoke([*shlex.split(command), "-f", "json"]))
    got = hashlib.sha256(result.stdout.encode("utf-8")).hexdigest()
    assert got == digest, f"retcalc {command} -f json prints other figures than before"
