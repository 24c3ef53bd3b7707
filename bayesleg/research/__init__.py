"""Research tools.

Evaluation on vignettes, sensitivity analysis, learning from case data,
simulation, export to other tools' formats, Dask scale-out and plots.
"""
