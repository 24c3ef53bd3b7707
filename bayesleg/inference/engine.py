"""Compiled exact inference: batched junction-tree propagation in numpy.

:func:`compile` turns a network into an immutable :class:`Engine` once; the
engine then answers any number of queries, each a batch of cases that may
observe different variables, with hard or soft evidence.

Method
------
A junction tree, compiled once (plain Python, then numpy):

1. Rescale every table's columns to sum to one exactly.  Leaky noisy-OR
   tables of three or more parents may be rewritten as chains of small OR
   gates with hidden variables (exact; :mod:`bayesleg.inference._noisy_or_chains`),
   which is done when it at least halves the compiled tables -- for the leg
   model, from 20,342 entries to 6,186.  The chains take their parents in an
   order chosen by a short, seeded search for the smallest cliques.
2. Moralise and triangulate with the best of three greedy elimination
   heuristics (min-fill, min-weight, weighted min-fill) and build a rooted
   clique tree from the elimination tree, merging cliques into their parents
   while the merged table stays at 64 entries or fewer
   (:mod:`bayesleg.inference._jtree`).  Each clique lists its variables with the
   separator to its parent first.
3. Multiply each conditional table into one clique containing its family,
   precompute every reshape, sum and 0/1 summing matrix the queries need
   (:mod:`bayesleg.inference._propagate`), and propagate once without evidence.

An engine keeps, for each list of targets it has been asked for (up to 256),
the targets' ids, the cliques on the paths to them and the steps that read
their marginals, so a model asking for its conditions on every call does that
work once.

A query is a batch of cases given as one likelihood vector per observed
variable and case.  Batches of fewer than 16 cases run on tables with a
leading batch axis, whose sums are small matrix products case by case
(:mod:`bayesleg.inference._propagate`: the least fixed cost per call); larger
ones on tables with a trailing batch axis, whose sums add whole rows of cases
at once (:mod:`bayesleg.inference._propagate_last`: the least cost per case).

* *Collect*, over the cliques whose subtree holds evidence: each multiplies
  its table by its children's messages (the precomputed ones for children
  without evidence) and by its variables' likelihoods, and sends its parent
  the sum over its own variables.  A message is rescaled to sum to one often
  enough that no unscaled product can approach underflow; the logs of the
  scale factors and of the root's total give log P(e).
* *Distribute*, only along the paths from the root to the cliques holding
  the targets: a clique's belief is its collected table times its parent's
  belief summed onto the separator, divided by the message it sent (Hugin's
  scheme; 0/0 counts as 0).  A marginal is its home clique's belief summed
  onto the variable and divided by its own total.

Every choice of method is fixed at compile time and each kernel sums every
case in the same order whatever its batch, so a case's answer is the same, to
the last bit, alone or in any batch of fewer than 16 cases, and in any batch
of 16 or more however it is chunked; between the two it agrees to rounding
(about 1e-16).  A case whose total comes near underflow is
recomputed from the conditional tables in extended precision; one whose
evidence has probability zero -- found by propagating the tables' zero
patterns -- raises :class:`~bayesleg.errors.ImpossibleEvidenceError`.  Large
batches are cut into chunks whose working memory stays within the engine's
memory limit; on glibc, the first batch keeps the heap from being handed back
to the system between chunks (see :mod:`bayesleg.inference._heap`).

The engine never mutates its tables after compile, so one engine may serve
many threads at once.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from bayesleg.errors import (
    BayeslegError,
    ImpossibleEvidenceError,
    InvalidArgumentError,
    NetworkTooLargeError,
    UnknownNodeError,
    UnsupportedSourceError,
)
from bayesleg.inference import _cases, _heap, _propagate, _propagate_last
from bayesleg.inference._jtree import CliqueTooLargeError, CliqueTree, build_clique_tree
from bayesleg.inference._noisy_or_chains import chain_noisy_ors
from bayesleg.inference.network import DEFAULT_MEMORY_LIMIT, DiscreteNetwork, check_table_sizes

__all__ = ["Engine", "compile"]

# Cliques are merged into their parents while the merged table has at most
# this many entries: fewer numpy calls per query for a little more arithmetic.
_MERGE_SIZE = 64
# Noisy-OR nodes are chained when that at least halves the table entries:
# below that, the extra cliques cost more per query than they save.
_CHAIN_GAIN = 0.5
# Working memory of one chunk of a batch, in bytes, chosen for cache reuse: the
# batch-first kernel's calls are per case, the batch-last kernel's per chunk.
_CHUNK_BYTES = 1 << 22
_CHUNK_BYTES_LAST = 1 << 25
_BYTES = 8
# Every clique's table is held this many times at least (see Engine._check_memory),
# so no clique may have more than memory_limit / (_COPIES * _BYTES) entries.
_COPIES = 8
# Cases whose total or any message scale falls below this are recomputed in
# extended precision: they are within a few hundred orders of underflow.
_THRESHOLD = 1e-250
# Target lists whose ids and cliques an engine keeps, at most.
_TARGETS_KEPT = 256


def compile(
    source: Any, *, memory_limit: int = DEFAULT_MEMORY_LIMIT, noisy_or: bool | None = None
) -> Engine:
    """Compile a network into an inference engine.

    Parameters
    ----------
    source : DiscreteNetwork, Model, pgmpy DiscreteBayesianNetwork, str or os.PathLike
        The network: a :class:`~bayesleg.inference.network.DiscreteNetwork`; an object
        with a ``discrete_network`` attribute (a bayesleg ``Model``); a pgmpy
        ``DiscreteBayesianNetwork``; or the path of a ``.bif``, ``.xmlbif``,
        ``.xdsl`` or ``.uai`` file, optionally gzipped (``.gz``).
    memory_limit : int, default 1 GiB
        Bytes the compiled tables plus the working memory of one case may
        take; batches are chunked to stay within it.
    noisy_or : bool, optional
        Whether to rewrite leaky noisy-OR tables with three or more parents
        as chains of small OR gates (exact; see
        :mod:`bayesleg.inference._noisy_or_chains`).  By default, only when that at
        least halves the compiled table entries.

    Returns
    -------
    Engine

    Raises
    ------
    UnsupportedSourceError
        If ``source`` is none of the above.
    NetworkTooLargeError
        If the compiled tables would exceed ``memory_limit``; the message
        names the largest clique and its size.  A file's declared tables are
        checked against ``memory_limit`` before they are read, a network's
        tables before they are copied, and each clique as triangulation forms
        it, so a network too large is refused before the work it would take.
    ModelFileError
        If ``source`` is a file that cannot be read or is not a valid network.

    Examples
    --------
    >>> from bayesleg.inference.network import DiscreteNetwork
    >>> network = DiscreteNetwork(
    ...     variables=("rain", "wet"),
    ...     states={"rain": ("no", "yes"), "wet": ("no", "yes")},
    ...     parents={"rain": (), "wet": ("rain",)},
    ...     cpts={"rain": [0.8, 0.2], "wet": [[0.9, 0.1], [0.1, 0.9]]},
    ... )
    >>> engine = compile(network)
    >>> engine.posteriors([{"wet": "yes"}], targets=["rain"])["rain"].round(3)
    array([[0.308, 0.692]])
    """
    return Engine(_as_network(source, memory_limit), memory_limit=memory_limit, noisy_or=noisy_or)


def _as_network(source: Any, memory_limit: int) -> DiscreteNetwork:
    if isinstance(source, DiscreteNetwork):
        return source
    inner = getattr(source, "discrete_network", None)
    if isinstance(inner, DiscreteNetwork):
        return inner
    if type(source).__module__.startswith("pgmpy"):
        from bayesleg.inference.formats import from_pgmpy

        return from_pgmpy(source, memory_limit=memory_limit)
    if isinstance(source, str | os.PathLike):
        from bayesleg.inference.formats import read_network

        return read_network(source, memory_limit=memory_limit)
    raise UnsupportedSourceError(
        f"cannot compile a {type(source).__name__}; expected a DiscreteNetwork, a bayesleg "
        "Model, a pgmpy DiscreteBayesianNetwork or the path of a .bif, .xmlbif, .xdsl or "
        ".uai file"
    )


def _normalised(network: DiscreteNetwork) -> DiscreteNetwork:
    """Rescale every table's columns to sum to one exactly.

    A network tolerates rounding in its tables, but answers should not
    depend on whether a barren variable's table is multiplied in.
    """
    return DiscreteNetwork(
        variables=network.variables,
        states=network.states,
        parents=network.parents,
        cpts={name: cpt / cpt.sum(axis=0, keepdims=True) for name, cpt in network.cpts.items()},
    )


def _tree(network: DiscreteNetwork, memory_limit: int) -> CliqueTree:
    """Return the network's clique tree; raise CliqueTooLargeError if no clique can fit."""
    position = {name: i for i, name in enumerate(network.variables)}
    return build_clique_tree(
        [network.cardinality(name) for name in network.variables],
        [[position[p] for p in network.parents[name]] for name in network.variables],
        merge_size=_MERGE_SIZE,
        max_entries=memory_limit // (_COPIES * _BYTES),
    )


