"""Leaky noisy-OR conditional probability tables (Díez's parameterisation)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bayesleg.inference.network import DiscreteNetwork
from bayesleg.knowledge.modelfile import STATES, ModelSpec

__all__ = ["discrete_network", "noisy_or_table"]


def noisy_or_table(leak: float, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Return the CPT of a binary leaky noisy-OR node.

    ``weights[i]`` is the probability that parent ``i`` on its own produces
    the child, apart from the leak (Díez's parameterisation), so that
    ``P(absent | x) = (1 - leak) * prod_{i: x_i present} (1 - weights[i])``.

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
    """
    absent = np.full((2,) * len(weights), 1.0 - leak)
    for axis, weight in enumerate(weights):
        factor = np.ones(2)
        factor[1] = 1.0 - weight
        absent = absent * factor.reshape((1,) * axis + (2,) + (1,) * (len(weights) - axis - 1))
    return np.stack([absent, 1.0 - absent])


def discrete_network(spec: ModelSpec) -> DiscreteNetwork:
    """Return the model file's network: each factor's prior, each other node's noisy-OR table."""
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
