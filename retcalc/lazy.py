"""Modules imported when first used.

SciPy takes about half a second to import and only the CLV models use it; every
command would pay for it at start-up if the model modules imported it at the top.
Polars is imported the same way by the modules that ``retcalc --help`` and the
option declarations need (periods, output formats, the runner), so that help and
``crr`` start without it::

    if TYPE_CHECKING:
        import polars as pl
    else:
        pl = LazyModule("polars")
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name``, which is imported at the first attribute read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)
