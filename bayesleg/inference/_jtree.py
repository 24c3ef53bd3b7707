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
   the order whose cliques hold the fewest table entries in total.  Given a
   largest clique size, a network is refused at once if a lower bound on
   its treewidth (the minor-min-width of Gogate and Dechter: the largest
   minimum degree met while contracting a vertex of minimum degree into its
   neighbour of minimum degree) already implies a larger clique; and an
   order is abandoned as soon as it would form one, without scoring the
   variables whose cliques would be too large.
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

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CliqueTooLargeError", "CliqueTree", "build_clique_tree", "min_fill_cost"]

# Slack on sums of logs, so that rounding never skips a clique that fits.
_LOG_SLACK = 1e-6


class CliqueTooLargeError(Exception):
    """Every elimination order (tried) forms a clique over the largest size allowed.

    ``size`` and ``entries`` are the variables and table entries of the
    smallest such clique, ``variables`` some of the variables it involves.
    """

    def __init__(self, variables: frozenset[int], size: int, entries: int) -> None:
        super().__init__(f"a clique of {size} variables and {entries} entries")
        self.variables = variables
        self.size = size
        self.entries = entries


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


def _treewidth_lower_bound(moral: list[set[int]]) -> tuple[int, frozenset[int]]:
    """Return a lower bound on the treewidth, and the vertices of the minor that attains it.

    Repeatedly take a vertex of least degree, note its degree, and contract
    it into its neighbour of least degree (or delete it if it has none).
    Each graph met is a minor of the original, whose treewidth is at least
    that of any minor, and at least the minimum degree of any graph.
    """
    adjacency = [set(row) for row in moral]
    heap = [(len(row), v) for v, row in enumerate(adjacency)]
    heapq.heapify(heap)
    gone = [False] * len(adjacency)
    best, witness = 0, frozenset[int]()
    while heap:
        degree, v = heapq.heappop(heap)
        if gone[v] or degree != len(adjacency[v]):
            continue
        if degree > best:
            best, witness = degree, frozenset(adjacency[v] | {v})
        gone[v] = True
        neighbours = adjacency[v]
        adjacency[v] = set()
        if not neighbours:
            continue
        into = min(neighbours, key=lambda u: (len(adjacency[u]), u))
        for u in neighbours:
            adjacency[u].discard(v)
            if u != into:
                adjacency[u].add(into)
                adjacency[into].add(u)
        for u in neighbours:
            heapq.heappush(heap, (len(adjacency[u]), u))
    return best, witness


def _eliminate(
    moral: list[set[int]], cards: Sequence[int], heuristic: str, max_entries: int | None
) -> tuple[list[int], list[frozenset[int]], int] | CliqueTooLargeError:
    """Return an elimination order, the clique of each step, and total table size.

    The variable eliminated next is the one of least score (ties: least
    index), kept in a heap whose stale entries are skipped.  If a clique
    would have more than ``max_entries`` entries, return the error instead.
    """
    adjacency = [set(row) for row in moral]
    log_cards = [math.log(c) for c in cards]
    log_limit = math.inf if max_entries is None else math.log(max_entries) + _LOG_SLACK
    remaining = set(range(len(cards)))

    def score(v: int) -> tuple[float, float] | None:
        weight = _clique_weight(adjacency, v, log_cards)
        if weight > log_limit:
            return None  # eliminating v now would abandon the order: not worth its fill count
        if heuristic == "min_fill":
            return (_fill_edges(adjacency, v), weight)
        if heuristic == "min_weight":
            return (weight, _fill_edges(adjacency, v))
        return (_fill_edges(adjacency, v, cards), weight)

    heap: list[tuple[tuple[float, float], int, int]] = []
    stamp = [0] * len(cards)

    def push(v: int) -> None:
        stamp[v] += 1
        value = score(v)
        if value is not None:
            heapq.heappush(heap, (value, v, stamp[v]))

    for v in range(len(cards)):
        push(v)
    order: list[int] = []
    cliques: list[frozenset[int]] = []
    total = 0
    while remaining:
        while heap and (heap[0][1] not in remaining or heap[0][2] != stamp[heap[0][1]]):
            heapq.heappop(heap)
        if not heap:  # every remaining variable's clique is too large
            v = min(remaining, key=lambda u: (_clique_weight(adjacency, u, log_cards), u))
        else:
            v = heapq.heappop(heap)[1]
        neighbours = adjacency[v]
        clique = frozenset(neighbours | {v})
        entries = math.prod(cards[u] for u in clique)
        if max_entries is not None and entries > max_entries:
            return CliqueTooLargeError(clique, len(clique), entries)
        total += entries
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
        adjacency[v] = set()
        for u in affected & remaining:
            push(u)
    return order, cliques, total


