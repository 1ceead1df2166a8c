"""Independent reference implementations used to cross-check retcalc's metrics."""
