"""retcalc: period-based retention, churn, cohorts, CLV and returns from order exports.

The Python API (SPEC §7) is re-exported here and imported on first use, so that
``import retcalc`` stays cheap::

    import retcalc
    table = retcalc.retention("orders.csv", period="quarter")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> module that defines it.
_EXPORTS = {
    "RetcalcError": "retcalc.errors",
    "InputError": "retcalc.errors",
    "UsageError": "retcalc.errors",
    "RetcalcWarning": "retcalc.errors",
    "BgNbdFit": "retcalc.api",
    "Customers": "retcalc.api",
    "ModelParams": "retcalc.metrics.clv",
    "Orders": "retcalc.api",
    "calc": "retcalc.api",
    "churn": "retcalc.api",
    "clv_bgnbd": "retcalc.api",
    "clv_bgnbd_fit": "retcalc.api",
    "clv_formula": "retcalc.api",
    "clv_historical": "retcalc.api",
    "clv_holdout": "retcalc.api",
    "cohorts": "retcalc.api",
    "compare": "retcalc.api",
    "customers": "retcalc.api",
    "diff": "retcalc.api",
    "crr": "retcalc.api",
    "forecast": "retcalc.api",
    "forecast_fit": "retcalc.api",
    "kpis": "retcalc.api",
    "read_customers": "retcalc.api",
    "read_orders": "retcalc.api",
    "retention": "retcalc.api",
    "returns": "retcalc.api",
    "rfm": "retcalc.api",
    "run_manifest": "retcalc.api",
    "SurvivalFit": "retcalc.api",
    "survival": "retcalc.api",
    "survival_fit": "retcalc.api",
}

__all__ = [
    "BgNbdFit",
    "Customers",
    "InputError",
    "ModelParams",
    "Orders",
    "RetcalcError",
    "RetcalcWarning",
    "SurvivalFit",
    "UsageError",
    "calc",
    "churn",
    "clv_bgnbd",
    "clv_bgnbd_fit",
    "clv_formula",
    "clv_historical",
    "clv_holdout",
    "cohorts",
    "crr",
    "customers",
    "diff",
    "forecast",
    "forecast_fit",
    "kpis",
    "read_customers",
    "read_orders",
    "retention",
    "returns",
    "rfm",
    "run_manifest",
    "survival",
    "survival_fit",
]

if TYPE_CHECKING:
    from retcalc.api import (
        BgNbdFit,
        Customers,
        Orders,
        SurvivalFit,
        calc,
        churn,
        clv_bgnbd,
        clv_bgnbd_fit,
        clv_formula,
        clv_historical,
        clv_holdout,
        cohorts,
        crr,
        customers,
        diff,
        forecast,
        forecast_fit,
        kpis,
        read_customers,
        read_orders,
        retention,
        returns,
        rfm,
        run_manifest,
        survival,
        survival_fit,
    )
    from retcalc.errors import InputError, RetcalcError, RetcalcWarning, UsageError
    from retcalc.metrics.clv import ModelParams


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'retcalc' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return [*globals(), *__all__]
