"""Leaky noisy-OR conditional probability tables (Díez's parameterisation)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bayesleg.inference.network import DiscreteNetwork
from bayesleg.knowledge.modelfile import STATES, ModelSpec, NodeSpec

__all__ = ["discrete_network", "node_table", "noisy_or_table"]


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


def node_table(node: NodeSpec, numbers: Sequence[float] | None = None) -> np.ndarray:
    """Return the CPT of a node of the model file, over ``node.parent_ids``.

    A factor's table is its prior; a condition's or a symptom's is its leaky
    noisy-OR over its terms (a joint term is active only when all its parents
    are present), multiplied by ``1 - q`` for every active preventer.

    Parameters
    ----------
    node : NodeSpec
    numbers : sequence of float, optional
        Values to use instead of the node's own, in ``node.parameters()``
        order (for sensitivity analysis); by default the file's values.

    Returns
    -------
    numpy.ndarray
        Shape ``(2, 2, ..., 2)``: axis 0 the node, then one axis per parent.

    Examples
    --------
    A leak of 0.1, a joint term ``a+b`` of weight 0.5, and ``a`` absent
    preventing the child with probability 0.5 (axes: child, a, b):

    >>> from bayesleg.knowledge.modelfile import Inhibitor, NodeSpec, Parameter, Source
    >>> number = lambda p: Parameter(p, "fifty-fifty", Source("x.txt", "x"))
    >>> node = NodeSpec("c", "condition", "C", leak=number(0.1), parents=(("a+b", number(0.5)),),
    ...                 inhibitors=(Inhibitor("a", "absent", number(0.5)),))
    >>> node_table(node)[1].round(3).tolist()
    [[0.05, 0.05], [0.1, 0.55]]
    """
    values = [value.p for _, value in node.parameters()] if numbers is None else list(numbers)
    if node.kind == "factor":
        return np.array([1.0 - values[0], values[0]])
    parents = node.parent_ids
    axis = {parent: i for i, parent in enumerate(parents)}
    shape = (2,) * len(parents)
    absent = np.full(shape, 1.0 - values[0])
    terms = node.terms
    for (members, _), weight in zip(terms, values[1 : 1 + len(terms)], strict=True):
        active = np.ones(shape, dtype=bool)
        for member in members:
            active &= _indicator(shape, axis[member], 1)
        absent = absent * np.where(active, 1.0 - weight, 1.0)
    present = 1.0 - absent
    for inhibitor, q in zip(node.inhibitors, values[1 + len(terms) :], strict=True):
        state = STATES.index(inhibitor.when)
        present = present * np.where(_indicator(shape, axis[inhibitor.factor], state), 1.0 - q, 1.0)
    return np.stack([1.0 - present, present])


def _indicator(shape: tuple[int, ...], axis: int, state: int) -> np.ndarray:
    """A boolean array of ``shape``, true where the given axis is in ``state``."""
    index = np.zeros(shape[axis], dtype=bool)
    index[state] = True
    return np.broadcast_to(
        index.reshape((1,) * axis + (2,) + (1,) * (len(shape) - axis - 1)), shape
    )


def discrete_network(spec: ModelSpec) -> DiscreteNetwork:
    """Return the model file's network: each factor's prior, each other node's table."""
    return DiscreteNetwork(
        variables=tuple(node.id for node in spec.nodes),
        states={node.id: STATES for node in spec.nodes},
        parents={node.id: node.parent_ids for node in spec.nodes},
        cpts={node.id: node_table(node) for node in spec.nodes},
    )
