"""Junction-tree propagation over a batch of table sets: one structure, many CPTs.

The engine (:mod:`bayesleg.inference.engine`) compiles a network's tables
once and batches over evidence.  Sensitivity analysis needs the other axis:
the same structure with different tables -- one parameter moved, or every
parameter drawn at random -- for each member of a batch.  A
:class:`TableBatchTree` compiles the structure once (the engine's clique
tree, :mod:`bayesleg.inference._jtree`); :meth:`TableBatchTree.propagate`
then takes, for each variable, a CPT with a leading batch axis (of the batch
size, or 1 for a table shared by every member), and likelihoods with the
same leading axis, and returns log P(e) and the targets' posterior marginals
of every member, from one collect and one distribute pass in numpy.

Every message is rescaled to sum to one and the logs of the scales summed
into log P(e), so no product approaches underflow.  A member whose evidence
has probability zero gets log P(e) = -inf and posteriors of zero (never
NaN); the caller decides what that means.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bayesleg.inference._jtree import build_clique_tree

__all__ = ["TableBatchTree"]

# Cliques are merged into their parents while the merged table has at most
# this many entries, as in the engine: fewer numpy calls per pass.
_MERGE_SIZE = 64
# Sums onto a separator or a variable are products with a 0/1 matrix (one BLAS
# call) when the matrix has at most this many entries, else numpy reductions.
_MATRIX_ENTRIES = 1 << 12
# Rows of one product with such a matrix (see _product).
_ROWS = 128


@dataclass(frozen=True)
class _Link:
    """How a child clique's separator sits in its parent's axes."""

    child: int
    parent: int
    separator: int  # entries of the separator
    # The message viewed in the child's separator order, then transposed to the
    # parent's order and padded with ones to broadcast over the parent's table.
    child_shape: tuple[int, ...]
    to_parent: tuple[int, ...]
    broadcast: tuple[int, ...]
    # The parent's belief summed onto the separator: by one product with a 0/1
    # matrix (parent entries, separator) for small tables; else the axes summed
    # out, and the transposition of what is left into the child's order.
    matrix: np.ndarray | None
    summed: tuple[int, ...]
    to_child: tuple[int, ...]


class TableBatchTree:
    """A clique tree compiled once, propagating a batch of table sets at a time.

    Parameters
    ----------
    cards : sequence of int
        Number of states of each variable ``0..n-1``.
    parents : sequence of sequence of int
        Each variable's parents, in the order of its CPT's axes 1, 2, ...

    Attributes
    ----------
    entries : int
        Table entries of all cliques (the work of one member of a batch).
    """

    def __init__(self, cards: Sequence[int], parents: Sequence[Sequence[int]]) -> None:
        self._cards = tuple(cards)
        self._parents = tuple(tuple(p) for p in parents)
        tree = build_clique_tree(self._cards, [tuple(p) for p in parents], merge_size=_MERGE_SIZE)
        self._cliques = tree.cliques
        self._parent = tree.parent
        self._home = tree.home
        self._shapes = tuple(tuple(self._cards[v] for v in clique) for clique in tree.cliques)
        self._sizes = tuple(math.prod(shape) for shape in self._shapes)
        self.entries: int = sum(self._sizes)
        # Each CPT's axes (variable, parents...) reordered as its clique lists them.
        self._cpt_view: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = []
        self._outside: list[tuple[int, ...]] = []  # the clique's axes outside the family
        self._family_matrix: list[np.ndarray | None] = []
        for v, ps in enumerate(parents):
            family = (v, *ps)
            c = tree.family_clique[v]
            clique = tree.cliques[c]
            axes = sorted(range(len(family)), key=lambda i: clique.index(family[i]))
            shape = tuple(self._cards[u] if u in family else 1 for u in clique)
            self._cpt_view.append((c, tuple(axes), shape))
            self._outside.append(tuple(a for a, u in enumerate(clique) if u not in family))
            # The family's posterior in (variable, parents...) order, by one product.
            self._family_matrix.append(
                _sum_matrix(self._shapes[c], [clique.index(u) for u in family])
            )
        self._links: list[_Link | None] = []
        for c, p in enumerate(tree.parent):
            if p < 0:
                self._links.append(None)
                continue
            shared = tree.cliques[c][: tree.separator_size[c]]
            parent_vars = tree.cliques[p]
            positions = [parent_vars.index(u) for u in shared]
            left = sorted(positions)  # the parent's kept axes, in the parent's order
            self._links.append(
                _Link(
                    child=c,
                    parent=p,
                    separator=math.prod(self._cards[u] for u in shared),
                    child_shape=tuple(self._cards[u] for u in shared),
                    to_parent=tuple(sorted(range(len(shared)), key=positions.__getitem__)),
                    broadcast=tuple(self._cards[u] if u in shared else 1 for u in parent_vars),
                    matrix=_sum_matrix(self._shapes[p], positions),
                    summed=tuple(
                        a for a in range(len(parent_vars)) if parent_vars[a] not in shared
                    ),
                    to_child=tuple(left.index(q) for q in positions),
                )
            )
        # Each variable's marginal from its home clique's belief, by a 0/1 matrix.
        self._marginal = tuple(
            _sum_matrix(self._shapes[h], [self._cliques[h].index(v)])
            for v, h in enumerate(self._home)
        )
        self._children: list[list[int]] = [[] for _ in tree.cliques]
        for c, p in enumerate(tree.parent):
            if p >= 0:
                self._children[p].append(c)

    def propagate(
        self,
        cpts: Sequence[np.ndarray],
        likelihoods: Mapping[int, np.ndarray],
        targets: Sequence[int],
        *,
        batch_axes: int = 1,
        families: list[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return log P(e) and the targets' posteriors for every member of a batch.

        Parameters
        ----------
        cpts : sequence of numpy.ndarray
            Per variable, shape ``(*batch, card, *parent cards)``, where each
            batch axis has the batch's length or 1 (shared along it).
        likelihoods : mapping of int to numpy.ndarray
            Per observed variable, shape ``(*batch, card)``, likewise.
        targets : sequence of int
            Variables whose posteriors are wanted, all of one cardinality.
        batch_axes : int, default 1
            Number of leading batch axes: e.g. 2 for (parameter sets, cases).
        families : list, optional
            If given, filled with every variable's family posterior
            P(variable, parents | e), shape ``(*batch, card, *parent cards)``
            like its CPT (zero where the evidence has probability zero).

        Returns
        -------
        log_evidence : numpy.ndarray
            Shape ``batch``; ``-inf`` where the evidence has probability zero.
        posteriors : numpy.ndarray
            Shape ``(*batch, len(targets), card)``, each marginal summing to one;
            zero where the evidence has probability zero.
        """
        lead = batch_axes
        arrays = [*cpts, *likelihoods.values()]
        batch = _batch_shape(arrays, lead)
        # Each clique's factors multiplied in order, the first taken as it is
        # (it times a table of ones, the same numbers): each product only as
        # large as the axes its factors have so far, broadcast to the clique's
        # shape at the end.
        partial: list[np.ndarray | None] = [None] * len(self._shapes)
        # Whether a clique's table is an array of this call's own, which a
        # product of its shape may overwrite (the same numbers, no new array).
        owned = [False] * len(self._shapes)
        for cpt, (c, axes, shape) in zip(cpts, self._cpt_view, strict=True):
            order = (*range(lead), *(lead + a for a in axes))
            view = np.transpose(cpt, order).reshape(*cpt.shape[:lead], *shape)
            before = partial[c]
            partial[c] = view if before is None else _times(before, view, owned, c)
        for v, likelihood in likelihoods.items():
            c = self._home[v]
            clique = self._cliques[c]
            pad = [1] * len(clique)
            pad[clique.index(v)] = self._cards[v]
            view = likelihood.reshape(*likelihood.shape[:lead], *pad)
            before = partial[c]
            partial[c] = view if before is None else _times(before, view, owned, c)
        tables: list[np.ndarray] = []
        for c, (table, shape) in enumerate(zip(partial, self._shapes, strict=True)):
            if table is None:
                tables.append(np.ones((1,) * lead + shape))
            elif table.shape[lead:] != shape:
                full = np.broadcast_to(table, (*table.shape[:lead], *shape))
                # A clique with children gets its full table from their first
                # message; a leaf's is read twice (summed up, then for its belief).
                if self._children[c]:
                    tables.append(full)
                    owned[c] = False
                else:
                    tables.append(np.ascontiguousarray(full))
                    owned[c] = True
            else:
                tables.append(table)
        log_evidence = np.zeros((1,) * lead)
        raw: list[np.ndarray | None] = [None] * len(tables)
        root = len(tables) - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            for c in range(len(tables)):  # children before parents
                for child in self._children[c]:
                    link = self._links[child]
                    message = raw[child]
                    assert link is not None and message is not None
                    scale = message.sum(axis=-1, keepdims=True)
                    log_evidence = log_evidence + np.log(scale[..., 0])
                    normalised = _over_positive(message, scale)
                    view = normalised.reshape(*normalised.shape[:lead], *link.child_shape)
                    view = view.transpose(*range(lead), *(lead + a for a in link.to_parent))
                    tables[c] = _times(
                        tables[c], view.reshape(*view.shape[:lead], *link.broadcast), owned, c
                    )
                if c != root:
                    link = self._links[c]
                    assert link is not None
                    raw[c] = _sum_last(tables[c], lead, link.separator)
            total = _sum_last(tables[root], lead, 1)[..., 0]
            log_evidence = log_evidence + np.log(total)
            beliefs: list[np.ndarray | None] = [None] * len(tables)
            beliefs[root] = _over_positive(
                tables[root], total.reshape(*total.shape, *(1,) * len(self._shapes[root]))
            )
            needed = range(root - 1, -1, -1) if families is not None else self._needed(targets)
            for c in needed:  # parents before children
                link = self._links[c]
                above = beliefs[link.parent] if link is not None else None
                sent = raw[c]
                assert link is not None and above is not None and sent is not None
                above_lead = above.shape[:lead]
                if link.matrix is not None:
                    rows = above.reshape(-1, self._sizes[link.parent])
                    down = _product(rows, link.matrix).reshape(*above_lead, link.separator)
                else:
                    down = above.sum(axis=tuple(lead + a for a in link.summed))
                    down = down.transpose(*range(lead), *(lead + a for a in link.to_child))
                    down = down.reshape(*above_lead, link.separator)
                ratio = _over_positive(down, sent)
                flat = tables[c].reshape(*tables[c].shape[:lead], link.separator, -1)
                # The table is not read again: its belief may take its place.
                product = _times(flat, ratio[..., None], owned, c)
                beliefs[c] = product.reshape(*product.shape[:lead], *self._shapes[c])
        if families is not None:
            for v, ((c, axes, _), outside) in enumerate(
                zip(self._cpt_view, self._outside, strict=True)
            ):
                belief = beliefs[c]
                assert belief is not None
                matrix = self._family_matrix[v]
                if matrix is not None:
                    family_shape = (self._cards[v], *(self._cards[u] for u in self._parents[v]))
                    flat = _product(belief.reshape(-1, self._sizes[c]), matrix)
                    families.append(flat.reshape(*belief.shape[:lead], *family_shape))
                    continue
                summed = tuple(lead + a for a in outside)
                family = belief.sum(axis=summed) if summed else belief
                # The clique's order of the family's axes, back to (variable, parents...).
                order = (*range(lead), *(lead + int(a) for a in np.argsort(axes)))
                families.append(np.transpose(family, order))
        card = self._cards[targets[0]] if targets else 0
        posteriors = np.zeros((*batch, len(targets), card))
        for i, v in enumerate(targets):
            c = self._home[v]
            belief = beliefs[c]
            assert belief is not None
            matrix = self._marginal[v]
            if matrix is not None:
                marginal = _product(belief.reshape(-1, self._sizes[c]), matrix)
                posteriors[..., i, :] = marginal.reshape(*belief.shape[:lead], card)
            else:
                axis = self._cliques[c].index(v)
                others = tuple(lead + a for a in range(len(self._shapes[c])) if a != axis)
                posteriors[..., i, :] = belief.sum(axis=others) if others else belief
        # Each marginal divided by its own total, as the engine does: it sums to one
        # to the last bit and hard evidence reads exactly 0 and 1.
        posteriors = _over_positive(posteriors, posteriors.sum(axis=-1, keepdims=True))
        return np.broadcast_to(log_evidence, batch).copy(), posteriors

    def propagate_last(
        self,
        cpts: Sequence[np.ndarray],
        likelihoods: Mapping[int, np.ndarray],
        targets: Sequence[int],
        *,
        batch_axes: int = 1,
        fixed: Mapping[int, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`propagate` (without ``families``) with the batch axes last inside.

        The arguments and results are laid out as for :meth:`propagate`; in
        between, every clique table is ``(*clique shape, *batch)``, so each
        product and sum runs over the batch in its innermost loop, contiguous,
        rather than over a clique axis of two or three states.  For large
        batches this is the faster layout; the numbers agree with
        :meth:`propagate` to rounding.

        ``fixed`` maps variables to the state every member observes (hard
        evidence, no likelihood of its own; not a target): each table
        keeps only that state's slice of the variable's axis, so every
        clique holding it is that many times smaller.
        """
        lead = batch_axes
        fixed = fixed or {}
        assert not any(v in fixed for v in (*likelihoods, *targets)), "a fixed variable is observed"
        cards = [1 if v in fixed else card for v, card in enumerate(self._cards)]
        shapes = [tuple(cards[v] for v in clique) for clique in self._cliques]
        arrays = [*cpts, *likelihoods.values()]
        batch = _batch_shape(arrays, lead)
        # Each clique's factors -- its CPTs, its evidence and its children's
        # messages -- are multiplied smallest first, so that the products
        # before the last are as small as the axes they span.
        factors: list[list[np.ndarray]] = [[] for _ in shapes]
        for v, (cpt, (c, axes, _)) in enumerate(zip(cpts, self._cpt_view, strict=True)):
            family = (v, *self._parents[v])
            if any(u in fixed for u in family):
                states = tuple(
                    slice(fixed[u], fixed[u] + 1) if u in fixed else slice(None) for u in family
                )
                cpt = cpt[(slice(None),) * lead + states]
            order = (*(lead + a for a in axes), *range(lead))
            shape = tuple(cards[u] if u in family else 1 for u in self._cliques[c])
            factors[c].append(np.transpose(cpt, order).reshape(*shape, *cpt.shape[:lead]))
        for v, likelihood in likelihoods.items():
            c = self._home[v]
            clique = self._cliques[c]
            pad = [1] * len(clique)
            pad[clique.index(v)] = self._cards[v]
            factors[c].append(
                np.moveaxis(likelihood, -1, 0).reshape(*pad, *likelihood.shape[:lead])
            )
        owned = [False] * len(shapes)
        tables: list[np.ndarray] = []
        log_evidence = np.zeros((1,) * lead)
        raw: list[np.ndarray | None] = [None] * len(shapes)
        separator = [1] * len(shapes)
        root = len(shapes) - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            for c, shape in enumerate(shapes):  # children before parents
                found = factors[c]
                for child in self._children[c]:
                    link = self._links[child]
                    message = raw[child]
                    assert link is not None and message is not None
                    scale = message.sum(axis=0)
                    log_evidence = log_evidence + np.log(scale)
                    normalised = _over_positive(message, scale)
                    tail = normalised.shape[1:]
                    shared = shapes[child][: len(link.child_shape)]
                    view = normalised.reshape(*shared, *tail)
                    view = view.transpose(*link.to_parent, *range(len(shared), len(shared) + lead))
                    padded = (s if b > 1 else 1 for s, b in zip(shape, link.broadcast, strict=True))
                    found.append(view.reshape(*padded, *tail))
                if found:
                    found.sort(key=lambda factor: factor.size)
                    table = found[0]
                    for factor in found[1:]:
                        table = _times(table, factor, owned, c)
                else:
                    table = np.ones(shape + (1,) * lead)
                if table.shape[: len(shape)] != shape:
                    table = np.broadcast_to(table, (*shape, *table.shape[len(shape) :]))
                    table = np.ascontiguousarray(table)
                    owned[c] = True
                tables.append(table)
                if c != root:
                    link = self._links[c]
                    assert link is not None
                    separator[c] = math.prod(shape[: len(link.child_shape)])
                    raw[c] = _sum_rest(table, len(shape), separator[c])
            total = _sum_rest(tables[root], len(shapes[root]), 1)[0]
            log_evidence = log_evidence + np.log(total)
            # Beliefs stay unnormalised (each sums to the member's P(e)): each
            # marginal is divided by its own total at the end.
            beliefs: list[np.ndarray | None] = [None] * len(tables)
            beliefs[root] = tables[root]
            for c in self._needed(targets):  # parents before children
                link = self._links[c]
                assert link is not None
                above = beliefs[link.parent]
                sent = raw[c]
                assert above is not None and sent is not None
                width = len(shapes[link.parent])
                down = above.sum(axis=link.summed) if link.summed else above
                kept = width - len(link.summed)
                down = down.transpose(*link.to_child, *range(kept, kept + lead))
                down = down.reshape(separator[c], *down.shape[kept:])
                ratio = _over_positive(down, sent)
                table = tables[c]
                flat = table.reshape(separator[c], -1, *table.shape[len(shapes[c]) :])
                # The table is not read again: its belief may take its place.
                product = _times(flat, ratio[:, None], owned, c)
                beliefs[c] = product.reshape(*shapes[c], *product.shape[2:])
        card = self._cards[targets[0]] if targets else 0
        # The marginals side by side, batch last, then viewed batch first.
        stacked = np.zeros((len(targets), card, *batch))
        for i, v in enumerate(targets):
            c = self._home[v]
            belief = beliefs[c]
            assert belief is not None
            axis = self._cliques[c].index(v)
            others = tuple(a for a in range(len(shapes[c])) if a != axis)
            stacked[i] = belief.sum(axis=others) if others else belief
        stacked = _over_positive(stacked, stacked.sum(axis=1, keepdims=True))
        posteriors = np.moveaxis(stacked, (0, 1), (-2, -1))
        return np.broadcast_to(log_evidence, batch).copy(), posteriors

    def _needed(self, targets: Sequence[int]) -> list[int]:
        """Return the cliques below the root on the paths to the targets' homes, root first."""
        needed = set()
        for v in targets:
            c = self._home[v]
            while self._parent[c] >= 0 and c not in needed:
                needed.add(c)
                c = self._parent[c]
        return sorted(needed, reverse=True)


def _times(table: np.ndarray, factor: np.ndarray, owned: list[bool], c: int) -> np.ndarray:
    """Return ``table * factor``, in place when ``table`` is clique ``c``'s own and keeps its shape.

    Marks the result as the clique's own either way.
    """
    if owned[c] and _fits(factor.shape, table.shape):
        np.multiply(table, factor, out=table)
        return table
    owned[c] = True
    # In C order, so that the reshapes of the passes are views, not copies.
    return np.multiply(table, factor, order="C")


def _fits(factor: tuple[int, ...], table: tuple[int, ...]) -> bool:
    """Whether a factor of shape ``factor`` broadcasts into a table of shape ``table``."""
    skip = len(table) - len(factor)
    return skip >= 0 and all(f == 1 or f == t for f, t in zip(factor, table[skip:], strict=True))


def _sum_last(table: np.ndarray, lead: int, separator: int) -> np.ndarray:
    """Sum a clique table onto its leading ``separator`` entries: shape ``(*batch, separator)``.

    One matrix-vector product over all rows (BLAS), not a numpy reduction.
    """
    rows = table.reshape(-1, table[(0,) * lead].size // separator)
    return (rows @ np.ones(rows.shape[1])).reshape(*table.shape[:lead], separator)


def _sum_rest(table: np.ndarray, axes: int, separator: int) -> np.ndarray:
    """Sum a batch-last clique table of ``axes`` clique axes onto its leading ``separator`` entries.

    Returns ``(separator, *batch)``.
    """
    tail = table.shape[axes:]
    summed: np.ndarray = table.reshape(separator, -1, *tail).sum(axis=1)
    return summed


def _product(rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Return ``rows @ matrix``, a block of rows at a time.

    One large product lets BLAS spread it over threads, which for these thin
    matrices costs far more than it gains, worst on a busy machine; blocks of
    :data:`_ROWS` rows stay on one.
    """
    if len(rows) <= _ROWS:
        return rows @ matrix
    out = np.empty((len(rows), matrix.shape[1]))
    for start in range(0, len(rows), _ROWS):
        np.matmul(rows[start : start + _ROWS], matrix, out=out[start : start + _ROWS])
    return out


def _sum_matrix(shape: Sequence[int], kept: Sequence[int], *, limit: int = 1) -> np.ndarray | None:
    """Return the 0/1 matrix summing a flat table of ``shape`` onto ``kept`` (in that order).

    None when the matrix would have more than ``limit`` times
    :data:`_MATRIX_ENTRIES` entries.
    """
    size = math.prod(shape)
    kept_shape = [shape[axis] for axis in kept]
    if size * math.prod(kept_shape) > _MATRIX_ENTRIES:
        return None
    coordinates = np.indices(shape).reshape(len(shape), -1)
    if kept:
        column = np.ravel_multi_index([coordinates[axis] for axis in kept], kept_shape)
    else:
        column = np.zeros(size, dtype=np.intp)
    matrix = np.zeros((size, math.prod(kept_shape)))
    matrix[np.arange(size), column] = 1.0
    return matrix


def _over_positive(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Return ``numerator / denominator``, 0 where the denominator is 0 (0/0 is 0).

    Only for a numerator that is 0 wherever the denominator is -- a total
    divides its own terms, and a parent's belief is zero wherever the child's
    message to it is -- so one pass over the numerator does.
    """
    if denominator.all():
        return numerator / denominator
    quotient: np.ndarray = numerator / np.where(denominator > 0, denominator, 1.0)
    return quotient


def _batch_shape(arrays: Sequence[np.ndarray], lead: int) -> tuple[int, ...]:
    """Return the batch the ``lead`` leading axes of ``arrays`` broadcast to (each 1 or n)."""
    if not arrays:
        return (1,) * lead
    shape = tuple(max(a.shape[axis] for a in arrays) for axis in range(lead))
    if any(a.shape[axis] not in (1, n) for a in arrays for axis, n in enumerate(shape)):
        raise ValueError(f"batch axes do not broadcast to {shape}")
    return shape
