"""The batch-last propagation kernel, for batches of many cases.

The same collect and distribute as :mod:`bayesleg.inference._propagate`, with
every clique table a contiguous array of shape ``(entries, cases)``: the batch
is the *last* axis (a compiled table has one column and broadcasts over any
batch).  Every product and sum then runs over whole rows of cases at once, in
one numpy call per clique and step, where the batch-first kernel's sums are
one small matrix product per case:

* Each operation views a table through a shape precomputed at compile time in
  which runs of neighbouring axes treated alike (all kept, or all summed out)
  are merged into one axis; reshaping costs nothing.
* A sum over some axes is ``numpy.add.reduce`` over them (or, over at most
  four entries, the additions written out).  With the cases along the last,
  contiguous axis, numpy adds the summed entries one after another, in a
  fixed order, for every case alike; so a case's answer does not depend on
  the batch it comes in, to the last bit.  A lone case is computed as two
  (numpy would otherwise sum a single column pairwise, in another order).
* Everything a clique receives on a single variable -- evidence, and the
  messages of children whose separator is that variable -- is multiplied
  together first, as one outer product, and enters the table in one pass.
* Leaf cliques of one shape (a separator and one own variable) are handled
  together, with one product and one sum for all their messages.
* Beliefs are not normalised; each marginal is divided by its own total.

Its fixed cost per call is higher than the batch-first kernel's (a reduction
costs more than a small matrix product), so the engine uses it for batches of
at least ``BATCH_LAST`` cases; see :mod:`bayesleg.inference.engine`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayesleg.inference._jtree import CliqueTree
from bayesleg.inference._propagate import Run, _blocks, _normalise_flags

__all__ = [
    "BATCH_LAST",
    "Plan",
    "Run",
    "first_case",
    "make_plan",
    "make_tables",
    "marginals",
    "propagate",
]

#: Batches of at least this many cases take this kernel.
BATCH_LAST = 16


@dataclass(frozen=True)
class LeafGroup:
    """Leaf cliques with the same separator size and one own variable of the same size."""

    cliques: tuple[int, ...]
    variables: tuple[int, ...]
    separator: int
    states: int
    tables: np.ndarray  # (leaves, separator, states, 1)


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
    parent_view, message_view, down_axes : per clique
        How to view the *parent's* table and this clique's message so that
        they broadcast (the batch last), and which axes of that view to sum
        to bring the parent's belief onto the separator.
    split_view : per clique
        ``(separator, rest, -1)``.
    normalise : per clique
        Whether the clique rescales its message to sum to one.  Messages are
        rescaled often enough that no product of unscaled factors can
        approach underflow (see :func:`_normalise_flags`).
    axis_view : per clique
        For each axis, ``(before, states, after, -1)``.
    home, home_axis : per variable
        The clique that takes the variable's evidence and gives its
        marginal, and the variable's axis there.
    leaf_groups, in_group : tuple of LeafGroup; per clique
        Leaves handled together, and whether a clique is one of them.
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
    down_axes: tuple[tuple[int, ...], ...]
    split_view: tuple[tuple[int, int, int], ...]
    normalise: tuple[bool, ...]
    axis_view: tuple[tuple[tuple[int, int, int, int], ...], ...]
    home: tuple[int, ...]
    home_axis: tuple[int, ...]
    leaf_groups: tuple[LeafGroup, ...]
    in_group: tuple[bool, ...]

    @property
    def root(self) -> int:
        """The root clique."""
        return len(self.parent) - 1


#: Sums over at most this many entries are written out as additions: one numpy
#: call per addition beats one reduction of a few entries, and the additions
#: run in the same order as the reduction (one entry after another), so the
#: result is the same to the last bit.
_SHORT_SUM = 4


def _sum(x: np.ndarray, axis: int) -> np.ndarray:
    """Sum ``x`` over ``axis`` (not the last), adding the entries one after another."""
    length = x.shape[axis]
    if length > _SHORT_SUM:
        return np.add.reduce(x, axis=axis)
    index: list[Any] = [slice(None)] * x.ndim
    index[axis] = 0
    total = x[tuple(index)]
    for i in range(1, length):
        index[axis] = i
        total = total + x[tuple(index)]
    return total if length > 1 else total.copy()


def make_plan(tree: CliqueTree, cards: Sequence[int], tables: Sequence[np.ndarray]) -> Plan:
    """Precompute every shape, axis and leaf group the kernel needs."""
    n_cliques = len(tree.cliques)
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
    down_axes: list[tuple[int, ...]] = []
    for c, p in enumerate(tree.parent):
        if p < 0:
            parent_view.append(())
            message_view.append(())
            down_axes.append(())
            continue
        shared = tree.cliques[c][: tree.separator_size[c]]
        parent_vars = tree.cliques[p]
        if len(shared) == 1:
            single[p].append(c)
            single_axis[c] = parent_vars.index(shared[0])
        else:
            several[p].append(c)
        sizes, flags = _blocks(clique_cards[p], [v in shared for v in parent_vars])
        parent_view.append((*sizes, -1))
        message_view.append((*(s if f else 1 for s, f in zip(sizes, flags, strict=True)), -1))
        down_axes.append(tuple(i for i, f in enumerate(flags) if not f))
    axis_view = tuple(
        tuple(
            (math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]), -1)
            for axis in range(len(shape))
        )
        for shape in clique_cards
    )
    home_axis = tuple(tree.cliques[h].index(v) for v, h in enumerate(tree.home))
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
        stacked = np.stack([tables[c].reshape(sep, states, 1) for c in members])
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
        down_axes=tuple(down_axes),
        split_view=tuple((k, r, -1) for k, r in zip(separator, rest, strict=True)),
        normalise=_normalise_flags(tree, tables),
        axis_view=axis_view,
        home=tree.home,
        home_axis=home_axis,
        leaf_groups=tuple(leaf_groups),
        in_group=tuple(in_group),
    )


def make_tables(
    tree: CliqueTree,
    cards: Sequence[int],
    families: Sequence[Sequence[int]],
    cpts: Sequence[np.ndarray],
) -> tuple[np.ndarray, ...]:
    """Multiply each CPT into the clique chosen for its family; ``(size, 1)`` tables."""
    tables = [np.ones(tuple(cards[v] for v in clique)) for clique in tree.cliques]
    for v, (family, cpt) in enumerate(zip(families, cpts, strict=True)):
        c = tree.family_clique[v]
        clique = tree.cliques[c]
        # Order the CPT's axes as the clique lists its variables, then
        # broadcast it over the clique's other axes.
        axes = sorted(range(len(family)), key=lambda i: clique.index(family[i]))
        shape = [cards[u] if u in family else 1 for u in clique]
        tables[c] = tables[c] * np.transpose(cpt, axes).reshape(shape)
    flat = []
    for table in tables:
        table = np.ascontiguousarray(table.reshape(-1, 1))
        table.setflags(write=False)
        flat.append(table)
    return tuple(flat)


def first_case(run: Run) -> Run:
    """Return the run of the first case of ``run``, every array keeping its case axis."""

    def first(arrays: list[Any]) -> list[Any]:
        return [None if a is None else a[..., :1] for a in arrays]

    return Run(
        collected=first(run.collected),
        raw=first(run.raw),
        message=first(run.message),
        scale=first(run.scale),
        belief=first(run.belief),
        total=run.total[:1],
    )


def _multiply_vectors(
    plan: Plan, c: int, table: np.ndarray, vectors: Mapping[int, np.ndarray]
) -> np.ndarray:
    """Multiply several one-variable factors ``{axis: (states, cases)}`` into a table."""
    axes = sorted(vectors)
    factor = vectors[axes[0]]
    for axis in axes[1:]:
        vector = vectors[axis]
        factor = factor[:, None, :] * vector[None, :, :]
        factor = factor.reshape(-1, factor.shape[-1])
    cards = plan.cards[c]
    sizes, flags = _blocks(cards, [axis in vectors for axis in range(len(cards))])
    if len(sizes) == 1:
        return table.reshape(plan.size[c], -1) * factor
    factor_view = (*(s if f else 1 for s, f in zip(sizes, flags, strict=True)), -1)
    return table.reshape(*sizes, -1) * factor.reshape(factor_view)


def _message(plan: Plan, c: int, summed: np.ndarray, run: Run) -> None:
    """Store clique ``c``'s message ``summed``, rescaled if the plan says so."""
    run.raw[c] = summed
    if plan.normalise[c]:
        total = _sum(summed, 0)
        run.scale[c] = total
        run.message[c] = summed / total
    else:
        run.message[c] = summed


