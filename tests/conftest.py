"""What every test shares.

Typer's ``CliRunner.invoke`` builds the Click command of the whole app (every command's
parameters, read from the signatures) on each call, which takes longer than most runs on
the small test inputs. A process running ``retcalc`` builds it once; so does the
suite, once per app, here. The app is not changed after it is imported, so the command
built is the one each call would have built.
"""

from __future__ import annotations

import functools

import pytest
import typer.testing

typer.testing._get_command = functools.cache(typer.testing._get_command)  # type: ignore[attr-defined]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of an ``xdist_group`` first, in their order. pytest-xdist hands out the
    groups largest first and then single tests in the order collected: the Spark
    cluster's group is one long test, which collected last would start when the other
    worker has nothing left to run."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)
