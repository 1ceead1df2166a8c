"""The fits' weighted sums (optimum.dot): one order of summation whatever BLAS's threads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retcalc.metrics.clv import optimum


@pytest.mark.parametrize("n", [5, optimum.THREADED_DOT, optimum.THREADED_DOT + 1, 100_001])
def test_dot_is_the_sum_of_products(n: int) -> None:
    rng = np.random.default_rng(n)
    a, b = rng.normal(size=n), rng.gamma(2.0, size=n)
    exact = math.fsum((a * b).tolist())  # each product is rounded; close enough here
    assert optimum.dot(a, b) == pytest.approx(exact, rel=1e-12, abs=1e-9)


def test_dot_does_not_depend_on_blas_threads() -> None:
    threads = optimum._blas_threads()
    if threads is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS this can find")
    get, set_ = threads
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=250_001), rng.normal(size=250_001)
    before = get()
    try:
        set_(1)
        one = optimum.dot(a, b)
        assert get() == 1  # the count is put back
        set_(4)
        four = optimum.dot(a, b)
    finally:
        set_(before)
    assert one == four
    # the halves, each on one thread, added: what OpenBLAS gives on two threads
    set_(1)
    try:
        halves = float(a[:125_001] @ b[:125_001]) + float(a[125_001:] @ b[125_001:])
    finally:
        set_(before)
    assert one == halves


def test_short_dot_is_numpys() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=optimum.THREADED_DOT), rng.normal(size=optimum.THREADED_DOT)
    assert optimum.dot(a, b) == float(a @ b)