def _leaf_messages(
    plan: Plan,
    n: int,
    evidence: Mapping[int, Sequence[tuple[np.ndarray, int]]],
    run: Run,
    everything: bool,
) -> None:
    """Compute the messages of grouped leaves, one product and one sum per group.

    Only the leaves holding evidence are kept, unless ``everything``: the
    others send the message the prior run computed the same way.
    """
    for group in plan.leaf_groups:
        observed = [(i, evidence[c][0][0]) for i, c in enumerate(group.cliques) if c in evidence]
        if not observed and not everything:
            continue
        likelihoods = np.ones((len(group.cliques), 1, group.states, n))
        for i, likelihood in observed:
            likelihoods[i, 0] = likelihood
        raw = np.add.reduce(group.tables * likelihoods, axis=2)
        kept = range(len(group.cliques)) if everything else [i for i, _ in observed]
        for i in kept:
            _message(plan, group.cliques[i], raw[i], run)


def propagate(
    plan: Plan,
    tables: Sequence[np.ndarray],
    n: int,
    evidence: Mapping[int, Sequence[tuple[np.ndarray, int]]],
    active: Sequence[bool],
    needed: Sequence[int],
    prior: Run | None,
    *,
    groups: bool = True,
) -> Run:
    """Collect over the active cliques, then distribute to the needed ones.

    Parameters
    ----------
    plan, tables
        The compiled tree and its ``(size, 1)`` tables (or ``(size, n)``).
    n : int
        Batch size, at least 2 for answers independent of the batch.
    evidence : mapping
        Clique to ``[(likelihood (states, n), variable), ...]``.
    active : sequence of bool
        Cliques whose subtree holds evidence; the others take their message
        and collected table from ``prior``.
    needed : sequence of int
        Cliques whose beliefs are wanted, root first, each after its parent.
    prior : Run or None
        The propagation without evidence; ``None`` requires every clique
        active.
    groups : bool, default True
        Whether grouped leaves take the one-product path (their tables are
        ``plan``'s); False when ``tables`` are not the compiled ones.
    """
    n_cliques = len(plan.parent)
    root = n_cliques - 1
    run = Run.empty(n_cliques)
    collected, message = run.collected, run.message
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
    split_view = plan.split_view
    axis_view = plan.axis_view
    for c in range(n_cliques):
        if not active[c] or in_group[c]:
            continue
        table = tables[c]
        owned = False
        for ch in several[c]:
            incoming = message[ch] if active[ch] else prior_message[ch]
            view = parent_view[ch]
            if owned and table.shape[-1] >= incoming.shape[-1]:
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
            table = table.reshape(view) * vector.reshape(1, view[1], 1, -1)
        elif vectors:
            table = _multiply_vectors(plan, c, table, vectors)
        table = table.reshape(plan.size[c], -1)
        collected[c] = table
        if c == root:
            break
        _message(plan, c, _sum(table.reshape(split_view[c]), 1), run)
    run.total = _sum(collected[root], 0)
    _distribute(plan, tables, evidence, active, needed, prior, run)
    return run


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
    parent_view = plan.parent_view
    down_axes = plan.down_axes
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
                table = table.reshape(-1, rest[c], 1) * likelihood[None, :, :]
        above = belief[p]
        axes = down_axes[c]
        if len(axes) == 1:
            down = _sum(above.reshape(parent_view[c]), axes[0]).reshape(plan.separator[c], -1)
        elif axes:
            down = np.add.reduce(above.reshape(parent_view[c]), axis=axes)
            down = down.reshape(plan.separator[c], -1)
        else:
            down = above.reshape(plan.separator[c], -1).copy()
        if positive if positive is not None else sent.all():
            down /= sent
        else:  # where the clique sent zero, the parent's belief is zero too: 0/0 is 0
            np.divide(down, sent, out=down, where=sent > 0)
        belief[c] = (table.reshape(split_view[c]) * down[:, None, :]).reshape(plan.size[c], -1)


def marginals(plan: Plan, run: Run, variables: Sequence[int], out: np.ndarray) -> None:
    """Write the normalised marginals of ``variables``, side by side, into ``out``.

    ``out`` is ``(cases, columns)``.  Each marginal is divided by its own sum
    (mathematically P(e)), so that it sums to one to the last bit and hard
    evidence reads exactly 0 and 1.
    """
    if not variables:
        return
    starts = []
    column = 0
    home = plan.home
    for v in variables:
        h = home[v]
        view = plan.axis_view[h][plan.home_axis[v]]
        before, states, after, _ = view
        if before == 1:
            summed = _sum(run.belief[h].reshape(states, after, -1), 1)
        elif after == 1:
            summed = _sum(run.belief[h].reshape(before, states, -1), 0)
        else:
            summed = np.add.reduce(run.belief[h].reshape(view), axis=(0, 2))
        starts.append(column)
        out[:, column : column + view[1]] = summed.T
        column += view[1]
    totals = np.add.reduceat(out, starts, axis=1)
    widths = np.diff([*starts, out.shape[1]])
    out /= np.repeat(totals, widths, axis=1)
