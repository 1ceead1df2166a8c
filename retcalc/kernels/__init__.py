"""How retcalc computes fast, apart from what it computes.

The metric modules (:mod:`retcalc.metrics`) read as their definitions; the speed
tricks they use live here, each behind a function whose docstring states its result
in plain terms (what a slower, obvious computation would give):

- :mod:`~retcalc.kernels.keys`: integer keys for customer and order ids;
- :mod:`~retcalc.kernels.words`: a key and a day (or period) packed in one sort word,
  and sums over runs of sorted rows;
- :mod:`~retcalc.kernels.parts`: group-bys done in parts, and the sizes of parts,
  slices and batches.

Measured reasons for each live in ``bench/README.md``.
"""
