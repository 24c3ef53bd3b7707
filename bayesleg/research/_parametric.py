"""The model's network with its tables built from a batch of parameter vectors.

A :class:`ParametricNetwork` holds the structure of the model file's network
over the nodes a set of cases can reach (every factor and condition, and the
observed symptoms: an unobserved symptom is barren), compiled once into a
:class:`~bayesleg.inference._table_batch.TableBatchTree`.  Its tables come
from a ``(batch, parameters)`` array of values, one row per member of the
batch, in the order of :meth:`NodeSpec.parameters
<bayesleg.knowledge.modelfile.NodeSpec.parameters>` node by node (the order
of :func:`bayesleg.research.sensitivity.parameter_ranges`), built in numpy
with the formulas of :func:`bayesleg.knowledge.noisyor.node_table`.

A condition or symptom whose terms are single parents, without preventers,
with three or more parents, may be written as a chain of small OR gates
(Heckerman and Breese's sequential decomposition, exact; see
:mod:`bayesleg.inference._noisy_or_chains`), which the network does when that
gives it the smaller min-fill cliques.  Each weight then sits in one table of
at most three variables.

A finding observed absent whose table is such a noisy-OR (single parents, no
preventer, no child) is not kept as a node: P(absent | parents) = (1 - leak)
prod (1 - w)^x is a product of one factor per parent, so the network holds it
as one small table per factor, each observed (see :func:`structure`), and the
finding no longer ties its parents into one clique.  Its numbers move the
case as before, through those tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np

from bayesleg.inference._jtree import min_fill_cost
from bayesleg.inference._table_batch import TableBatchTree
from bayesleg.knowledge.modelfile import STATES, ModelSpec, NodeSpec

__all__ = ["ParametricNetwork", "evaluate", "kept_nodes", "parametric_network", "structure"]

# Nodes with fewer parents gain nothing from a chain (as in the engine).
_MIN_PARENTS = 3
# Compiled networks kept, by model version and kept nodes.
_CACHED = 64
# Clique table entries of one chunk of a batch (times a few copies in flight).
_WORK = 1 << 20

# From this many parameter sets on, cases are propagated by distinct evidence.
_ALIKE_SETS = 64

# Tables of at most this many entries per parameter set are built once for
# every parameter set and shared by the networks of one evaluation.
_SHARED_TABLE = 1 << 10

Builder = Callable[[np.ndarray], np.ndarray]


def kept_nodes(spec: ModelSpec, observed: Iterable[str]) -> frozenset[str]:
    """Return every factor and condition, ``observed``, and all their ancestors."""
    return _kept(_Key(spec), frozenset(observed))


def structure(
    spec: ModelSpec, evidence: Mapping[str, str]
) -> tuple[frozenset[str], frozenset[str]]:
    """Return the nodes a case keeps, and the findings it observes absent that are factorised.

    A finding observed absent whose table is a leaky noisy-OR of single
    parents, with no preventer and no child, is kept out of the network:
    P(absent | parents) = (1 - leak) prod (1 - w)^x is a product of one
    factor per parent, which the network takes as small tables of their own
    (see :class:`ParametricNetwork`), so that the finding does not tie its
    parents together.
    """
    factorable = _factorable(_Key(spec))
    absent = frozenset(
        node for node, state in evidence.items() if state == "absent" and node in factorable
    )
    by_id = {node.id: node for node in spec.nodes} if absent else {}
    parents = {parent for node in absent for parent in by_id[node].parent_ids}
    return kept_nodes(spec, (set(evidence) - absent) | parents), absent


@lru_cache(maxsize=_CACHED)
def _factorable(key: _Key) -> frozenset[str]:
    spec = key.spec
    with_children = {parent for node in spec.nodes for parent in node.parent_ids}
    return frozenset(
        node.id
        for node in spec.nodes
        if node.kind == "symptom"
        and node.id not in with_children
        and not node.inhibitors
        and all(len(members) == 1 for members, _ in node.terms)
    )


@lru_cache(maxsize=1024)
def _kept(key: _Key, observed: frozenset[str]) -> frozenset[str]:
    spec = key.spec
    by_id = {node.id: node for node in spec.nodes}
    kept = {node.id for node in spec.nodes if node.kind != "symptom"} | observed
    stack = list(kept)
    while stack:
        for parent in by_id[stack.pop()].parent_ids:
            if parent not in kept:
                kept.add(parent)
                stack.append(parent)
    return frozenset(kept)


def parametric_network(
    spec: ModelSpec, kept: frozenset[str], absent: frozenset[str] = frozenset()
) -> ParametricNetwork:
    """Return the compiled network of ``spec`` over ``kept`` and ``absent``, from a small cache."""
    return _cached(_Key(spec), kept, absent)


class _Key:
    """A model file as a cache key: by path and version (a hash of its bytes)."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._key = (spec.path, spec.version, id(spec.nodes))

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and self._key == other._key


