"""Rewrite leaky noisy-OR tables as chains of small OR gates, exactly.

A binary variable ``Y`` with binary parents ``X1..Xk`` is a leaky noisy-OR
when (state 0 being "absent")::

    P(Y = absent | x) = (1 - leak) * prod over present parents i of r_i

Its table has ``2 ** (k + 1)`` entries, and moralising it joins all ``k``
parents, so a few such nodes sharing parents make large cliques.  The
sequential ("temporal") decomposition of Heckerman and Breese replaces it by
hidden binary variables ``Z1..Z(k-1)`` and ``Y``::

    P(Z1 = absent | X1)            = (1 - leak) * r_1 ** X1
    P(Zj = absent | Z(j-1), Xj)    = [Z(j-1) absent] * r_j ** Xj,   j = 2..k
    Y = Zk

``Zj`` is "the leak or one of the first ``j`` parents has produced ``Y``".
Summing out the ``Z`` variables gives back the original table, so every
marginal of the original variables is unchanged; each new table has at most
three variables.  Every chain takes its parents in one global order, which
keeps the chains of nodes with shared parents aligned.  The order decides how
large the cliques of the chained network are (on the leg model, from about
6,000 to over 10,000 table entries), so it is chosen by a short local search:
starting from the topological order, move one parent to another place and
keep the move when the min-fill elimination of the chained structure forms
smaller cliques (:func:`bayesleg.inference._jtree.min_fill_cost`).  The search
is seeded and runs a fixed number of steps, so a network always compiles to
the same tree.

No entry is computed as ``1 - (1 - p)``, which would turn a tiny probability
into zero: ``Z1``'s table is copied from the original's, and each ``1 - r_j``
is ``-expm1(log r_j)``, with ``log r_j`` read from whichever row of the
original table holds it precisely.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Collection, Mapping

import numpy as np

from bayesleg.inference._jtree import min_fill_cost
from bayesleg.inference.network import DiscreteNetwork

__all__ = ["chain_noisy_ors", "chain_order", "noisy_or_weights"]

#: Tables must match their noisy-OR reconstruction this closely.
_TOLERANCE = 1e-12
#: Nodes with fewer parents gain nothing from a chain.
_MIN_PARENTS = 3
#: Candidate parent orders the search measures, and its seed.
_SEARCH_STEPS = 12
_SEARCH_SEED = 0
#: Networks whose chains have more variables keep the topological order, as do
#: those whose first candidate forms cliques of more entries: the search would
#: take long, and such a network is too large to compile anyway.
_SEARCH_MAX_VARIABLES = 2000
_SEARCH_MAX_ENTRIES = 1 << 32


def noisy_or_weights(table: np.ndarray) -> tuple[float, np.ndarray] | None:
    """Return ``(1 - leak, r)`` if ``table`` is a leaky noisy-OR, else None.

    Parameters
    ----------
    table : numpy.ndarray
        A CPT of shape ``(2, 2, ..., 2)``: axis 0 the child, then its parents.

    Returns
    -------
    tuple of float and numpy.ndarray, or None
        ``P(absent | no parent present)`` and, per parent, the factor ``r_i``
        its presence multiplies that by.
    """
    k = table.ndim - 1
    if table.shape != (2,) * (k + 1):
        return None
    absent = table[0]
    base = float(absent[(0,) * k])
    if base <= 0.0:
        return None
    ratios = np.array([absent[tuple(int(j == i) for j in range(k))] / base for i in range(k)])
    if np.any(ratios < 0.0) or np.any(ratios > 1.0):
        return None
    rebuilt = np.full((2,) * k, base)
    for i, ratio in enumerate(ratios):
        rebuilt = rebuilt * np.array([1.0, ratio]).reshape((1,) * i + (2,) + (1,) * (k - i - 1))
    if not np.allclose(rebuilt, absent, atol=_TOLERANCE, rtol=0.0):
        return None
    return base, ratios


def _complements(table: np.ndarray) -> np.ndarray:
    """Return ``1 - r_i`` for each parent of a noisy-OR ``table``, without cancellation.

    ``log r_i = log P(absent | parent i alone) - log P(absent | none)``; each
    log comes from the absent entry when that is at most one half, else from
    ``log1p(-present)``, whose argument is then the small, precise one.
    """
    k = table.ndim - 1

    def log_absent(index: tuple[int, ...]) -> float:
        absent, present = float(table[(0, *index)]), float(table[(1, *index)])
        if absent > 0.5:
            return math.log1p(-present)
        return math.log(absent) if absent > 0.0 else -math.inf

    none = log_absent((0,) * k)
    logs = np.array([log_absent(tuple(int(j == i) for j in range(k))) - none for i in range(k)])
    return -np.expm1(np.minimum(logs, 0.0))


def _chained_structure(
    network: DiscreteNetwork, nodes: Collection[str], rank: Mapping[str, int]
) -> tuple[list[int], list[list[int]]]:
    """Return the cards and parents (by index) of the network with ``nodes`` chained."""
    index: dict[str, int] = {}
    cards: list[int] = []
    parents: list[list[int]] = []
    for name in network.variables:
        given = network.parents[name]
        if name not in nodes:
            index[name] = len(cards)
            cards.append(network.cardinality(name))
            parents.append([index[p] for p in given])
            continue
        previous = None
        for parent in sorted(given, key=rank.__getitem__):
            cards.append(2)
            parents.append([index[parent]] if previous is None else [previous, index[parent]])
            previous = len(cards) - 1
        index[name] = len(cards) - 1
    return cards, parents


def chain_order(network: DiscreteNetwork, nodes: Collection[str]) -> dict[str, int]:
    """Return the rank of every variable in the order chains take their parents.

    A seeded local search of ``_SEARCH_STEPS`` candidates from the
    topological order: each moves one parent of a chained node to another
    place of the best order so far, and is kept if the chained structure's
    min-fill cliques hold fewer table entries.  Large networks keep the
    topological order (see ``_SEARCH_MAX_VARIABLES``).
    """
    position = {name: i for i, name in enumerate(network.variables)}
    shared = sorted({p for name in nodes for p in network.parents[name]}, key=position.__getitem__)

    def ranked(order: list[str]) -> dict[str, int]:
        rank = dict(position)
        rank.update((name, -len(order) + i) for i, name in enumerate(order))
        return rank

    best = list(shared)
    cards, parents = _chained_structure(network, nodes, ranked(best))
    if len(cards) > _SEARCH_MAX_VARIABLES:
        return ranked(best)
    best_cost = min_fill_cost(cards, parents, limit=_SEARCH_MAX_ENTRIES)
    if best_cost > _SEARCH_MAX_ENTRIES:
        return ranked(best)
    rng = random.Random(_SEARCH_SEED)
    for _ in range(_SEARCH_STEPS - 1):
        candidate = list(best)
        moved = candidate.pop(rng.randrange(len(candidate)))
        candidate.insert(rng.randrange(len(candidate) + 1), moved)
        # A candidate is dropped as soon as its cliques outgrow the best's.
        cost = min_fill_cost(
            *_chained_structure(network, nodes, ranked(candidate)), limit=best_cost
        )
        if cost < best_cost:
            best, best_cost = candidate, cost
    return ranked(best)


def chain_noisy_ors(
    network: DiscreteNetwork, rank: Mapping[str, int] | None = None
) -> tuple[DiscreteNetwork, int] | None:
    """Return the network with its noisy-OR nodes chained, and how many were.

    Returns None if no node of three or more parents is a leaky noisy-OR.
    Hidden variables are named ``"{child}#{j}"`` (with more ``#`` if that
    name is taken) and listed just before their child.  Each chain takes its
    parents in increasing ``rank`` (by default, that of :func:`chain_order`).
    """
    found = {
        name: weights
        for name in network.variables
        if len(network.parents[name]) >= _MIN_PARENTS
        and (weights := noisy_or_weights(network.cpts[name])) is not None
    }
    if not found:
        return None
    if rank is None:
        rank = chain_order(network, found)
    taken = set(network.variables)
    variables: list[str] = []
    states: dict[str, tuple[str, ...]] = {}
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    chained = 0
    for name in network.variables:
        given = network.parents[name]
        if name not in found:
            variables.append(name)
            states[name] = network.states[name]
            parents[name] = given
            cpts[name] = network.cpts[name]
            continue
        chained += 1
        _, ratios = found[name]
        cpt = network.cpts[name]
        complements = _complements(cpt)
        order = sorted(range(len(given)), key=lambda i: rank[given[i]])
        previous = None
        for step, i in enumerate(order):
            if step == len(order) - 1:
                hidden = name
            else:
                hidden = next(
                    candidate
                    for candidate in (f"{name}{'#' * n}{step + 1}" for n in itertools.count(1))
                    if candidate not in taken
                )
                taken.add(hidden)
            ratio = ratios[i]
            if previous is None:
                # The original's columns with no parent present, and with parent i alone.
                none: tuple[slice | int, ...] = (slice(None), *(0,) * len(given))
                alone: tuple[slice | int, ...] = (
                    slice(None),
                    *(int(j == i) for j in range(len(given))),
                )
                table = np.stack([cpt[none], cpt[alone]], axis=1)
                family: tuple[str, ...] = (given[i],)
            else:
                table = np.zeros((2, 2, 2))
                table[0, 0] = [1.0, ratio]  # previous absent: this parent may produce Y
                table[1, 0] = [0.0, complements[i]]
                table[1, 1] = 1.0  # previous present: Y is produced already
                family = (previous, given[i])
            variables.append(hidden)
            states[hidden] = network.states[name]
            parents[hidden] = family
            cpts[hidden] = table
            previous = hidden
    return DiscreteNetwork(
        variables=tuple(variables), states=states, parents=parents, cpts=cpts
    ), chained
