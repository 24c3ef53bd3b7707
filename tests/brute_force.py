"""Exact answers by enumerating the full joint distribution, and samples from it.

An independent reference for tests (and the benchmarks' case generator): it
shares no code with the engine, only the
:class:`~bayesleg.inference.network.DiscreteNetwork` it reads.  The joint is built as
one dense array, so keep networks to a few million joint states;
:func:`forward_sample` works on networks of any size.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping

import numpy as np

from bayesleg.inference.network import DiscreteNetwork

__all__ = ["forward_sample", "joint", "log_evidence", "posteriors"]

Evidence = Mapping[str, object]


def joint(network: DiscreteNetwork) -> np.ndarray:
    """Return the joint distribution, one axis per variable in ``network.variables``."""
    letters = string.ascii_letters
    if len(network.variables) > len(letters):
        raise ValueError("too many variables to enumerate")
    axis = {name: letters[i] for i, name in enumerate(network.variables)}
    operands = []
    subscripts = []
    for name in network.variables:
        family = (name, *network.parents[name])
        operands.append(np.asarray(network.cpts[name]))
        subscripts.append("".join(axis[v] for v in family))
    output = "".join(axis[v] for v in network.variables)
    return np.einsum(",".join(subscripts) + "->" + output, *operands)


def _weighted(network: DiscreteNetwork, evidence: Evidence) -> np.ndarray:
    """Return the joint times each observed variable's likelihood."""
    table = joint(network)
    for position, name in enumerate(network.variables):
        if name not in evidence or evidence[name] is None:
            continue
        value = evidence[name]
        states = network.states[name]
        if isinstance(value, Mapping):
            weights = np.array([float(value.get(state, 0.0)) for state in states])
        else:
            weights = np.zeros(len(states))
            weights[states.index(value)] = 1.0
        shape = [1] * table.ndim
        shape[position] = len(states)
        table = table * weights.reshape(shape)
    return table


def posteriors(network: DiscreteNetwork, evidence: Evidence) -> dict[str, np.ndarray]:
    """Return P(X | evidence) for every variable ``X``; raises ZeroDivisionError if P(e) = 0."""
    table = _weighted(network, evidence)
    total = table.sum()
    if total == 0:
        raise ZeroDivisionError("the evidence has probability zero")
    result = {}
    for position, name in enumerate(network.variables):
        others = tuple(i for i in range(table.ndim) if i != position)
        result[name] = table.sum(axis=others) / total
    return result


def log_evidence(network: DiscreteNetwork, evidence: Evidence) -> float:
    """Return log P(evidence) (``-inf`` when it is zero)."""
    total = float(_weighted(network, evidence).sum())
    return math.log(total) if total > 0 else -math.inf


def forward_sample(network: DiscreteNetwork, rng: np.random.Generator) -> dict[str, str]:
    """Draw one joint state of ``network``, variable by variable in topological order."""
    sample: dict[str, str] = {}
    for name in network.variables:
        index = tuple(network.states[p].index(sample[p]) for p in network.parents[name])
        column = np.asarray(network.cpts[name])[(slice(None), *index)]
        sample[name] = network.states[name][rng.choice(len(column), p=column / column.sum())]
    return sample