@lru_cache(maxsize=_CACHED)
def _cached(key: _Key, kept: frozenset[str], absent: frozenset[str]) -> ParametricNetwork:
    return ParametricNetwork(key.spec, kept, absent)


class ParametricNetwork:
    """The network of ``spec`` over the nodes ``kept``, tables from parameter values.

    Attributes
    ----------
    conditions : tuple of str
        The conditions, in file order (all are kept).
    index : mapping of str to int
        Each kept node's variable in the compiled tree.
    entries : int
        Clique table entries: the work of one member of a batch.
    """

    def __init__(
        self, spec: ModelSpec, kept: frozenset[str], absent: frozenset[str] = frozenset()
    ) -> None:
        nodes = [node for node in spec.nodes if node.id in kept]
        factorised = [node for node in spec.nodes if node.id in absent]
        starts = {}
        start = 0
        #: Each node's first number (in parameter_ranges order) and how many it has.
        self.numbers: dict[str, tuple[int, int]] = {}
        for node in spec.nodes:
            starts[node.id] = start
            self.numbers[node.id] = (start, len(node.parameters()))
            start += len(node.parameters())
        self.n_parameters = start
        #: The hand-set numbers, ``(1, parameters)``.
        self.nominal = np.array([[p.p for node in spec.nodes for _, p in node.parameters()]])
        self.nominal.setflags(write=False)
        self._nominal_tables: list[np.ndarray] | None = None
        self.conditions = tuple(node.id for node in spec.nodes if node.kind == "condition")
        position = {node.id: i for i, node in enumerate(spec.nodes)}
        # With chains or without, whichever the min-fill cliques say is the
        # smaller (the quick measure, before building either tree).
        candidates = []
        for chained in (False, True) if any(map(_chainable, nodes)) else (False,):
            layout = _Layout(nodes, starts, position, chained)
            for node in factorised:
                layout.factorise(node, starts[node.id])
            candidates.append((min_fill_cost(layout.cards, layout.parents), layout))
        _, layout = min(candidates, key=lambda item: item[0])
        self._builders = layout.builders
        #: Each variable's name and its parents' names: the same key, the same table.
        self.keys: tuple[tuple[str, tuple[str, ...]], ...] = tuple(layout.keys)
        self._tree = TableBatchTree(layout.cards, layout.parents)
        self.index: Mapping[str, int] = layout.index
        #: Each kept node's variables: itself, and its hidden chain variables if chained.
        self.variables_of: Mapping[str, tuple[int, ...]] = {
            node: tuple(variables) for node, variables in layout.variables_of.items()
        }
        self.entries = self._tree.entries
        self._targets = [layout.index[c] for c in self.conditions]
        #: The findings observed absent that are factorised, each by its variables' names.
        self.absent: Mapping[str, tuple[str, ...]] = {
            node: tuple(layout.names[v] for v in layout.variables_of[node]) for node in absent
        }

    def evidence_of(self, evidence: Mapping[str, str]) -> dict[str, str]:
        """Return a case's evidence by variable: a factorised finding as each of its factors."""
        result = {}
        for node, state in evidence.items():
            for name in self.absent.get(node, (node,)):
                result[name] = state
        return result

    def tables(self, values: np.ndarray) -> list[np.ndarray]:
        """Return every variable's CPT for each row of ``values`` (batch, parameters)."""
        return [build(values) for build in self._builders]

    def posteriors(
        self,
        values: np.ndarray,
        likelihoods: Mapping[str, np.ndarray],
        tables: Sequence[np.ndarray] | None = None,
        fixed: Mapping[str, str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return log P(e) and P(condition present | e) for parameter sets times cases.

        ``values`` is ``(sets, parameters)``; ``likelihoods`` maps observed
        node ids to ``(cases, 2)`` arrays; ``tables``, if given, are
        ``self.tables(values)`` built already; ``fixed`` maps nodes other
        than conditions to the state every case observes (kept out of
        ``likelihoods``; see :meth:`TableBatchTree.propagate_last`).
        Returns arrays of shape ``(sets, cases)`` and ``(sets, cases, conditions)``.
        """
        if tables is None:
            tables = self.tables(values)
        tables = [table[:, None] for table in tables]
        by_variable = {self.index[name]: lk[None] for name, lk in likelihoods.items()}
        states = {self.index[name]: STATES.index(state) for name, state in (fixed or {}).items()}
        log_evidence, posteriors = self._tree.propagate_last(
            tables, by_variable, self._targets, batch_axes=2, fixed=states
        )
        return log_evidence, posteriors[..., STATES.index("present")]

    def tables_of(self, node: str, values: np.ndarray) -> list[np.ndarray]:
        """Return the CPTs of ``node``'s variables for each row of ``values``."""
        return [self._builders[v](values) for v in self.variables_of[node]]

    def family_posteriors(
        self, values: np.ndarray, likelihoods: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Return log P(e), P(condition present | e) and every family's posterior, per case.

        ``values`` is ``(1, parameters)``, ``likelihoods`` ``(cases, 2)`` arrays;
        the family posteriors are ``(cases, *CPT shape)``, one per variable.
        """
        if values is self.nominal:
            if self._nominal_tables is None:
                self._nominal_tables = self.tables(values)
            tables = self._nominal_tables
        else:
            tables = self.tables(values)
        by_variable = {self.index[name]: lk for name, lk in likelihoods.items()}
        families: list[np.ndarray] = []
        log_evidence, posteriors = self._tree.propagate(
            tables, by_variable, self._targets, families=families
        )
        cases = len(log_evidence)
        families = [
            f if len(f) == cases else np.broadcast_to(f, (cases, *f.shape[1:])) for f in families
        ]
        return log_evidence, posteriors[..., STATES.index("present")], families


class _Layout:
    """The variables, parents and table builders of the kept nodes."""

    def __init__(
        self,
        nodes: Sequence[NodeSpec],
        starts: Mapping[str, int],
        position: Mapping[str, int],
        chained: bool,
    ) -> None:
        self.cards: list[int] = []
        self.parents: list[tuple[int, ...]] = []
        self.builders: list[Builder] = []
        self.keys: list[tuple[str, tuple[str, ...]]] = []
        self.index: dict[str, int] = {}
        self.names: list[str] = []
        self.variables_of: dict[str, list[int]] = {}
        for node in nodes:
            first = starts[node.id]
            count = len(node.parameters())
            if chained and _chainable(node):
                self._chain(node, first, position)
                continue
            self._add(
                node.id,
                tuple(self.index[p] for p in node.parent_ids),
                _node_builder(node, slice(first, first + count)),
            )

    def factorise(self, node: NodeSpec, first: int) -> None:
        """Add ``node``, observed absent, as one small table per factor of P(absent | parents).

        ``node!leak`` (no parents) and ``node!{parent}`` for each term, each
        observed absent: P(absent) = 1 - leak, and P(absent | parent) = 1
        when the parent is absent, 1 - w when present.
        """
        self._add(f"{node.id}!leak", (), _factor_prior(first), node.id)
        for t, (members, _) in enumerate(node.terms):
            (parent,) = members
            name = f"{node.id}!{parent}"
            self._add(name, (self.index[parent],), _absent_factor(first + 1 + t), node.id)

    def _add(self, name: str, parents: tuple[int, ...], build: Builder, node: str = "") -> int:
        self.variables_of.setdefault(node or name, []).append(len(self.cards))
        names = self.names
        self.keys.append((name, tuple(names[p] for p in parents)))
        names.append(name)
        self.index[name] = len(self.cards)
        self.cards.append(len(STATES))
        self.parents.append(parents)
        self.builders.append(build)
        return self.index[name]

    def _chain(self, node: NodeSpec, first: int, position: Mapping[str, int]) -> None:
        """Add ``node`` as a chain Z1 .. Zk = node, parents in file order of the network."""
        parents = [members[0] for members, _ in node.terms]
        order = sorted(range(len(parents)), key=lambda i: position[parents[i]])
        previous = -1
        for step, i in enumerate(order):
            name = node.id if step == len(order) - 1 else f"{node.id}#{step + 1}"
            weight = first + 1 + i
            parent = self.index[parents[i]]
            if previous < 0:
                previous = self._add(name, (parent,), _first_link(first, weight), node.id)
            else:
                previous = self._add(name, (previous, parent), _next_link(weight), node.id)


def _chainable(node: NodeSpec) -> bool:
    return (
        node.kind != "factor"
        and not node.inhibitors
        and len(node.terms) >= _MIN_PARENTS
        and all(len(members) == 1 for members, _ in node.terms)
    )


def _first_link(leak: int, weight: int) -> Builder:
    """Z1 given its parent: P(absent | x) = (1 - leak) (1 - w)^x, shape (batch, 2, 2)."""

    def build(values: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            log_leak = np.log1p(-values[:, leak])
            log_absent = np.stack([log_leak, log_leak + np.log1p(-values[:, weight])], axis=1)
        return np.stack([np.exp(log_absent), -np.expm1(log_absent)], axis=1)

    return build


def _next_link(weight: int) -> Builder:
    """Zj given (Z(j-1), x): produced already, or by this parent with probability w."""

    def build(values: np.ndarray) -> np.ndarray:
        w = values[:, weight]
        table = np.zeros((len(values), 2, 2, 2))
        table[:, 0, 0, 0] = 1.0
        table[:, 0, 0, 1] = 1.0 - w
        table[:, 1, 0, 1] = w
        table[:, 1, 1, :] = 1.0
        return table

    return build


def _sets_last(table: np.ndarray) -> np.ndarray:
    """Return ``table`` (sets, ...) with the sets innermost in memory, viewed as before.

    The batch-last propagation reads every table with its batch axes last:
    so laid out, its products run contiguously over the sets.
    """
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(table, 0, -1)), -1, 0)


def _factor_prior(number: int) -> Builder:
    """A root's table from its one number ``p``: (1 - p, p), shape (batch, 2)."""

    def prior(values: np.ndarray) -> np.ndarray:
        p = values[:, number]
        return np.stack([1.0 - p, p], axis=1)

    return prior


def _absent_factor(weight: int) -> Builder:
    """P(absent | x) = (1 - w)^x of one term, and its complement: shape (batch, 2, 2)."""

    def build(values: np.ndarray) -> np.ndarray:
        w = values[:, weight]
        table = np.zeros((len(values), 2, 2))
        table[:, 0, 0] = 1.0
        table[:, 0, 1] = 1.0 - w
        table[:, 1, 1] = w
        return table

    return build


def _node_builder(node: NodeSpec, numbers: slice) -> Builder:
    """The batched :func:`~bayesleg.knowledge.noisyor.node_table` of one node."""
    if node.kind == "factor":
        return _factor_prior(numbers.start)
    parents = node.parent_ids
    axis = {parent: i for i, parent in enumerate(parents)}
    shape = (2,) * len(parents)
    present = STATES.index("present")
    terms = [
        np.logical_and.reduce(
            [_indicator(shape, axis[m], present) for m in members], axis=0
        ).astype(bool)
        for members, _ in node.terms
    ]
    preventers = [
        _indicator(shape, axis[inhibitor.factor], STATES.index(inhibitor.when))
        for inhibitor in node.inhibitors
    ]
    keys = [key for key, _ in node.parents]
    # The preventers of one term (by term index), and those of the whole node.
    scoped: dict[int, list[int]] = {}
    whole = []
    for j, inhibitor in enumerate(node.inhibitors):
        if inhibitor.term is None:
            whole.append(j)
        else:
            scoped.setdefault(keys.index(inhibitor.term), []).append(j)
    leak = numbers.start
    first_term = leak + 1
    first_preventer = first_term + len(terms)

    def table(values: np.ndarray) -> np.ndarray:
        batch = len(values)
        expand = (batch, *(1,) * len(shape))
        own = values[:, numbers]
        with np.errstate(divide="ignore"):  # a probability of 1 has log1p(-1) = -inf
            logs = np.log1p(-own)
            log_absent = np.broadcast_to(logs[:, 0].reshape(expand), (batch, *shape))
            for t, active in enumerate(terms):
                if t in scoped:
                    weight = np.broadcast_to(own[:, 1 + t].reshape(expand), (batch, *shape))
                    for j in scoped[t]:
                        q = own[:, first_preventer - leak + j].reshape(expand)
                        weight = weight * np.where(preventers[j], 1.0 - q, 1.0)
                    log_term = np.log1p(-weight)
                else:
                    log_term = logs[:, first_term - leak + t].reshape(expand)
                log_absent = log_absent + np.where(active, log_term, 0.0)
            log_kept = np.zeros((1, *shape))
            for j in whole:
                log_kept = log_kept + np.where(
                    preventers[j], logs[:, first_preventer - leak + j].reshape(expand), 0.0
                )
        produced = -np.expm1(log_absent)
        kept = produced * np.exp(log_kept)
        absent = np.exp(log_absent) + produced * -np.expm1(log_kept)
        return np.stack([absent, kept], axis=1)

    return table


def _indicator(shape: tuple[int, ...], axis: int, state: int) -> np.ndarray:
    """A boolean array of ``shape``, true where the given axis is in ``state``."""
    index = np.zeros(shape[axis], dtype=bool)
    index[state] = True
    return np.broadcast_to(
        index.reshape((1,) * axis + (2,) + (1,) * (len(shape) - axis - 1)), shape
    )


def evaluate(
    spec: ModelSpec,
    evidence: Sequence[Mapping[str, str]],
    values: np.ndarray,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return log P(e) and P(condition present | e) for parameter sets times cases.

    Cases observing the same symptoms share one compiled network, pruned to
    them; each group of cases and parameter sets is cut into chunks whose
    tables stay within :data:`_WORK` entries.  What all cases of a chunk
    observe alike is taken by slicing the tables, not as a likelihood, and
    with many parameter sets a chunk holds cases of one evidence only.

    Parameters
    ----------
    spec : ModelSpec
    evidence : sequence of mapping
        Normalised evidence (node id to ``"present"`` or ``"absent"``).
    values : numpy.ndarray
        ``(sets, parameters)``, in :func:`parameter_ranges` order.
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk.

    Returns
    -------
    log_evidence : numpy.ndarray
        ``(sets, cases)``, ``-inf`` where a case's evidence has probability zero.
    posteriors : numpy.ndarray
        ``(sets, cases, conditions)``, conditions in file order.
    """
    groups: dict[tuple[frozenset[str], frozenset[str]], list[int]] = {}
    for case, observed in enumerate(evidence):
        groups.setdefault(structure(spec, observed), []).append(case)
    n_conditions = sum(node.kind == "condition" for node in spec.nodes)
    log_evidence = np.empty((len(values), len(evidence)))
    posteriors = np.empty((len(values), len(evidence), n_conditions))
    plans: list[tuple[ParametricNetwork, list[int], int, int]] = []
    for (kept, absent), members in groups.items():
        network = parametric_network(spec, kept, absent)
        per_chunk = max(1, _WORK // network.entries)
        # With many parameter sets, cases of the same evidence go together, so
        # that all of it is fixed (see below); with few, all cases of the network.
        alike: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for case in members:
            key = tuple(sorted(evidence[case].items())) if len(values) >= _ALIKE_SETS else ()
            alike.setdefault(key, []).append(case)
        for cases in alike.values():
            for first in range(0, len(cases), per_chunk):
                part = cases[first : first + per_chunk]
                sets = max(1, per_chunk // len(part))
                plans.extend(
                    (network, part, start, min(start + sets, len(values)))
                    for start in range(0, len(values), sets)
                )
    # Every network of the kept nodes builds the same table for the same
    # variable; each is built once for all the parameter sets, unless large.
    built: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    def tables(network: ParametricNetwork, start: int, stop: int) -> list[np.ndarray]:
        result = []
        for key, build in zip(network.keys, network._builders, strict=True):
            if (2 << len(key[1])) > _SHARED_TABLE:
                result.append(_sets_last(build(values[start:stop])))
                continue
            table = built.get(key)
            if table is None:
                table = built[key] = _sets_last(build(values))
            result.append(table[start:stop])
        return result

    conditions = {node.id for node in spec.nodes if node.kind == "condition"}
    for done, (network, part, start, stop) in enumerate(plans, start=1):
        by_variable = [network.evidence_of(evidence[case]) for case in part]
        # What every case of the part observes alike is fixed (its tables sliced).
        fixed = {
            name: state
            for name, state in by_variable[0].items()
            if name not in conditions and all(seen.get(name) == state for seen in by_variable)
        }
        likelihoods = {}
        for name in {name for seen in by_variable for name in seen} - fixed.keys():
            table = np.ones((len(part), len(STATES)))
            for row, seen in enumerate(by_variable):
                if name in seen:
                    table[row] = 0.0
                    table[row, STATES.index(seen[name])] = 1.0
            likelihoods[name] = table
        logs, marginals = network.posteriors(
            values[start:stop], likelihoods, tables(network, start, stop), fixed
        )
        log_evidence[start:stop, part] = logs
        posteriors[start:stop, part] = marginals
        if progress is not None:
            progress(done, len(plans))
    return log_evidence, posteriors
