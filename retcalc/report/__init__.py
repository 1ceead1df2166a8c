"""Reports: several metric tables, their definitions and charts in one file.

- ``build``: run the metrics each section needs (``build_report``)
- ``model``: what a report holds (sections, tables, charts, left-out sections)
- ``output``: write it as HTML, Markdown (charts beside it), XLSX or JSON, atomically
- ``spec``: YAML report specs for cron (``retcalc report --spec``)
- ``alerts``: ``fail_if`` conditions checked after the report is written
"""

#: The sections of a report, in their order (``--section``); ``build`` makes each one.
#: Here rather than in ``build`` so that ``retcalc report --help`` names them without Polars.
SECTIONS: tuple[str, ...] = ("kpis", "retention", "revenue", "cohorts", "clv", "returns")
