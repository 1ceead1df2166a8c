"""retcalc: period-based retention, churn, cohorts, CLV and returns from order exports."""

__version__ = "0.1.0"