def _entries(network: DiscreteNetwork, tree: CliqueTree) -> int:
    cards = [network.cardinality(name) for name in network.variables]
    return sum(math.prod(cards[v] for v in clique) for clique in tree.cliques)


def _structure(
    network: DiscreteNetwork, noisy_or: bool | None, memory_limit: int
) -> tuple[DiscreteNetwork, CliqueTree]:
    """Choose between the network and its noisy-OR chains; return it and its clique tree.

    Raises
    ------
    NetworkTooLargeError
        If neither has a clique tree whose cliques could fit in ``memory_limit``.
    """
    chained = chain_noisy_ors(network) if noisy_or is not False else None
    if chained is None or noisy_or:
        candidate = network if chained is None else chained[0]
        try:
            return candidate, _tree(candidate, memory_limit)
        except CliqueTooLargeError as error:
            raise _too_large(candidate, error, memory_limit) from None
    try:
        chain_tree = _tree(chained[0], memory_limit)
    except CliqueTooLargeError:
        chain_tree = None
    try:
        plain_tree = _tree(network, memory_limit)
    except CliqueTooLargeError as error:
        if chain_tree is None:
            raise _too_large(network, error, memory_limit) from None
        return chained[0], chain_tree
    if chain_tree is not None and _entries(chained[0], chain_tree) < _CHAIN_GAIN * _entries(
        network, plain_tree
    ):
        return chained[0], chain_tree
    return network, plain_tree


