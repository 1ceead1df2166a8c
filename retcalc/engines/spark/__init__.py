"""``--engine spark``: the heavy, row-proportional work on Spark, the metrics on the driver.

Spark reads the input, parses every value and classifies and sums the rows
with retcalc's own Polars code run per Arrow batch (:mod:`.batches`); the
driver collects the small reduced frame and runs the same metric functions as
the Polars engine. See :mod:`.load` for the steps and :mod:`.session` for
where the job runs. Importing this package does not import pyspark.
"""
