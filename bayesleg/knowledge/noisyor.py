"""Leaky noisy-OR conditional probability tables (Díez's parameterisation)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bayesleg.inference.network import DEFAULT_MEMORY_LIMIT, DiscreteNetwork, check_table_sizes
from bayesleg.knowledge.modelfile import STATES, ModelSpec

__all__ = ["MAX_TABLE_BYTES", "discrete_network", "noisy_or_table"]

#: Most bytes a model's tables may take in all: 128 MiB, an eighth of the engine's
#: default memory limit, since loading and compiling hold a few copies of each.
MAX_TABLE_BYTES = DEFAULT_MEMORY_LIMIT // 8


def noisy_or_table(leak: float, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Return the CPT of a binary leaky noisy-OR node.

    ``weights[i]`` is the probability that parent ``i`` on its own produces
    the child, apart from the leak (Díez's parameterisation), so that
    ``P(absent | x) = (1 - leak) * prod_{i: x_i present} (1 - weights[i])``.

    Both rows come from the log of that product, a sum of ``log1p(-w)``:
    ``P(absent) = exp(s)`` and ``P(present) = -expm1(s)``, so a tiny leak or
    weight keeps its value instead of vanishing in ``1 - (1 - p)``.

    Parameters
    ----------
    leak : float
        P(child present | no parent present).
    weights : sequence of float or numpy.ndarray
        One link probability per parent, in axis order.

    Returns
    -------
    numpy.ndarray
        Shape ``(2, 2, ..., 2)``: axis 0 the child (absent, present), then one
        axis per parent (absent, present).

    Examples
    --------
    >>> noisy_or_table(0.1, [0.5]).round(3).tolist()
    [[0.9, 0.45], [0.1, 0.55]]
    >>> float(noisy_or_table(1e-17, [0.0])[1, 0])
    1e-17
    """
    k = len(weights)
    with np.errstate(divide="ignore"):  # a probability of 1 has log1p(-1) = -inf
        log_absent = np.full((2,) * k, np.log1p(-leak))
        for axis, weight in enumerate(weights):
            step = np.array([0.0, np.log1p(-weight)])
            log_absent += step.reshape((1,) * axis + (2,) + (1,) * (k - axis - 1))
    table = np.empty((2, *log_absent.shape))
    absent, present = table[0, ...], table[1, ...]  # views, also when there are no parents
    np.exp(log_absent, out=absent)
    np.expm1(log_absent, out=present)
    np.negative(present, out=present)
    return table


def discrete_network(spec: ModelSpec) -> DiscreteNetwork:
    """Return the model file's network: each factor's prior, each other node's noisy-OR table.

    Raises
    ------
    NetworkTooLargeError
        If the tables would take more than :data:`MAX_TABLE_BYTES` (checked
        before any is built).
    """
    check_table_sizes(
        {node.id: 2 ** (len(node.parents) + 1) for node in spec.nodes},
        MAX_TABLE_BYTES,
        source=spec.path,
        limit=f"the {MAX_TABLE_BYTES} bytes a model's tables may take",
    )
    tables = {}
    for node in spec.nodes:
        if node.prior is not None:  # a factor
            tables[node.id] = np.array([1.0 - node.prior.p, node.prior.p])
        elif node.leak is not None:  # a condition or a symptom
            tables[node.id] = noisy_or_table(node.leak.p, [w.p for _, w in node.parents])
    return DiscreteNetwork(
        variables=tuple(node.id for node in spec.nodes),
        states={node.id: STATES for node in spec.nodes},
        parents={node.id: tuple(parent for parent, _ in node.parents) for node in spec.nodes},
        cpts=tables,
    )