def _too_large(
    network: DiscreteNetwork, error: CliqueTooLargeError, memory_limit: int
) -> NetworkTooLargeError:
    names = [network.variables[v] for v in sorted(error.variables)]
    return NetworkTooLargeError(
        f"the network cannot be compiled within the memory_limit of {memory_limit} bytes: "
        f"every elimination order tried forms a clique of at least {error.size} variables "
        f"({_shown(names)}) and {error.entries} entries, which needs at least "
        f"{_COPIES * _BYTES * error.entries} bytes"
    )


def _shown(names: Sequence[str]) -> str:
    """Return the first six names, and how many more there are."""
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


class Engine:
    """An immutable, thread-safe compiled network.

    Build one with :func:`compile`.

    Attributes
    ----------
    variables : tuple of str
        The network's variables, in topological order.
    states : mapping of str to tuple of str
        The state names of each variable; posterior columns follow them.
    cliques : tuple of tuple of str
        The variables of each clique of the compiled tree.
    clique_sizes : tuple of int
        Number of table entries of each clique.
    """

    def __init__(
        self,
        network: DiscreteNetwork,
        *,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        noisy_or: bool | None = None,
    ) -> None:
        self.variables: tuple[str, ...] = tuple(network.variables)
        self.states: Mapping[str, tuple[str, ...]] = network.states
        # Kept so bayesleg.inference.dask can compile the same engine in other processes.
        self._source = (network, noisy_or)
        self._state_index = {
            name: {state: i for i, state in enumerate(network.states[name])}
            for name in self.variables
        }
        # The tables are copied below: refuse them first if they alone are too large.
        check_table_sizes({name: cpt.size for name, cpt in network.cpts.items()}, memory_limit)
        internal, tree = _structure(_normalised(network), noisy_or, memory_limit)
        #: Internal variables: the network's, plus any hidden chain variables.
        self._names = internal.variables
        position = {name: i for i, name in enumerate(internal.variables)}
        self._index = {name: position[name] for name in self.variables}
        self._cards = tuple(internal.cardinality(name) for name in internal.variables)
        self.cliques: tuple[tuple[str, ...], ...] = tuple(
            tuple(self._names[v] for v in clique) for clique in tree.cliques
        )
        self._check_memory(tree, memory_limit, sum(cpt.size for cpt in internal.cpts.values()))
        families = [
            (v, *(position[p] for p in internal.parents[name]))
            for v, name in enumerate(internal.variables)
        ]
        cpts = [internal.cpts[name] for name in internal.variables]
        self._tables = _propagate.make_tables(tree, self._cards, families, cpts)
        # Kept to rebuild the tables from the CPTs when a case needs more care.
        self._tree, self._families, self._cpts = tree, families, cpts
        self._plan = _propagate.make_plan(tree, self._cards, self._tables)
        self._tables_last = _propagate_last.make_tables(tree, self._cards, families, cpts)
        self._plan_last = _propagate_last.make_plan(tree, self._cards, self._tables_last)
        self._compute_prior()

    def __repr__(self) -> str:
        return (
            f"<Engine with {len(self.variables)} variables, {len(self.clique_sizes)} cliques, "
            f"largest {max(self.clique_sizes)} entries>"
        )

    # -- compile -----------------------------------------------------------------

    def _check_memory(self, tree: Any, memory_limit: int, cpt_entries: int) -> None:
        cards = self._cards
        size = [math.prod(cards[v] for v in clique) for clique in tree.cliques]
        separator = [
            math.prod(cards[v] for v in clique[:k])
            for clique, k in zip(tree.cliques, tree.separator_size, strict=True)
        ]
        self.clique_sizes: tuple[int, ...] = tuple(size)
        # Compiled: the CPTs, and for each of the two kernels the tables and the
        # prior run's collected tables, beliefs and messages.  Per case:
        # collected tables and beliefs, messages, evidence.
        static = _BYTES * (cpt_entries + 6 * sum(size) + 6 * sum(separator))
        per_case = _BYTES * (2 * sum(size) + 4 * sum(separator) + 2 * sum(cards))
        if static + per_case > memory_limit:
            largest = max(range(len(size)), key=size.__getitem__)
            names = self.cliques[largest]
            raise NetworkTooLargeError(
                f"the compiled network needs {static + per_case} bytes, over the memory_limit "
                f"of {memory_limit} bytes; its largest clique has {len(names)} variables "
                f"({_shown(names)}) and {size[largest]} entries ({_BYTES * size[largest]} bytes)"
            )
        self._memory_limit = memory_limit
        room = max(memory_limit - static, per_case)
        self._chunk = max(1, min(room // per_case, _CHUNK_BYTES // per_case))
        self._chunk_last = max(1, min(room // per_case, _CHUNK_BYTES_LAST // per_case))

    def _compute_prior(self) -> None:
        plan = self._plan
        n_cliques = len(plan.parent)
        everything = [True] * n_cliques
        root_first = tuple(reversed(range(n_cliques)))
        with np.errstate(divide="ignore", invalid="ignore"):
            run = _propagate.propagate(plan, self._tables, 1, {}, everything, root_first, None)
        if not run.total[0] > 0:
            raise BayeslegError("the network's tables give every joint state probability zero")
        run.freeze()
        self._prior = _propagate.make_prior(plan, self._tables, run)
        self._rescaled = tuple(c for c in range(n_cliques - 1) if run.scale[c] is not None)
        self._prior_log_scale = {c: np.log(run.scale[c]) for c in self._rescaled}
        self._prior_log_evidence = self._log_evidence(run, everything)[0]
        # The batch-last kernel's prior run, on two copies of the empty case so
        # that its sums run in the order of any batch; the first copy is kept.
        doubled = tuple(np.repeat(table, 2, axis=1) for table in self._tables_last)
        with np.errstate(divide="ignore", invalid="ignore"):
            both = _propagate_last.propagate(
                self._plan_last, doubled, 2, {}, everything, root_first, None
            )
        last = _propagate_last.first_case(both)
        last.freeze()
        self._prior_last = last
        self._prior_log_scale_last = {c: np.log(last.scale[c]) for c in self._rescaled}
        everyone = tuple(range(len(self._names)))
        out = np.empty((1, sum(self._cards)))
        _propagate.marginals(plan, run, everyone, out)
        marginals = []
        column = 0
        for card in self._cards:
            marginal = out[:, column : column + card]
            marginal.setflags(write=False)
            marginals.append(marginal)
            column += card
        self._prior_marginals = tuple(marginals)
        self._root_first = root_first
        self._all_targets = tuple(self._index[name] for name in self.variables)
        self._all_needed = self._paths(self._all_targets)
        # Target lists already met, by names and by ids (see _target_ids).
        self._targets_seen: dict[tuple[str, ...], tuple[int, ...]] = {}
        self._needed_seen: dict[tuple[int, ...], Sequence[int]] = {}
        self._steps_seen: dict[tuple[int, ...], _propagate.MarginalSteps] = {}

    # -- queries -----------------------------------------------------------------

    def posteriors(self, cases: Any, targets: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Return each target's posterior marginal for every case.

        Parameters
        ----------
        cases : list of dict, pandas.DataFrame or dask.dataframe.DataFrame
            One case per item or row.  A value is a state name, or a
            soft-evidence likelihood ``{state: weight}`` (weights finite and
            non-negative, not all zero; unlisted states weigh zero).  A
            missing key, ``None`` or NaN means unobserved.
        targets : iterable of str, optional
            The variables wanted; by default every variable.

        Returns
        -------
        dict of str to numpy.ndarray
            For each target, an array of shape ``(n_cases, n_states)`` whose
            columns follow ``engine.states[target]``.  A variable observed
            with hard evidence has its observed state's column at one.
            For a Dask DataFrame, instead, a lazy Dask DataFrame with one
            column per target and state, named ``"{target}={state}"`` (see
            :func:`bayesleg.inference.dask.posteriors_frame`).

        Raises
        ------
        UnknownNodeError
            If a case or ``targets`` names an unknown variable.
        InvalidStateError
            If a value is not a state of its variable, or a soft-evidence
            weight is negative, not finite, or all weights are zero.
        InvalidEvidenceError
            If ``cases`` or a value has the wrong type.
        ImpossibleEvidenceError
            If a case's evidence has probability zero; the message names the
            case, and the error's ``case`` attribute holds its index.

        Examples
        --------
        >>> from bayesleg.inference.network import DiscreteNetwork
        >>> network = DiscreteNetwork(
        ...     variables=("rain", "wet"),
        ...     states={"rain": ("no", "yes"), "wet": ("no", "yes")},
        ...     parents={"rain": (), "wet": ("rain",)},
        ...     cpts={"rain": [0.8, 0.2], "wet": [[0.9, 0.1], [0.1, 0.9]]},
        ... )
        >>> engine = compile(network)
        >>> cases = [{"wet": "yes"}, {"wet": {"no": 1.0, "yes": 3.0}}, {}]
        >>> engine.posteriors(cases, targets=["rain"])["rain"].round(3)
        array([[0.308, 0.692],
               [0.632, 0.368],
               [0.8  , 0.2  ]])
        """
        if type(cases).__module__.startswith("dask"):
            from bayesleg.inference.dask import posteriors_frame

            network, noisy_or = self._source
            return posteriors_frame(
                self,
                cases,
                targets,
                network=network,
                memory_limit=self._memory_limit,
                noisy_or=noisy_or,
            )
        likelihoods, n_cases = _cases.to_likelihoods(cases, self._state_index, self.variables)
        return self.posteriors_from_likelihoods(likelihoods, n_cases, targets)[0]

    def log_evidence(self, cases: Any) -> np.ndarray:
        """Return log P(evidence) of every case.

        For soft evidence this is the log of the sum, over the observed
        variables' states, of the probability times the likelihood.

        Parameters
        ----------
        cases : list of dict, or pandas.DataFrame
            As for :meth:`posteriors`.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_cases,)``.

        Raises
        ------
        UnknownNodeError, InvalidStateError, InvalidEvidenceError, ImpossibleEvidenceError
            As for :meth:`posteriors`.

        Examples
        --------
        >>> from bayesleg.inference.network import DiscreteNetwork
        >>> network = DiscreteNetwork(
        ...     variables=("rain",), states={"rain": ("no", "yes")},
        ...     parents={"rain": ()}, cpts={"rain": [0.8, 0.2]},
        ... )
        >>> compile(network).log_evidence([{"rain": "yes"}, {}]).round(4)
        array([-1.6094,  0.    ])
        """
        likelihoods, n_cases = _cases.to_likelihoods(cases, self._state_index, self.variables)
        return self.posteriors_from_likelihoods(likelihoods, n_cases, ())[1]

    def posteriors_from_likelihoods(
        self,
        likelihoods: Mapping[str, np.ndarray],
        n_cases: int,
        targets: Iterable[str] | None = None,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Return posteriors and log P(e) from per-variable likelihood arrays.

        The fast path behind :meth:`posteriors` and :meth:`log_evidence`.

        Parameters
        ----------
        likelihoods : mapping of str to numpy.ndarray
            For each observed variable, shape ``(n_cases, n_states)``, or
            ``(n_states,)`` for the same likelihood in every case: finite,
            non-negative weights.  A one-hot row is hard evidence, a row of
            ones no evidence.  Variables not in the mapping are unobserved.
        n_cases : int
            Number of cases.
        targets : iterable of str, optional
            The variables wanted; by default every variable.

        Returns
        -------
        posteriors : dict of str to numpy.ndarray
            Shape ``(n_cases, n_states)`` per target.
        log_evidence : numpy.ndarray
            Shape ``(n_cases,)``.

        Raises
        ------
        UnknownNodeError
            If a likelihood or target names an unknown variable.
        InvalidStateError
            If an array has the wrong shape, or a negative or non-finite entry.
        ImpossibleEvidenceError
            If a case's evidence has probability zero (its ``case`` attribute
            holds the case's index).

        Examples
        --------
        >>> import numpy as np
        >>> from bayesleg.inference.network import DiscreteNetwork
        >>> network = DiscreteNetwork(
        ...     variables=("rain", "wet"),
        ...     states={"rain": ("no", "yes"), "wet": ("no", "yes")},
        ...     parents={"rain": (), "wet": ("rain",)},
        ...     cpts={"rain": [0.8, 0.2], "wet": [[0.9, 0.1], [0.1, 0.9]]},
        ... )
        >>> wet = np.array([[1.0, 1.0], [0.0, 1.0]])  # unobserved, then "yes"
        >>> posteriors, log_evidence = compile(network).posteriors_from_likelihoods(
        ...     {"wet": wet}, 2, targets=["rain"]
        ... )
        >>> posteriors["rain"].round(3)
        array([[0.8  , 0.2  ],
               [0.308, 0.692]])
        """
        target_ids = self._target_ids(targets)
        observed = self._variable_ids(likelihoods)
        names = list(likelihoods)
        # The batch size alone picks the kernel, whatever the chunks.
        last = n_cases >= _propagate_last.BATCH_LAST
        if last:
            _heap.keep_heap()
        block, log_scale = _cases.stack_likelihoods(
            list(likelihoods.values()),
            [self._cards[v] for v in observed],
            names,
            n_cases,
            transposed=last,
        )
        cards = self._cards
        out = np.empty((n_cases, sum(cards[v] for v in target_ids)))
        log_evidence = np.empty(n_cases)
        chunk = self._chunk_last if last else self._chunk
        for start in range(0, n_cases, chunk):
            stop = min(start + chunk, n_cases)
            self._query_chunk(
                block[start:stop],
                observed,
                target_ids,
                out[start:stop],
                log_evidence[start:stop],
                first=start,
                last=last,
            )
        log_evidence += log_scale
        posteriors = {}
        offset = 0
        for v in target_ids:
            posteriors[self._names[v]] = out[:, offset : offset + cards[v]]
            offset += cards[v]
        return posteriors, log_evidence

    def _hard_posteriors(
        self, block: np.ndarray, observed: Sequence[str], targets: Sequence[str]
    ) -> np.ndarray:
        """Return the posteriors of ``targets`` side by side, ``(cases, their states)``.

        A short path behind :meth:`posteriors_from_likelihoods`, with the
        same numbers, for fewer than ``BATCH_LAST`` cases whose likelihoods
        need no check or scaling: ``block`` holds each case's likelihoods of
        ``observed`` side by side, finite and non-negative, each with a
        largest entry of exactly one (hard evidence, or none).

        Raises
        ------
        UnknownNodeError, ImpossibleEvidenceError
            As :meth:`posteriors_from_likelihoods`.
        """
        n_cases = len(block)
        if n_cases >= _propagate_last.BATCH_LAST:
            raise ValueError(f"{n_cases} cases: use posteriors_from_likelihoods")
        target_ids = self._target_ids(targets)
        ids = self._variable_ids(observed)
        cards = self._cards
        out = np.empty((n_cases, sum(cards[v] for v in target_ids)))
        for start in range(0, n_cases, self._chunk):
            stop = min(start + self._chunk, n_cases)
            self._query_chunk(
                block[start:stop],
                ids,
                target_ids,
                out[start:stop],
                None,
                first=start,
            )
        return out

    def _variable_ids(self, names: Iterable[str]) -> list[int]:
        """Return the variables named, raising UnknownNodeError for a name the network lacks."""
        index = self._index
        ids = []
        for name in names:
            v = index.get(name)
            if v is None:
                raise UnknownNodeError(name, self.variables, what="variable")
            ids.append(v)
        return ids

    def _target_ids(self, targets: Iterable[str] | None) -> Sequence[int]:
        if targets is None:
            return self._all_targets
        if isinstance(targets, str):
            targets = (targets,)
        if not isinstance(targets, Iterable) or isinstance(targets, Mapping):
            raise InvalidArgumentError(
                f"targets must be variable names, got {type(targets).__name__}"
            )
        if isinstance(targets, tuple | list):
            if not all(isinstance(name, str) for name in targets):
                bad = next(name for name in targets if not isinstance(name, str))
                raise UnknownNodeError(bad, self.variables, what="variable")
            key = tuple(targets)
            known = self._targets_seen.get(key)
            if known is not None:
                return known
        ids = []
        for name in targets:
            v = self._index.get(name) if isinstance(name, str) else None
            if v is None:
                raise UnknownNodeError(name, self.variables, what="variable")
            ids.append(v)
        if isinstance(targets, tuple | list) and len(self._targets_seen) < _TARGETS_KEPT:
            # The same target lists come again and again (a model's conditions):
            # keep their ids as a tuple, with which _needed keeps its answer.
            return self._targets_seen.setdefault(tuple(targets), tuple(ids))
        return ids

    def _query_chunk(
        self,
        block: np.ndarray,
        observed: Sequence[int],
        target_ids: Sequence[int],
        out: np.ndarray,
        log_evidence: np.ndarray | None,
        *,
        first: int,
        last: bool = False,
    ) -> None:
        """Answer one chunk of cases, the first numbered ``first`` in the batch.

        With ``last``, by the batch-last kernel (a chunk of one case as two
        copies of it, so that its sums run in the order of any other chunk).
        With ``log_evidence`` None, the batch-first kernel leaves log P(e) out.
        """
        if not observed:
            column = 0
            for v in target_ids:
                out[:, column : column + self._cards[v]] = self._prior_marginals[v]
                column += self._cards[v]
            if log_evidence is not None:
                log_evidence[:] = self._prior_log_evidence
            return
        if last and len(block) == 1:
            doubled_out = np.empty((2, out.shape[1]))
            doubled_logs = np.empty(2)
            self._query_chunk(
                np.repeat(block, 2, axis=0),
                observed,
                target_ids,
                doubled_out,
                doubled_logs,
                first=first,
                last=True,
            )
            out[:] = doubled_out[:1]
            if log_evidence is not None:
                log_evidence[:] = doubled_logs[:1]
            return
        active = self._active(observed)
        needed = self._needed(target_ids)
        logs_wanted = log_evidence is not None
        if log_evidence is None:
            log_evidence = np.empty(len(block))  # for _recompute
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            if last:
                evidence = self._evidence_by_clique(block, observed, transpose=True)
                run = _propagate_last.propagate(
                    self._plan_last,
                    self._tables_last,
                    block.shape[0],
                    evidence,
                    active,
                    needed,
                    self._prior_last,
                )
                logs, smallest = self._log_evidence(run, active, self._prior_log_scale_last)
                log_evidence[:] = logs
                _propagate_last.marginals(self._plan_last, run, target_ids, out)
            else:
                evidence = self._evidence_by_clique(block, observed)
                run = _propagate.propagate(
                    self._plan,
                    self._tables,
                    block.shape[0],
                    evidence,
                    active,
                    needed,
                    self._prior,
                )
                if logs_wanted:
                    logs, smallest = self._log_evidence(run, active)
                    log_evidence[:] = logs
                else:  # the factors _log_evidence checks, without their logs
                    smallest = run.total
                    for c in self._rescaled:
                        if active[c]:
                            smallest = np.minimum(smallest, run.scale[c])
                _propagate.marginals(
                    self._plan, run, target_ids, out, self._marginal_steps(target_ids)
                )
            # Totals this close to underflow may have lost precision on the way.
            fine = smallest > _THRESHOLD
            if not fine.all():
                bad = np.flatnonzero(~fine)
                self._recompute(block, observed, target_ids, out, log_evidence, bad, first)

    def _log_evidence(
        self, run: Any, active: Sequence[bool], prior_log_scale: Mapping[int, Any] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return log P(e) per case, and the smallest factor it was built from.

        The factors are added in one fixed order, those of cliques without
        evidence from the prior run (of the kernel that made ``run``), so that
        a case's answer does not depend on the other cases of its batch.
        """
        if prior_log_scale is None:
            prior_log_scale = self._prior_log_scale
        logs = np.log(run.total)
        smallest = run.total
        for c in self._rescaled:
            if active[c]:
                scale = run.scale[c]
                logs += np.log(scale)
                smallest = np.minimum(smallest, scale)
            else:
                logs += prior_log_scale[c]
        return logs, smallest

    def _evidence_by_clique(
        self, block: np.ndarray, observed: Sequence[int], *, transpose: bool = False
    ) -> dict[int, list[tuple[np.ndarray, int]]]:
        """Each observed variable's likelihoods by home clique: ``(cases, states)``,
        or ``(states, cases)`` with ``transpose`` (the batch-last kernel's layout)."""
        evidence: dict[int, list[tuple[np.ndarray, int]]] = {}
        home = self._plan.home
        column = 0
        for v in observed:
            card = self._cards[v]
            likelihood = block[:, column : column + card]
            if transpose:
                likelihood = np.ascontiguousarray(likelihood.T)
            evidence.setdefault(home[v], []).append((likelihood, v))
            column += card
        return evidence

    def _active(self, observed: Sequence[int]) -> list[bool]:
        """Return which cliques hold evidence in their subtree."""
        active = [False] * len(self._plan.parent)
        parent = self._plan.parent
        home = self._plan.home
        for v in observed:
            c = home[v]
            while c >= 0 and not active[c]:
                active[c] = True
                c = parent[c]
        return active

    def _needed(self, target_ids: Sequence[int]) -> Sequence[int]:
        """Return the cliques on the paths from the root to the targets, root first."""
        if target_ids is self._all_targets:
            return self._all_needed
        if isinstance(target_ids, tuple):
            known = self._needed_seen.get(target_ids)
            if known is None:
                known = self._needed_seen.setdefault(target_ids, self._paths(target_ids))
            return known
        return self._paths(target_ids)

    def _entries(self, targets: Sequence[str] | None = None) -> int:
        """Table entries a case's propagation touches: every clique, or only
        the cliques on the paths from the root to ``targets`` (the distribution
        those targets need)."""
        size = self._plan_last.size
        if targets is None:
            return sum(size)
        return sum(size[c] for c in self._needed(self._target_ids(list(targets))))

    def _marginal_steps(self, target_ids: Sequence[int]) -> _propagate.MarginalSteps:
        """Return how the batch-first kernel reads ``target_ids``, kept for tuples of ids."""
        if not isinstance(target_ids, tuple):
            return _propagate.marginal_steps(self._plan, target_ids)
        known = self._steps_seen.get(target_ids)
        if known is None:
            steps = _propagate.marginal_steps(self._plan, target_ids)
            known = self._steps_seen.setdefault(target_ids, steps)
        return known

    def _paths(self, target_ids: Sequence[int]) -> Sequence[int]:
        needed = [False] * len(self._plan.parent)
        parent = self._plan.parent
        home = self._plan.home
        for v in target_ids:
            c = home[v]
            while c >= 0 and not needed[c]:
                needed[c] = True
                c = parent[c]
        return tuple(c for c in self._root_first if needed[c])

    def _recompute(
        self,
        block: np.ndarray,
        observed: Sequence[int],
        target_ids: Sequence[int],
        out: np.ndarray,
        log_evidence: np.ndarray,
        bad: np.ndarray,
        first: int,
    ) -> None:
        """Report impossible evidence among ``bad`` cases; redo the rest in extended precision.

        ``bad`` indexes the chunk, whose first case is numbered ``first`` in
        the batch.
        """
        plan = self._plan
        sub = block[bad]
        everything = [True] * len(plan.parent)
        # Propagating the zero patterns of the CPTs tells a true zero from
        # underflow (in the evidence, or in the compiled tables themselves).
        support = _propagate.make_tables(
            self._tree, self._cards, self._families, [(cpt > 0) * 1.0 for cpt in self._cpts]
        )
        evidence = self._evidence_by_clique((sub > 0).astype(np.float64), observed)
        run = _propagate.propagate(
            plan, support, len(bad), evidence, everything, (), None, groups=False
        )
        impossible = np.flatnonzero(~(run.total > 0))
        if impossible.size:
            row = int(bad[impossible[0]])
            names = []
            column = 0
            for v in observed:
                if not np.all(block[row, column : column + self._cards[v]] == 1.0):
                    names.append(self._names[v])
                column += self._cards[v]
            error = ImpossibleEvidenceError(
                f"the evidence of case {first + row} has probability zero under the network "
                f"(observed: {', '.join(names)})"
            )
            error.case = first + row
            error.observed = tuple(names)
            raise error
        wide = _propagate.make_tables(
            self._tree,
            self._cards,
            self._families,
            [cpt.astype(np.longdouble) for cpt in self._cpts],
        )
        evidence = self._evidence_by_clique(sub.astype(np.longdouble), observed)
        run = _propagate.propagate(
            plan, wide, len(bad), evidence, everything, self._root_first, None, groups=False
        )
        logs = np.log(run.total)
        for scale in run.scale:
            if scale is not None:
                logs += np.log(scale)
        threshold = np.finfo(np.longdouble).tiny ** 0.8
        if not np.all(run.total > threshold):
            case = first + int(bad[np.flatnonzero(~(run.total > threshold))[0]])
            raise BayeslegError(
                f"the probability of the evidence of case {case} underflows even extended "
                "precision; it is too small to compute with"
            )
        sub_out = np.empty((len(bad), out.shape[1]), dtype=np.longdouble)
        _propagate.marginals(plan, run, target_ids, sub_out)
        out[bad] = sub_out
        log_evidence[bad] = logs
