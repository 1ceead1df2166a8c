"""docs/inputs.md states the one table of row meanings: it must say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from retcalc.meanings import BUILT_IN, DESCRIPTIONS, LAYOUT_WORDS, PURCHASE

DOC = (Path(__file__).resolve().parents[1] / "docs" / "inputs.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return DOC.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_meanings_table_lists_every_meaning_with_its_built_in_words() -> None:
    rows = {}
    for line in _section("What a row means").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    assert set(rows) == set(DESCRIPTIONS)
    for meaning, (_, purchase, what, words) in rows.items():
        assert purchase == ("yes" if meaning in PURCHASE else "no"), meaning
        assert what == DESCRIPTIONS[meaning]
        listed = set(re.findall(r"`([^`]+)`", words))
        assert listed == {w for w, m in BUILT_IN.items() if m == meaning}, meaning


def test_the_layouts_words_are_listed() -> None:
    section = _section("What a row means")
    for name, words in LAYOUT_WORDS.items():
        line = next(x for x in section.splitlines() if x.startswith(f"| {name} |"))
        for word, meaning in words.items():
            assert f"`{word}` → `{meaning}`" in line
