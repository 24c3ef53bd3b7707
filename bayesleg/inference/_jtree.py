"""Triangulate a Bayesian network and build its clique tree, in plain Python.

The engine compiles from the :class:`CliqueTree` this module returns.  Nothing
here touches numpy arrays: the tree is a structure of variable indices, so the
choice of elimination order can be tried several ways cheaply before a single
table is allocated.

Method
------
1. Moralise: connect each variable to its parents and the parents to each
   other.
2. Eliminate greedily under three heuristics -- min-fill (ties broken by
   weight), min-weight (ties broken by fill) and weighted min-fill -- and keep
   the order whose cliques hold the fewest table entries in total.
3. The clique formed when variable ``v`` is eliminated is ``{v}`` plus its
   remaining neighbours ``N(v)``; its parent is the clique of the first of
   ``N(v)`` to be eliminated.  That elimination tree is a junction tree.  A
   clique contained in its child is absorbed by the child, which leaves only
   maximal cliques.
4. Optionally merge a clique into its parent while the merged table stays
   small, which trades a little arithmetic for fewer, larger numpy calls.

Every separator between a clique and its parent then consists of variables
eliminated *after* all of the clique's other variables.  Listing each
clique's variables from last-eliminated to first-eliminated therefore puts
its separator first: the message to the parent is a sum over trailing axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CliqueTree", "build_clique_tree"]


@dataclass(frozen=True)
class CliqueTree:
    """A rooted clique tree over variables ``0..n-1``.

    Attributes
    ----------
    cliques : tuple of tuple of int
        Each clique's variables, last-eliminated first, so that the separator
        with the parent is a prefix.
    parent : tuple of int
        Parent clique of each clique; ``-1`` for the root.
    separator_size : tuple of int
        Number of leading variables of each clique shared with its parent
        (0 for the root, and for the root of another connected component,
        which hangs off the main root with an empty separator).
    order : tuple of int
        Clique indices, children before parents (the root last).
    home : tuple of int
        For each variable, the topmost clique containing it; the variable's
        evidence enters there and its marginal is read there.
    family_clique : tuple of int
        For each variable, a clique containing the variable and its parents,
        which receives its conditional probability table.
    """

    cliques: tuple[tuple[int, ...], ...]
    parent: tuple[int, ...]
    separator_size: tuple[int, ...]
    order: tuple[int, ...]
    home: tuple[int, ...]
    family_clique: tuple[int, ...]


def _moral_graph(parents: Sequence[Sequence[int]]) -> list[set[int]]:
    adjacency: list[set[int]] = [set() for _ in parents]
    for child, family in enumerate(parents):
        for i, parent in enumerate(family):
            adjacency[child].add(parent)
            adjacency[parent].add(child)
            for other in family[i + 1 :]:
                if other != parent:
                    adjacency[parent].add(other)
                    adjacency[other].add(parent)
    return adjacency


def _fill_edges(adjacency: list[set[int]], v: int, cards: Sequence[int] | None = None) -> int:
    """Count the edges eliminating ``v`` would add, each weighted by ``cards`` if given."""
    neighbours = list(adjacency[v])
    missing = 0
    for i, a in enumerate(neighbours):
        row = adjacency[a]
        for b in neighbours[i + 1 :]:
            if b not in row:
                missing += 1 if cards is None else cards[a] * cards[b]
    return missing


def _clique_weight(adjacency: list[set[int]], v: int, log_cards: Sequence[float]) -> float:
    return log_cards[v] + sum(log_cards[u] for u in adjacency[v])


def _eliminate(
    moral: list[set[int]], cards: Sequence[int], heuristic: str
) -> tuple[list[int], list[frozenset[int]], int]:
    """Return an elimination order, the clique of each step, and total table size."""
    adjacency = [set(row) for row in moral]
    log_cards = [math.log(c) for c in cards]
    remaining = set(range(len(cards)))

    def score(v: int) -> tuple[float, float]:
        if heuristic == "min_fill":
            return (_fill_edges(adjacency, v), _clique_weight(adjacency, v, log_cards))
        if heuristic == "min_weight":
            return (_clique_weight(adjacency, v, log_cards), _fill_edges(adjacency, v))
        return (_fill_edges(adjacency, v, cards), _clique_weight(adjacency, v, log_cards))

    scores = {v: score(v) for v in remaining}
    order: list[int] = []
    cliques: list[frozenset[int]] = []
    total = 0
    while remaining:
        v = min(remaining, key=lambda u: (scores[u], u))
        neighbours = adjacency[v]
        clique = frozenset(neighbours | {v})
        total += math.prod(cards[u] for u in clique)
        order.append(v)
        cliques.append(clique)
        affected = set(neighbours)
        for a in neighbours:
            adjacency[a].discard(v)
            adjacency[a].update(neighbours - {a})
        if heuristic != "min_weight":
            for a in neighbours:
                affected |= adjacency[a]
        remaining.discard(v)
        del scores[v]
        adjacency[v] = set()
        for u in affected & remaining:
            scores[u] = score(u)
    return order, cliques, total


def build_clique_tree(
    cards: Sequence[int],
    parents: Sequence[Sequence[int]],
    *,
    merge_size: int = 0,
) -> CliqueTree:
    """Triangulate the network and return a rooted clique tree.

    Parameters
    ----------
    cards : sequence of int
        Number of states of each variable.
    parents : sequence of sequence of int
        Parent indices of each variable.
    merge_size : int, default 0
        Merge a clique into its parent while the merged table has at most this
        many entries (0 disables merging).

    Returns
    -------
    CliqueTree
    """
    n = len(cards)
    moral = _moral_graph(parents)
    best = None
    for heuristic in ("min_fill", "min_weight", "weighted_min_fill"):
        candidate = _eliminate(moral, cards, heuristic)
        if best is None or candidate[2] < best[2]:
            best = candidate
    assert best is not None
    order, step_cliques, _ = best
    position = [0] * n
    for step, v in enumerate(order):
        position[v] = step

    # Elimination tree: the parent of step i is the step of its clique's
    # first-eliminated other member.
    step_parent = [-1] * n
    for step, clique in enumerate(step_cliques):
        others = [position[u] for u in clique if position[u] != step]
        if others:
            step_parent[step] = min(others)

    # A step whose parent's clique it contains absorbs that parent.  Groups of
    # absorbed steps are chains up the tree; `owner` maps a step to the bottom
    # step whose clique stands for its group.
    owner = list(range(n))
    for step in range(n):
        up = step_parent[step]
        if up >= 0 and len(step_cliques[step]) - 1 == len(step_cliques[up]):
            owner[up] = owner[step]

    members: dict[int, set[int]] = {}
    top: dict[int, int] = {}
    for step in range(n):
        group = owner[step]
        members.setdefault(group, set()).update(step_cliques[group])
        top[group] = step  # steps ascend, so the last one seen is the topmost

    group_parent: dict[int, int] = {}
    for group, step in top.items():
        up = step_parent[step]
        group_parent[group] = owner[up] if up >= 0 else -1

    if merge_size > 0:
        merged_into = _merge_small(group_parent, members, top, cards, merge_size)
        owner = [_surviving(group, merged_into) for group in owner]

    # Several connected components: hang the other roots off the last one.
    roots = sorted((top[g], g) for g, p in group_parent.items() if p < 0)
    main_root = roots[-1][1]
    for _, group in roots[:-1]:
        group_parent[group] = main_root

    groups = sorted(group_parent, key=lambda g: (top[g], g))
    index = {group: i for i, group in enumerate(groups)}
    cliques = []
    separator_size = []
    parent = []
    for group in groups:
        up = group_parent[group]
        variables = sorted(members[group], key=lambda u: -position[u])
        shared = members[group] & members[up] if up >= 0 else set()
        assert variables[: len(shared)] == sorted(shared, key=lambda u: -position[u])
        cliques.append(tuple(variables))
        separator_size.append(len(shared))
        parent.append(index[up] if up >= 0 else -1)

    home = tuple(index[owner[position[v]]] for v in range(n))
    family_clique = tuple(
        index[owner[min(position[u] for u in (v, *parents[v]))]] for v in range(n)
    )
    return CliqueTree(
        cliques=tuple(cliques),
        parent=tuple(parent),
        separator_size=tuple(separator_size),
        order=tuple(range(len(groups))),
        home=home,
        family_clique=family_clique,
    )


def _merge_small(
    group_parent: dict[int, int],
    members: dict[int, set[int]],
    top: dict[int, int],
    cards: Sequence[int],
    merge_size: int,
) -> dict[int, int]:
    """Merge groups into their parents, bottom-up, while the union stays small.

    Updates ``group_parent``, ``members`` and ``top`` in place and returns the
    group each merged group went into.
    """
    children: dict[int, list[int]] = {g: [] for g in group_parent}
    for g, p in group_parent.items():
        if p >= 0:
            children[p].append(g)
    merged_into: dict[int, int] = {}
    for group in sorted(group_parent, key=lambda g: top[g]):
        up = group_parent[group]
        if up < 0:
            continue
        union = members[group] | members[up]
        if math.prod(cards[u] for u in union) > merge_size:
            continue
        # The parent absorbs this group: it keeps its own parent and top step,
        # and adopts this group's children.
        members[up] = union
        for child in children[group]:
            group_parent[child] = up
            children[up].append(child)
        children[up].remove(group)
        del group_parent[group], members[group], children[group], top[group]
        merged_into[group] = up
    return merged_into


def _surviving(group: int, merged_into: dict[int, int]) -> int:
    while group in merged_into:
        group = merged_into[group]
    return group