def _bits(mask: int) -> list[int]:
    """The positions of the set bits of ``mask``, lowest first."""
    positions = []
    while mask:
        low = mask & -mask
        positions.append(low.bit_length() - 1)
        mask ^= low
    return positions


def min_fill_cost(
    cards: Sequence[int], parents: Sequence[Sequence[int]], limit: int | None = None
) -> int:
    """Return the table entries of the cliques the min-fill elimination forms.

    With ``limit``, stop as soon as the entries exceed it and return them so far.

    Eliminates the vertex of least fill, then of least clique entries, then of
    least index -- :func:`build_clique_tree`'s min-fill heuristic, with the
    entries compared exactly rather than as sums of logs -- on adjacency
    bitsets: a quick measure of a structure, for comparing candidate
    structures before building any tree.
    """
    n = len(cards)
    adjacency = [0] * n
    for child, family in enumerate(parents):
        mask = 1 << child
        for u in family:
            mask |= 1 << u
        for u in _bits(mask):
            adjacency[u] |= mask & ~(1 << u)

    def score(v: int) -> tuple[int, int]:
        neighbours = adjacency[v]
        fill = 0
        weight = cards[v]
        rest = neighbours
        while rest:
            low = rest & -rest
            rest ^= low
            u = low.bit_length() - 1
            fill += (neighbours & ~adjacency[u]).bit_count() - 1  # less u itself
            weight *= cards[u]
        return fill // 2, weight  # each missing edge was counted from both ends

    scores = [score(v) for v in range(n)]
    heap = [(*scores[v], v) for v in range(n)]
    heapq.heapify(heap)
    eliminated = 0
    total = 0
    while heap:
        fill, weight, v = heapq.heappop(heap)
        if eliminated >> v & 1 or scores[v] != (fill, weight):
            continue  # eliminated, or rescored since this entry was pushed
        eliminated |= 1 << v
        total += weight
        if limit is not None and total > limit:
            return total
        neighbours = adjacency[v]
        members = _bits(neighbours)
        for u in members:
            adjacency[u] = (adjacency[u] | neighbours) & ~(1 << u) & ~(1 << v)
        adjacency[v] = 0
        # The new edges join neighbours of v: only the neighbours, and the
        # vertices adjacent to two of them, can see their fill change.
        around = 0
        for u in members:
            around |= adjacency[u]
        changed = [
            u for u in _bits(around & ~neighbours) if (adjacency[u] & neighbours).bit_count() >= 2
        ]
        for u in (*members, *changed):
            value = score(u)
            if value != scores[u]:
                scores[u] = value
                heapq.heappush(heap, (*value, u))
    return total


def build_clique_tree(
    cards: Sequence[int],
    parents: Sequence[Sequence[int]],
    *,
    merge_size: int = 0,
    max_entries: int | None = None,
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
    max_entries : int, optional
        Most entries a clique may have; elimination orders forming a larger
        one are abandoned.

    Returns
    -------
    CliqueTree

    Raises
    ------
    CliqueTooLargeError
        If every order tried forms a clique of more than ``max_entries`` entries.
    """
    n = len(cards)
    moral = _moral_graph(parents)
    if max_entries is not None:
        width, witness = _treewidth_lower_bound(moral)
        # Some clique has width + 1 variables: at least the smallest cards' product.
        least = math.prod(sorted(cards)[: width + 1])
        if least > max_entries:
            raise CliqueTooLargeError(witness, width + 1, least)
    best = None
    smallest_failure = None
    for heuristic in ("min_fill", "min_weight", "weighted_min_fill"):
        candidate = _eliminate(moral, cards, heuristic, max_entries)
        if isinstance(candidate, CliqueTooLargeError):
            if smallest_failure is None or candidate.entries < smallest_failure.entries:
                smallest_failure = candidate
        elif best is None or candidate[2] < best[2]:
            best = candidate
    if best is None:
        assert smallest_failure is not None
        raise smallest_failure
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
