"""Leaky noisy-OR conditional probability tables (Díez's parameterisation)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bayesleg.inference.network import DEFAULT_MEMORY_LIMIT, DiscreteNetwork, check_table_sizes
from bayesleg.knowledge.modelfile import STATES, ModelSpec, NodeSpec

__all__ = ["MAX_TABLE_BYTES", "discrete_network", "node_table", "noisy_or_table"]

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


def node_table(node: NodeSpec, numbers: Sequence[float] | None = None) -> np.ndarray:
    """Return the CPT of a node of the model file, over ``node.parent_ids``.

    A factor's table is its prior; a condition's or a symptom's is its leaky
    noisy-OR over its terms (a joint term is active only when all its parents
    are present), multiplied by ``1 - q`` for every active preventer of the
    whole node; a preventer of one term multiplies that term's weight by
    ``1 - q`` where it is active.

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
    # In logs, with P(present) from expm1, so that a tiny leak or weight keeps
    # its value instead of rounding away in 1 - (1 - p).
    with np.errstate(divide="ignore"):  # a probability of 1 has log1p(-1) = -inf
        log_absent = np.full(shape, np.log1p(-values[0]))
        terms = node.terms
        # A preventer of one term scales that term's weight by 1 - q where it is on.
        scale: dict[str, np.ndarray] = {}
        log_kept = np.zeros(shape)  # log P(no active preventer of the whole node blocks it)
        for inhibitor, q in zip(node.inhibitors, values[1 + len(terms) :], strict=True):
            state = STATES.index(inhibitor.when)
            on = _indicator(shape, axis[inhibitor.factor], state)
            if inhibitor.term is None:
                log_kept = log_kept + np.where(on, np.log1p(-q), 0.0)
            else:
                kept = np.where(on, 1.0 - q, 1.0)
                scale[inhibitor.term] = scale.get(inhibitor.term, 1.0) * kept
        for (key, _), (members, _), weight in zip(
            node.parents, terms, values[1 : 1 + len(terms)], strict=True
        ):
            active = np.ones(shape, dtype=bool)
            for member in members:
                active &= _indicator(shape, axis[member], 1)
            log_absent = log_absent + np.where(active, np.log1p(-weight * scale.get(key, 1.0)), 0.0)
    produced = -np.expm1(log_absent)
    present = produced * np.exp(log_kept)
    absent = np.exp(log_absent) + produced * -np.expm1(log_kept)
    return np.stack([absent, present])


def _indicator(shape: tuple[int, ...], axis: int, state: int) -> np.ndarray:
    """A boolean array of ``shape``, true where the given axis is in ``state``."""
    index = np.zeros(shape[axis], dtype=bool)
    index[state] = True
    return np.broadcast_to(
        index.reshape((1,) * axis + (2,) + (1,) * (len(shape) - axis - 1)), shape
    )


def discrete_network(spec: ModelSpec) -> DiscreteNetwork:
    """Return the model file's network: each factor's prior, each other node's table.

    Raises
    ------
    NetworkTooLargeError
        If the tables would take more than :data:`MAX_TABLE_BYTES` (checked
        before any is built).
    """
    check_table_sizes(
        {node.id: 2 ** (len(node.parent_ids) + 1) for node in spec.nodes},
        MAX_TABLE_BYTES,
        source=spec.path,
        limit=f"the {MAX_TABLE_BYTES} bytes a model's tables may take",
    )
    return DiscreteNetwork(
        variables=tuple(node.id for node in spec.nodes),
        states={node.id: STATES for node in spec.nodes},
        parents={node.id: node.parent_ids for node in spec.nodes},
        cpts={node.id: node_table(node) for node in spec.nodes},
    )
