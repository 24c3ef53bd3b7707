"""The propagation kernel: batched collect and distribute over a clique tree.

Every clique table is a contiguous array whose first axis is the batch (a
batch of 1 broadcasts over any batch); it is reshaped, at no cost, to
whatever view the next operation needs.  The kernel keeps the number of numpy calls
and of passes over large tables small:

* Each operation views a flat table through a shape precomputed at compile
  time in which runs of neighbouring axes treated alike (all kept, or all
  summed out) are merged into one axis; reshaping costs nothing.
* Sums are products with vectors of ones: BLAS is far faster than numpy's
  reductions over short inner axes.
* Everything a clique receives on a single variable -- evidence, and the
  messages of children whose separator is that variable -- is multiplied
  together first, as one outer product, and enters the table in one pass.
* Leaf cliques of one shape (a separator and one own variable) are handled
  together, with one matrix product for all their messages.
* Beliefs are not normalised; each marginal is divided by its own total.
* Every sum is a product stacked over the batch, and which method sums what
  is fixed at compile time, so a case's answer does not depend on its batch.

See :mod:`bayesleg.inference.engine` for the method.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

import numpy as np

from bayesleg.inference._jtree import CliqueTree

__all__ = [
    "MarginalSteps",
    "Plan",
    "Run",
    "make_plan",
    "make_tables",
    "marginal_steps",
    "marginals",
    "propagate",
]

#: A sum onto a separator or onto variables is one product with a 0/1
#: matrix when that matrix has at most this many entries: one BLAS call then
#: beats several numpy calls, while for larger tables the dense product's
#: extra arithmetic would dominate in large batches.  The choice is fixed at
#: compile time so that a case's arithmetic, and so its answer to the last
#: bit, does not depend on the batch it comes in.
_MATRIX_ENTRIES = 1 << 10

#: The smallest positive double: no positive number is below it.
_TINY = float(np.nextafter(0.0, 1.0))

#: One reduction step: view the table as ``(batch * outer, length, inner)``
#: and sum the middle axis, by a product with ``ones``.
Step = tuple[int, int, int, np.ndarray]

#: A sum of a parent's table onto a child's separator: the parent; a 0/1
#: matrix and the view of the table it multiplies, or None and steps
#: ``(view, ones, ones_first)``, each a product ``ones @ table.reshape(view)``
#: (``ones_first``) or ``table.reshape(view) @ ones``; and the view
#: ``(-1, separator, 1)`` of the sum.
DownSum = tuple[
    int,
    np.ndarray | None,
    tuple[int, ...],
    tuple[tuple[tuple[int, ...], np.ndarray, bool], ...],
    tuple[int, int, int],
]


@dataclass(frozen=True)
class LeafGroup:
    """Leaf cliques with the same separator size and one own variable of the same size."""

    cliques: tuple[int, ...]
    variables: tuple[int, ...]
    separator: int
    states: int
    tables: np.ndarray  # (leaves, separator, states)


@dataclass(frozen=True)
class Plan:
    """Index arithmetic of a clique tree, computed once at compile time.

    Attributes
    ----------
    parent, children : per clique
        Cliques are numbered children before parents, root last.
    several_children, single_children : per clique
        Children whose separator has several variables, and children whose
        separator is one variable.
    single_axis : per clique
        For a child with a one-variable separator, that variable's axis in
        the parent (else -1).
    size, separator, rest, cards : per clique
        Table entries; entries of the separator with the parent (a prefix of
        the clique's axes); ``size // separator``; states of each axis.
    parent_view, message_view, down_steps, down_matrix : per clique
        How to view the *parent's* flat table and this clique's message so
        that they broadcast, and how to sum the parent's table onto the
        separator: by steps, or (for small batches) by one product with a
        0/1 matrix when that matrix is small.
    split_view : per clique
        ``(-1, separator, rest)``.
    normalise : per clique
        Whether the clique rescales its message to sum to one.  Messages are
        rescaled often enough that no product of unscaled factors can
        approach underflow (see :func:`_normalise_flags`).
    axis_view : per clique
        For each axis, ``(-1, before, states, after)``.
    home, home_axis, variable_steps : per variable
        The clique that takes the variable's evidence and gives its
        marginal, the variable's axis there, and the sum onto it.
    home_matrix : per clique
        A 0/1 matrix summing the clique's table onto each variable homed
        there, side by side (None when too large).
    home_column : per variable
        The variable's first column in its home clique's ``home_matrix``.
    leaf_groups, in_group : tuple of LeafGroup; per clique
        Leaves handled together, and whether a clique is one of them.
    ones : mapping of int to numpy.ndarray
        Vectors of ones by length.
    several_steps, single_steps : per clique
        ``(child, parent_view, message_view)`` of each child in
        ``several_children``, and ``(child, single_axis)`` of each in
        ``single_children``.
    consumer_view : per clique
        The view its parent multiplies its message in: ``message_view``, or
        None for a child whose separator is one variable (its message is a
        ``(batch, states)`` vector).
    vector_view : per clique
        For each axis, the view ``(-1, 1, states, 1)`` of a vector on it.
    rest_ones, separator_ones : per clique
        Ones of length ``rest`` and ``separator``.
    down_sum : per clique
        How the distribute pass sums the parent's belief onto the separator
        (see ``DownSum``): by ``down_matrix``, or by ``down_steps``.
    vector_blocks : dict
        Filled as queries come: the view of the outer product of vectors on
        several axes of a clique, by clique and axes.
    """

    parent: tuple[int, ...]
    children: tuple[tuple[int, ...], ...]
    several_children: tuple[tuple[int, ...], ...]
    single_children: tuple[tuple[int, ...], ...]
    single_axis: tuple[int, ...]
    size: tuple[int, ...]
    separator: tuple[int, ...]
    rest: tuple[int, ...]
    cards: tuple[tuple[int, ...], ...]
    parent_view: tuple[tuple[int, ...], ...]
    message_view: tuple[tuple[int, ...], ...]
    down_steps: tuple[tuple[Step, ...], ...]
    down_matrix: tuple[np.ndarray | None, ...]
    split_view: tuple[tuple[int, int, int], ...]
    normalise: tuple[bool, ...]
    axis_view: tuple[tuple[tuple[int, int, int, int], ...], ...]
    home: tuple[int, ...]
    home_axis: tuple[int, ...]
    variable_steps: tuple[tuple[Step, ...], ...]
    home_matrix: tuple[np.ndarray | None, ...]
    home_column: tuple[int, ...]
    leaf_groups: tuple[LeafGroup, ...]
    in_group: tuple[bool, ...]
    ones: Mapping[int, np.ndarray]
    several_steps: tuple[tuple[tuple[int, tuple[int, ...], tuple[int, ...]], ...], ...]
    single_steps: tuple[tuple[tuple[int, int], ...], ...]
    consumer_view: tuple[tuple[int, ...] | None, ...]
    vector_view: tuple[tuple[tuple[int, int, int, int], ...], ...]
    rest_ones: tuple[np.ndarray, ...]
    separator_ones: tuple[np.ndarray, ...]
    down_sum: tuple[DownSum, ...]
    vector_blocks: dict[tuple[int, tuple[int, ...]], tuple[tuple[int, ...], tuple[int, ...]] | None]

    @property
    def root(self) -> int:
        """The root clique."""
        return len(self.parent) - 1


def _blocks(cards: Sequence[int], keep: Sequence[bool]) -> tuple[list[int], list[bool]]:
    """Merge runs of neighbouring axes with the same ``keep`` flag."""
    sizes: list[int] = []
    flags: list[bool] = []
    for card, flag in zip(cards, keep, strict=True):
        if flags and flags[-1] == flag:
            sizes[-1] *= card
        else:
            sizes.append(card)
            flags.append(flag)
    return sizes, flags


def _ones(length: int, ones: dict[int, np.ndarray]) -> np.ndarray:
    if length not in ones:
        ones[length] = np.ones(length)
        ones[length].setflags(write=False)
    return ones[length]


def _steps(
    sizes: Sequence[int], keep: Sequence[bool], ones: dict[int, np.ndarray]
) -> tuple[Step, ...]:
    """Plan the sum of blocks ``sizes`` onto those flagged ``keep``, longest first."""
    sizes = list(sizes)
    keep = list(keep)
    steps = []
    while not all(keep):
        j = max((i for i, k in enumerate(keep) if not k), key=lambda i: sizes[i])
        steps.append(
            (math.prod(sizes[:j]), sizes[j], math.prod(sizes[j + 1 :]), _ones(sizes[j], ones))
        )
        del sizes[j], keep[j]
    return tuple(steps)


def _row_product(rows: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return ``rows @ right`` computed row by row.

    BLAS picks different kernels, with different rounding, for different
    numbers of rows; a stacked product applies the same one-row product to
    every row, so each case's result does not depend on its batch.
    """
    product = np.matmul(rows.reshape(rows.shape[0], 1, -1), right)
    return product.reshape(rows.shape[0], *right.shape[1:])


def _reduce(table: np.ndarray, steps: Sequence[Step]) -> np.ndarray:
    """Sum a flat ``(batch, size)`` table by ``steps``; returns ``(batch, kept)``.

    Every product is stacked over the batch, so that it is the same for
    every case whatever the batch (see :func:`_row_product`).
    """
    batch = table.shape[0]
    for outer, length, inner, ones in steps:
        if inner == 1:
            table = np.matmul(table.reshape(batch, -1, length), ones)
        else:
            table = np.matmul(ones, table.reshape(batch * outer, length, inner))
    return table.reshape(batch, -1)


def _sum_matrix(shape: Sequence[int], kept: Sequence[int]) -> np.ndarray:
    """Return the 0/1 matrix that sums a flat table of ``shape`` onto the ``kept`` axes."""
    coordinates = np.indices(shape).reshape(len(shape), -1)
    kept_shape = [shape[axis] for axis in kept]
    if kept:
        column = np.ravel_multi_index([coordinates[axis] for axis in kept], kept_shape)
    else:
        column = np.zeros(coordinates.shape[1], dtype=np.intp)
    matrix = np.zeros((coordinates.shape[1], math.prod(kept_shape)))
    matrix[np.arange(coordinates.shape[1]), column] = 1.0
    matrix.setflags(write=False)
    return matrix


def _normalise_flags(tree: CliqueTree, tables: Sequence[np.ndarray]) -> tuple[bool, ...]:
    """Choose the cliques that rescale their messages.

    Between rescalings a message is a sum of products of table entries and
    likelihood entries.  Counting two factors per variable (its table and
    its evidence, whose rows are scaled to a maximum of one) and bounding
    each by the smallest positive table entry ``m``, a subtree of ``k``
    factors keeps its largest term above ``m ** k``; a clique rescales once
    that bound would fall below 1e-100, far above double precision's
    underflow.  Evidence that makes every term far smaller than that is
    caught by the engine's check on the rescaling factors and recomputed.
    """
    smallest = min(float(table[table > 0].min()) for table in tables)
    budget = max(1, int(100 / max(-math.log10(smallest), 1e-3)))
    variables = [0] * len(tree.cliques)
    for home in tree.home:
        variables[home] += 1
    accumulated = [2 * count for count in variables]
    flags = []
    for c, p in enumerate(tree.parent):
        rescale = accumulated[c] >= budget
        flags.append(rescale or p < 0)
        if p >= 0 and not rescale:
            accumulated[p] += accumulated[c]
    return tuple(flags)


def make_plan(tree: CliqueTree, cards: Sequence[int], tables: Sequence[np.ndarray]) -> Plan:
    """Precompute every shape, axis and leaf group the kernel needs."""
    n_cliques = len(tree.cliques)
    ones: dict[int, np.ndarray] = {}
    clique_cards = tuple(tuple(cards[v] for v in clique) for clique in tree.cliques)
    size = tuple(math.prod(c) for c in clique_cards)
    separator = tuple(
        math.prod(c[:k]) for c, k in zip(clique_cards, tree.separator_size, strict=True)
    )
    rest = tuple(s // k for s, k in zip(size, separator, strict=True))
    several: list[list[int]] = [[] for _ in range(n_cliques)]
    single: list[list[int]] = [[] for _ in range(n_cliques)]
    single_axis = [-1] * n_cliques
    parent_view: list[tuple[int, ...]] = []
    message_view: list[tuple[int, ...]] = []
    down_steps: list[tuple[Step, ...]] = []
    down_matrix: list[np.ndarray | None] = []
    for c, p in enumerate(tree.parent):
        if p < 0:
            parent_view.append(())
            message_view.append(())
            down_steps.append(())
            down_matrix.append(None)
            continue
        shared = tree.cliques[c][: tree.separator_size[c]]
        parent_vars = tree.cliques[p]
        if len(shared) == 1:
            single[p].append(c)
            single_axis[c] = parent_vars.index(shared[0])
        else:
            several[p].append(c)
        sizes, flags = _blocks(clique_cards[p], [v in shared for v in parent_vars])
        parent_view.append((-1, *sizes))
        message_view.append((-1, *(s if f else 1 for s, f in zip(sizes, flags, strict=True))))
        down_steps.append(_steps(sizes, flags, ones))
        down_matrix.append(
            _sum_matrix(clique_cards[p], [parent_vars.index(v) for v in shared])
            if size[p] * separator[c] <= _MATRIX_ENTRIES
            else None
        )
    axis_view = tuple(
        tuple(
            (-1, math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))
            for axis in range(len(shape))
        )
        for shape in clique_cards
    )
    home_axis = tuple(tree.cliques[h].index(v) for v, h in enumerate(tree.home))
    variable_steps = tuple(
        _steps(axis_view[h][axis][1:], (False, True, False), ones)
        for h, axis in zip(tree.home, home_axis, strict=True)
    )
    home_matrix: list[np.ndarray | None] = []
    home_column = [0] * len(cards)
    for h, clique in enumerate(tree.cliques):
        homed = [v for v in clique if tree.home[v] == h]
        width = sum(cards[v] for v in homed)
        if size[h] * width > _MATRIX_ENTRIES or not homed:
            home_matrix.append(None)
            continue
        blocks = [_sum_matrix(clique_cards[h], [clique.index(v)]) for v in homed]
        matrix = np.concatenate(blocks, axis=1)
        matrix.setflags(write=False)
        home_matrix.append(matrix)
        column = 0
        for v in homed:
            home_column[v] = column
            column += cards[v]
    # Leaves whose only own variable is the last axis, grouped by shape.
    groups: dict[tuple[int, int], list[int]] = {}
    for c, p in enumerate(tree.parent):
        own = len(tree.cliques[c]) - tree.separator_size[c]
        if p >= 0 and not several[c] and not single[c] and own == 1:
            groups.setdefault((separator[c], rest[c]), []).append(c)
    leaf_groups = []
    in_group = [False] * n_cliques
    for (sep, states), members in groups.items():
        if len(members) < 2:
            continue
        stacked = np.stack([tables[c].reshape(sep, states) for c in members])
        stacked.setflags(write=False)
        leaf_groups.append(
            LeafGroup(
                cliques=tuple(members),
                variables=tuple(tree.cliques[c][-1] for c in members),
                separator=sep,
                states=states,
                tables=stacked,
            )
        )
        for c in members:
            in_group[c] = True
    for length in (*rest, *size, *separator):
        _ones(length, ones)
    consumer_view: list[tuple[int, ...] | None] = [None] * n_cliques
    for p_children in several:
        for c in p_children:
            consumer_view[c] = message_view[c]
    down_sum: list[DownSum] = []
    for c, p in enumerate(tree.parent):
        summing = down_matrix[c]
        belief_view = (-1, separator[c], 1)
        if p < 0:
            down_sum.append((p, None, (), (), belief_view))
        elif summing is not None:
            down_sum.append((p, summing, (-1, 1, size[p]), (), belief_view))
        else:
            down_sum.append((p, None, (), _step_views(down_steps[c]), belief_view))
    return Plan(
        parent=tree.parent,
        children=tuple(tuple(a + b) for a, b in zip(several, single, strict=True)),
        several_children=tuple(tuple(ch) for ch in several),
        single_children=tuple(tuple(ch) for ch in single),
        single_axis=tuple(single_axis),
        size=size,
        separator=separator,
        rest=rest,
        cards=clique_cards,
        parent_view=tuple(parent_view),
        message_view=tuple(message_view),
        down_steps=tuple(down_steps),
        down_matrix=tuple(down_matrix),
        split_view=tuple((-1, k, r) for k, r in zip(separator, rest, strict=True)),
        normalise=_normalise_flags(tree, tables),
        axis_view=axis_view,
        home=tree.home,
        home_axis=home_axis,
        variable_steps=variable_steps,
        home_matrix=tuple(home_matrix),
        home_column=tuple(home_column),
        leaf_groups=tuple(leaf_groups),
        in_group=tuple(in_group),
        ones=ones,
        several_steps=tuple(
            tuple((ch, parent_view[ch], message_view[ch]) for ch in several[c])
            for c in range(n_cliques)
        ),
        single_steps=tuple(
            tuple((ch, single_axis[ch]) for ch in single[c]) for c in range(n_cliques)
        ),
        consumer_view=tuple(consumer_view),
        vector_view=tuple(tuple((-1, 1, view[2], 1) for view in views) for views in axis_view),
        rest_ones=tuple(ones[r] for r in rest),
        separator_ones=tuple(ones[k] for k in separator),
        down_sum=tuple(down_sum),
        vector_blocks={},
    )


def _step_views(steps: Sequence[Step]) -> tuple[tuple[tuple[int, ...], np.ndarray, bool], ...]:
    """The products of :func:`_reduce`'s ``steps`` as ``(view, ones, ones_first)``.

    The views name every axis but the batch, so they give the same shapes
    whatever the batch.
    """
    views = []
    for outer, length, inner, ones in steps:
        if inner == 1:
            views.append(((-1, outer, length), ones, False))
        else:
            views.append(((-1, length, inner), ones, True))
    return tuple(views)


def make_tables(
    tree: CliqueTree,
    cards: Sequence[int],
    families: Sequence[Sequence[int]],
    cpts: Sequence[np.ndarray],
) -> tuple[np.ndarray, ...]:
    """Multiply each CPT into the clique chosen for its family; flat ``(1, size)`` tables."""
    tables = [np.ones((1, *(cards[v] for v in clique))) for clique in tree.cliques]
    for v, (family, cpt) in enumerate(zip(families, cpts, strict=True)):
        c = tree.family_clique[v]
        clique = tree.cliques[c]
        # Order the CPT's axes as the clique lists its variables, then
        # broadcast it over the clique's other axes.
        axes = sorted(range(len(family)), key=lambda i: clique.index(family[i]))
        shape = [1] + [cards[u] if u in family else 1 for u in clique]
        tables[c] = tables[c] * np.transpose(cpt, axes).reshape(shape)
    flat = []
    for table in tables:
        table = np.ascontiguousarray(table.reshape(1, -1))
        table.setflags(write=False)
        flat.append(table)
    return tuple(flat)


@dataclass
class Run:
    """What one propagation leaves behind, per clique (``None`` where not computed).

    ``raw`` is the message before rescaling, ``message`` after, ``scale``
    the factor; beliefs are unnormalised and sum to ``total`` per case.
    ``positive`` (set by :meth:`freeze`) tells, per clique, whether its raw
    message has no zero entry.
    """

    collected: list[Any]
    raw: list[Any]
    message: list[Any]
    scale: list[Any]
    belief: list[Any]
    total: np.ndarray
    positive: tuple[bool, ...] = ()

    @classmethod
    def empty(cls, n_cliques: int) -> Run:
        """Return a run of ``n_cliques`` cliques with nothing computed yet."""
        return cls(
            collected=[None] * n_cliques,
            raw=[None] * n_cliques,
            message=[None] * n_cliques,
            scale=[None] * n_cliques,
            belief=[None] * n_cliques,
            total=np.empty(0),
        )

    def freeze(self) -> None:
        """Make every array read-only, and note which raw messages are positive."""
        for arrays in (self.collected, self.raw, self.message, self.scale, self.belief):
            for array in arrays:
                if array is not None:
                    array.setflags(write=False)
        self.positive = tuple(raw is not None and bool(raw.all()) for raw in self.raw)


@dataclass(frozen=True)
class Prior:
    """The propagation without evidence, laid out for the queries that start from it.

    Attributes
    ----------
    run : Run
        The propagation itself, frozen.
    views : per clique
        Its message in the view its parent multiplies it in (see
        ``Plan.consumer_view``).
    starts : per clique
        ``starts[c][k]``: the clique's table times the messages of its first
        ``k`` children in ``several_children``, multiplied in one by one as a
        query would (so a query whose first ``k`` such children hold no
        evidence starts from it), viewed as the next child's ``parent_view``
        when there is one.
    split : per clique
        Its collected table viewed ``(-1, separator, rest)``; for a grouped
        leaf, its table.
    divisors : per clique
        Its raw message with every zero raised to ``_TINY`` (see
        :func:`_distribute_from`), viewed ``(-1, separator, 1)``.
    repeated : dict
        Filled as queries come, for small batches of a small network:
        ``starts``, ``split`` and ``divisors`` repeated along the batch, by
        batch size (see :meth:`constants`).
    """

    run: Run
    views: tuple[np.ndarray, ...]
    starts: tuple[tuple[np.ndarray, ...], ...]
    split: tuple[np.ndarray, ...]
    divisors: tuple[np.ndarray | None, ...]
    repeated: dict[int, Constants] = field(default_factory=dict)

    def constants(self, n: int) -> Constants:
        """Return ``starts``, ``split`` and ``divisors`` for a batch of ``n`` cases.

        For ``2 <= n <= _REPEATED_BATCH`` and networks of at most
        ``_REPEATED_ENTRIES`` entries laid out, each repeated ``n`` times along
        the batch: a product of arrays of one batch size runs faster than
        one broadcasting a single case, and gives the same numbers.
        """
        known = self.repeated.get(n)
        if known is not None:
            return known
        constants = (self.starts, self.split, self.divisors)
        if not 2 <= n <= _REPEATED_BATCH or self._entries() > _REPEATED_ENTRIES:
            return constants

        def repeat(array: Any) -> Any:
            return None if array is None else _frozen(np.repeat(array, n, axis=0))

        repeated = (
            tuple(tuple(repeat(a) for a in chain) for chain in self.starts),
            tuple(repeat(a) for a in self.split),
            tuple(repeat(a) for a in self.divisors),
        )
        return self.repeated.setdefault(n, repeated)

    def _entries(self) -> int:
        return sum(a.size for chain in self.starts for a in chain) + sum(a.size for a in self.split)


#: ``Prior.starts``, ``Prior.split`` and ``Prior.divisors``.
Constants = tuple[
    tuple[tuple[np.ndarray, ...], ...], tuple[np.ndarray, ...], tuple[np.ndarray | None, ...]
]

#: Batches of at most this many cases, of networks of at most this many
#: entries in their prior's layout, take its constants repeated along the batch.
_REPEATED_BATCH = 4
_REPEATED_ENTRIES = 1 << 16


def make_prior(plan: Plan, tables: Sequence[np.ndarray], run: Run) -> Prior:
    """Lay out the frozen propagation without evidence (see :class:`Prior`)."""
    views = []
    for c, view in enumerate(plan.consumer_view):
        message = run.message[c]
        views.append(_frozen(message if view is None or message is None else message.reshape(view)))
    starts = []
    for c, steps in enumerate(plan.several_steps):
        table = tables[c]
        chain = []
        for ch, parent_view, _ in steps:
            table = _frozen(table.reshape(parent_view))
            chain.append(table)
            table = table * views[ch]
        chain.append(_frozen(table))
        starts.append(tuple(chain))
    split = tuple(
        _frozen((tables[c] if table is None else table).reshape(plan.split_view[c]))
        for c, table in enumerate(run.collected)
    )
    divisors = tuple(
        None if raw is None else _frozen(np.maximum(raw, _TINY).reshape(-1, raw.shape[1], 1))
        for raw in run.raw
    )
    return Prior(run=run, views=tuple(views), starts=tuple(starts), split=split, divisors=divisors)


def _frozen(array: Any) -> Any:
    if array is not None:
        array.setflags(write=False)
    return array


def _multiply_vectors(
    plan: Plan, c: int, table: np.ndarray, vectors: Mapping[int, np.ndarray]
) -> np.ndarray:
    """Multiply several one-variable factors ``{axis: (batch, states)}`` into a table."""
    axes = sorted(vectors)
    factor = vectors[axes[0]]
    for axis in axes[1:]:
        vector = vectors[axis]
        factor = factor[:, :, None] * vector[:, None, :]
        factor = factor.reshape(factor.shape[0], -1)
    key = (c, tuple(axes))
    if key not in plan.vector_blocks:
        cards = plan.cards[c]
        sizes, flags = _blocks(cards, [axis in vectors for axis in range(len(cards))])
        plan.vector_blocks[key] = (
            None
            if len(sizes) == 1
            else ((-1, *sizes), (-1, *(s if f else 1 for s, f in zip(sizes, flags, strict=True))))
        )
    views = plan.vector_blocks[key]
    if views is None:
        return table.reshape(len(table), -1) * factor
    return table.reshape(views[0]) * factor.reshape(views[1])


def _leaf_messages(
    plan: Plan,
    n: int,
    evidence: Mapping[int, Sequence[tuple[np.ndarray, int]]],
    run: Run,
    everything: bool,
    views: list[Any] | None = None,
) -> None:
    """Compute the messages of grouped leaves, one matrix product per group.

    Only the leaves holding evidence are kept, unless ``everything``: the
    others send the message the prior run computed the same way.  With
    ``views``, each kept message is also put there in its parent's view.
    """
    for group in plan.leaf_groups:
        observed = [(i, evidence[c][0][0]) for i, c in enumerate(group.cliques) if c in evidence]
        if not observed and not everything:
            continue
        likelihoods = np.ones((n, len(group.cliques), group.states))
        for i, likelihood in observed:
            likelihoods[:, i, :] = likelihood
        raw = np.matmul(group.tables, likelihoods[:, :, :, None]).reshape(
            n, len(group.cliques), group.separator
        )
        kept = range(len(group.cliques)) if everything else [i for i, _ in observed]
        for i in kept:
            c = group.cliques[i]
            summed = raw[:, i]
            run.raw[c] = summed
            if plan.normalise[c]:
                total = _row_product(summed, plan.ones[group.separator])
                run.scale[c] = total
                summed = summed / total[:, None]
            run.message[c] = summed
            if views is not None:
                view = plan.consumer_view[c]
                views[c] = summed if view is None else summed.reshape(view)


def propagate(
    plan: Plan,
    tables: Sequence[np.ndarray],
    n: int,
    evidence: Mapping[int, Sequence[tuple[np.ndarray, int]]],
    active: Sequence[bool],
    needed: Sequence[int],
    prior: Prior | None,
    *,
    groups: bool = True,
) -> Run:
    """Collect over the active cliques, then distribute to the needed ones.

    Parameters
    ----------
    plan, tables
        The compiled tree and its ``(1, size)`` tables.
    n : int
        Batch size.
    evidence : mapping
        Clique to ``[(likelihood (n, states), variable), ...]``.
    active : sequence of bool
        Cliques whose subtree holds evidence; the others take their message
        and collected table from ``prior``.
    needed : sequence of int
        Cliques whose beliefs are wanted, root first, each after its parent.
    prior : Prior or None
        The propagation without evidence (see :func:`make_prior`); ``None``
        requires every clique active (and then ``groups`` may be False).
    groups : bool, default True
        Whether grouped leaves take the one-product path (their tables are
        ``plan``'s); False when ``tables`` are not the compiled ones.
    """
    if prior is not None:
        return _propagate_from(plan, tables, n, evidence, active, needed, prior)
    n_cliques = len(plan.parent)
    root = n_cliques - 1
    run = Run.empty(n_cliques)
    collected, raw, message, scale = run.collected, run.raw, run.message, run.scale
    # An inactive clique takes its message from the prior run; with no prior, none is inactive.
    prior_message = message if prior is None else prior.message
    if groups:
        _leaf_messages(plan, n, evidence, run, prior is None)
        in_group = plan.in_group
    else:
        in_group = (False,) * n_cliques
    several = plan.several_children
    single = plan.single_children
    single_axis = plan.single_axis
    parent_view = plan.parent_view
    message_view = plan.message_view
    home_axis = plan.home_axis
    rest = plan.rest
    split_view = plan.split_view
    axis_view = plan.axis_view
    ones = plan.ones
    normalise = plan.normalise
    for c in range(n_cliques):
        if not active[c] or in_group[c]:
            continue
        table = tables[c]
        owned = False
        for ch in several[c]:
            incoming = message[ch] if active[ch] else prior_message[ch]
            view = parent_view[ch]
            if owned and table.shape[0] >= incoming.shape[0]:
                target = table.reshape(view)
                np.multiply(target, incoming.reshape(message_view[ch]), out=target)
            else:
                table = table.reshape(view) * incoming.reshape(message_view[ch])
                owned = True
        vectors: dict[int, np.ndarray] = {}
        for ch in single[c]:
            incoming = message[ch] if active[ch] else prior_message[ch]
            axis = single_axis[ch]
            vectors[axis] = vectors[axis] * incoming if axis in vectors else incoming
        for likelihood, v in evidence.get(c, ()):
            axis = home_axis[v]
            vectors[axis] = vectors[axis] * likelihood if axis in vectors else likelihood
        if len(vectors) == 1:
            ((axis, vector),) = vectors.items()
            view = axis_view[c][axis]
            table = table.reshape(view) * vector.reshape(-1, 1, view[2], 1)
        elif vectors:
            table = _multiply_vectors(plan, c, table, vectors)
        collected[c] = table
        if c == root:
            break
        summed = np.matmul(table.reshape(split_view[c]), ones[rest[c]])
        raw[c] = summed
        if normalise[c]:
            total = _row_product(summed, ones[plan.separator[c]])
            scale[c] = total
            message[c] = summed / total[:, None]
        else:
            message[c] = summed
    run.total = _row_product(collected[root], ones[plan.size[root]])
    _distribute(plan, tables, evidence, active, needed, prior, run)
    return run


def _propagate_from(
    plan: Plan,
    tables: Sequence[np.ndarray],
    n: int,
    evidence: Mapping[int, Sequence[tuple[np.ndarray, int]]],
    active: Sequence[bool],
    needed: Sequence[int],
    prior: Prior,
) -> Run:
    """:func:`propagate` from the propagation without evidence: the same
    products, in the same order, with the prior's tables and views laid out
    ahead."""
    n_cliques = len(plan.parent)
    root = n_cliques - 1
    run = Run.empty(n_cliques)
    collected, raw, message, scale = run.collected, run.raw, run.message, run.scale
    views = list(prior.views)
    _leaf_messages(plan, n, evidence, run, False, views)
    starts, split, divisors = prior.constants(n)
    in_group = plan.in_group
    several_steps = plan.several_steps
    single_steps = plan.single_steps
    consumer_view = plan.consumer_view
    home_axis = plan.home_axis
    split_view = plan.split_view
    axis_view = plan.axis_view
    vector_view = plan.vector_view
    rest_ones = plan.rest_ones
    separator_ones = plan.separator_ones
    normalise = plan.normalise
    matmul = np.matmul
    for c in compress(range(n_cliques), active):
        if in_group[c]:
            continue
        steps = several_steps[c]
        if steps:
            # Children without evidence come first: start after them.
            k = 0
            for ch, _, _ in steps:
                if active[ch]:
                    break
                k += 1
            table = starts[c][k]
            if k < len(steps):
                table = table * views[steps[k][0]]
                for ch, parent_view, _ in steps[k + 1 :]:
                    table = table.reshape(parent_view) * views[ch]
        else:
            table = starts[c][0]
        singles = single_steps[c]
        observed = evidence.get(c)
        if singles or observed:
            vectors: dict[int, np.ndarray] = {}
            for ch, on in singles:
                incoming = views[ch]
                vectors[on] = vectors[on] * incoming if on in vectors else incoming
            if observed:
                for likelihood, v in observed:
                    on = home_axis[v]
                    vectors[on] = vectors[on] * likelihood if on in vectors else likelihood
            if len(vectors) == 1:
                ((on, vector),) = vectors.items()
                table = table.reshape(axis_view[c][on]) * vector.reshape(vector_view[c][on])
            else:
                table = _multiply_vectors(plan, c, table, vectors)
        if c == root:
            collected[c] = table
            break
        table = table.reshape(split_view[c])
        collected[c] = table
        summed = matmul(table, rest_ones[c])
        raw[c] = summed
        if normalise[c]:
            total = matmul(summed.reshape(n, 1, -1), separator_ones[c])  # see _row_product
            scale[c] = total.reshape(n)
            summed = summed / total
        message[c] = summed
        view = consumer_view[c]
        views[c] = summed if view is None else summed.reshape(view)
    run.total = _row_product(collected[root], plan.ones[plan.size[root]])
    _distribute_from(plan, evidence, active, needed, split, divisors, run)
    return run


def _distribute_from(
    plan: Plan,
    evidence: Mapping[int, Sequence[tuple[np.ndarray, int]]],
    active: Sequence[bool],
    needed: Sequence[int],
    split: Sequence[np.ndarray],
    divisors: Sequence[np.ndarray | None],
    run: Run,
) -> None:
    """:func:`_distribute` of :func:`_propagate_from`, with the prior's
    ``split`` and ``divisors`` (see :meth:`Prior.constants`).

    Where a clique sent zero, the parent's belief summed onto the separator
    is zero too (the message is one of its factors), and :func:`_distribute`
    leaves it at 0.  Dividing by the message raised to at least the smallest
    positive double, ``_TINY``, gives that 0 as well, and changes no positive
    entry: the same numbers, with no test for zeros.
    """
    belief = run.belief
    collected = run.collected
    raw = run.raw
    in_group = plan.in_group
    down_sum = plan.down_sum
    matmul = np.matmul
    maximum = np.maximum
    belief[-1] = collected[-1]
    for c in needed[1:]:
        p, matrix, view, steps, belief_view = down_sum[c]
        above = belief[p]
        if matrix is not None:
            down = matmul(above.reshape(view), matrix)  # see _row_product
        else:
            down = above
            for view, ones, ones_first in steps:
                down = (
                    matmul(ones, down.reshape(view))
                    if ones_first
                    else matmul(down.reshape(view), ones)
                )
        down = down.reshape(belief_view)
        if active[c]:
            table = collected[c]
            if in_group[c]:  # a grouped leaf: its table times its evidence
                ((likelihood, _),) = evidence[c]
                table = split[c] * likelihood[:, None, :]
            down /= maximum(raw[c].reshape(belief_view), _TINY)
        else:
            table = split[c]
            down /= divisors[c]
        belief[c] = table * down


def _distribute(
    plan: Plan,
    tables: Sequence[np.ndarray],
    evidence: Mapping[int, Sequence[tuple[np.ndarray, int]]],
    active: Sequence[bool],
    needed: Sequence[int],
    prior: Run | None,
    run: Run,
) -> None:
    belief = run.belief
    parent = plan.parent
    split_view = plan.split_view
    rest = plan.rest
    down_steps = plan.down_steps
    down_matrix = plan.down_matrix
    belief[len(parent) - 1] = run.collected[-1]
    # An inactive clique's tables are the prior run's; with no prior, none is inactive.
    inactive_source = run if prior is None else prior
    # Which of the prior run's raw messages are positive, where already known.
    known_positive = prior.positive if prior is not None else ()
    for c in needed:
        p = parent[c]
        if p < 0:
            continue
        if active[c]:
            source = run
            positive = None
        else:
            source = inactive_source
            positive = known_positive[c] if known_positive else None
        table, sent = source.collected[c], source.raw[c]
        if table is None:  # a grouped leaf: its table times its evidence, if any
            table = tables[c]
            if c in evidence:
                ((likelihood, _),) = evidence[c]
                table = table.reshape(1, -1, rest[c]) * likelihood[:, None, :]
        matrix = down_matrix[c]
        above = belief[p]
        if matrix is None:
            down = _reduce(above, down_steps[c])
        else:
            down = np.matmul(above.reshape(len(above), 1, -1), matrix)[:, 0]  # see _row_product
        if positive if positive is not None else sent.all():
            down /= sent
        else:  # where the clique sent zero, the parent's belief is zero too: 0/0 is 0
            np.divide(down, sent, out=down, where=sent > 0)
        belief[c] = table.reshape(split_view[c]) * down[:, :, None]


@dataclass(frozen=True)
class MarginalSteps:
    """How :func:`marginals` reads a list of variables, worked out once per list.

    ``homes`` holds, per sum, the clique, its summing matrix (or None, then
    the steps of the sum onto one variable), and the ``(source, width,
    destination)`` column ranges it fills; ``starts`` and ``segment`` give
    each variable's first column and each column's variable; ``gather``, each
    column's place among the sums' columns side by side; ``sums``, per sum,
    the clique, the matrix and the view of the belief it multiplies (or None,
    and the steps as ``(view, ones, ones_first)`` products), and the view
    ``(-1, 1, columns)`` of the sum.
    """

    homes: tuple[
        tuple[int, np.ndarray | None, tuple[Step, ...], tuple[tuple[int, int, int], ...]], ...
    ]
    starts: np.ndarray
    segment: np.ndarray
    gather: np.ndarray
    sums: tuple[
        tuple[
            int,
            np.ndarray | None,
            tuple[int, ...],
            tuple[tuple[tuple[int, ...], np.ndarray, bool], ...],
            tuple[int, int, int],
        ],
        ...,
    ] = ()


def marginal_steps(plan: Plan, variables: Sequence[int]) -> MarginalSteps:
    """Return the steps :func:`marginals` takes to read ``variables``."""
    homes: list[tuple[int, np.ndarray | None, tuple[Step, ...], list[tuple[int, int, int]]]] = []
    by_home: dict[int, int] = {}
    starts = []
    segment = []
    column = 0
    for i, v in enumerate(variables):
        h = plan.home[v]
        width = plan.axis_view[h][plan.home_axis[v]][2]
        starts.append(column)
        segment.extend([i] * width)
        matrix = plan.home_matrix[h]
        if matrix is None:
            homes.append((h, None, plan.variable_steps[v], [(0, width, column)]))
        else:
            if h not in by_home:
                by_home[h] = len(homes)
                homes.append((h, matrix, (), []))
            pieces = homes[by_home[h]][3]
            source = plan.home_column[v]
            if pieces:
                last_source, last_width, last_destination = pieces[-1]
                if last_source + last_width == source and last_destination + last_width == column:
                    pieces[-1] = (last_source, last_width + width, last_destination)
                    column += width
                    continue
            pieces.append((source, width, column))
        column += width
    gather = np.empty(column, dtype=np.intp)
    offset = 0
    for _, matrix, _, pieces in homes:
        for source, width, destination in pieces:
            gather[destination : destination + width] = range(
                offset + source, offset + source + width
            )
        offset += pieces[0][1] if matrix is None else matrix.shape[1]
    sums = tuple(
        (h, matrix, (-1, 1, plan.size[h]), (), (-1, 1, matrix.shape[1]))
        if matrix is not None
        else (h, None, (), _step_views(steps), (-1, 1, pieces[0][1]))
        for h, matrix, steps, pieces in homes
    )
    return MarginalSteps(
        homes=tuple((h, m, steps, tuple(pieces)) for h, m, steps, pieces in homes),
        starts=np.array(starts, dtype=np.intp),
        segment=np.array(segment, dtype=np.intp),
        gather=gather,
        sums=sums,
    )


def marginals(
    plan: Plan,
    run: Run,
    variables: Sequence[int],
    out: np.ndarray,
    steps: MarginalSteps | None = None,
) -> None:
    """Write the normalised marginals of ``variables``, side by side, into ``out``.

    Each marginal is divided by its own sum (mathematically P(e)), so that it
    sums to one to the last bit and hard evidence reads exactly 0 and 1.
    ``steps`` are :func:`marginal_steps` of ``variables``, if already known.
    """
    if not variables:
        return
    if steps is None:
        steps = marginal_steps(plan, variables)
    belief = run.belief
    matmul = np.matmul
    summed = []
    for h, matrix, view, step_views, sum_view in steps.sums:
        if matrix is not None:
            summed.append(matmul(belief[h].reshape(view), matrix))  # see _row_product
            continue
        table = belief[h]
        for view, ones, ones_first in step_views:  # see _reduce
            table = (
                matmul(ones, table.reshape(view))
                if ones_first
                else matmul(table.reshape(view), ones)
            )
        summed.append(table.reshape(sum_view))
    out[...] = np.concatenate(summed, axis=2)[:, 0, steps.gather]
    totals = np.add.reduceat(out, steps.starts, axis=1)
    out /= totals[:, steps.segment]
