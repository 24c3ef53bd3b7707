"""The general exact inference engine.

Discrete networks, the file-format readers (BIF, XMLBIF, XDSL, UAI), the
junction tree, propagation, noisy-OR chains, case encoding, and
:class:`~bayesleg.inference.engine.Engine` with
:func:`~bayesleg.inference.engine.compile`.  It works on any discrete Bayesian
network and imports nothing from the rest of bayesleg but
:mod:`bayesleg.errors`.
"""
