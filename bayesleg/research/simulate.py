"""Synthetic cases drawn from a model, optionally conditioned exactly on evidence.

Method
------
*Without evidence*, every variable is drawn in topological order from its
conditional probability table given its parents' drawn states (ancestral
sampling): one vectorised numpy draw per variable for the whole batch.

*With evidence* E, the variables split into A, the unobserved ancestors of
E, and R, the rest.  The draw is exact, from P(A, R | E):

* A is drawn from P(A | E) by forward filtering, backward sampling over one
  run of variable elimination.  Forward: eliminate A's variables one at a
  time from the product of the tables of A and E (evidence fixed), keeping
  for each variable ``v`` the product ``T_v(v, N(v))`` of the factors it was
  multiplied with; every variable of ``N(v)`` is eliminated after ``v``, and
  ``P(v | A eliminated after v, E)`` is ``T_v`` normalised over ``v``.
  Backward: draw the variables in reverse elimination order, each from its
  ``T_v`` at the states already drawn for ``N(v)``.  The elimination runs
  once per call, whatever the number of samples.
* E takes its observed states.
* R has no observed descendant, so given A and E it follows its own tables:
  ancestral sampling again.

Likelihood weighting and Gibbs sampling would be approximate, and rejection
would discard all but a fraction P(E) of the draws.

Frames hold booleans: ``True`` for ``present``, ``False`` for ``absent``,
which :meth:`Model.diagnose <bayesleg.model.Model.diagnose>` and
:meth:`Model.rank_frame <bayesleg.model.Model.rank_frame>` read back as
evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import ImpossibleEvidenceError, InvalidArgumentError, quoted
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.knowledge.evidence import normalise_evidence
from bayesleg.knowledge.modelfile import STATES

if TYPE_CHECKING:
    import pandas

    from bayesleg.model import Model

__all__ = ["MAX_VALUES", "check_count", "check_seed", "sample_states", "simulate"]

#: Most node values one call of :func:`simulate` draws (cases times nodes): each
#: takes 8 bytes while drawing, so a call stays within 1 GiB of working memory.
MAX_VALUES = 1 << 27


def check_count(value: Any, what: str, *, minimum: int) -> int:
    """Return ``value`` as an int if it is a whole number at least ``minimum``.

    Raises
    ------
    InvalidArgumentError
        Otherwise, naming ``what`` and the value given.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidArgumentError(
            f"{what} must be a whole number >= {minimum}, got {quoted(value)}"
        )
    return int(value)


def check_seed(seed: Any, *, generator: bool = True) -> Any:
    """Return ``seed`` if it is None or a whole number >= 0 (or, if allowed, a numpy Generator).

    Raises
    ------
    InvalidArgumentError
        Otherwise, naming the value given.
    """
    if seed is None or (generator and isinstance(seed, np.random.Generator)):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        also = ", a numpy Generator" if generator else ""
        raise InvalidArgumentError(
            f"the seed must be a whole number >= 0{also} or None, got {seed!r}"
        )
    return int(seed)


def simulate(
    model: Model,
    n: int,
    *,
    seed: int | np.random.Generator | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> pandas.DataFrame:
    """Draw ``n`` synthetic cases from the model, optionally given evidence.

    Parameters
    ----------
    model : Model
        The model to draw from.
    n : int
        Number of cases (0 gives an empty frame).
    seed : int or numpy.random.Generator, optional
        Seed of the random stream; the same seed gives the same frame.
    evidence : mapping, optional
        Node id to True/False (or "present"/"absent", "yes"/"no"): draw from
        the model conditioned exactly on it.  Observed nodes keep their value.

    Returns
    -------
    pandas.DataFrame
        One row per case, one boolean column per node (``True`` = present),
        in the model's node order.

    Raises
    ------
    InvalidArgumentError
        If ``n`` is not a whole number >= 0, or would draw more than
        :data:`MAX_VALUES` node values (cases times nodes) in all; or if
        ``seed`` is not a whole number >= 0, a Generator or None.
    UnknownNodeError, InvalidStateError, InvalidEvidenceError
        If the evidence is bad, as for :meth:`Model.diagnose`.
    ImpossibleEvidenceError
        If the evidence has probability zero under the model.

    Examples
    --------
    >>> import bayesleg
    >>> model = bayesleg.load()
    >>> cohort = model.simulate(1000, seed=1, evidence={"diabetes": True})
    >>> bool(cohort["diabetes"].all()), cohort.shape
    (True, (1000, 62))
    """
    import pandas

    n = check_count(n, "the number of cases", minimum=0)
    seed = check_seed(seed)
    network = model.discrete_network
    most = MAX_VALUES // len(network.variables)
    if n > most:
        raise InvalidArgumentError(
            f"the number of cases must be at most {most} for a model of "
            f"{len(network.variables)} nodes ({MAX_VALUES} node values in one call), "
            f"got {quoted(n)}; "
            "draw a larger cohort in several calls with different seeds"
        )
    normalised = normalise_evidence({} if evidence is None else evidence, network.variables)
    codes = {node: STATES.index(state) for node, state in normalised.items()}
    states = sample_states(network, n, np.random.default_rng(seed), codes)
    present = STATES.index("present")
    return pandas.DataFrame({name: states[name] == present for name in network.variables})


def sample_states(
    network: DiscreteNetwork,
    n: int,
    rng: np.random.Generator,
    evidence: Mapping[str, int] | None = None,
) -> dict[str, np.ndarray]:
    """Draw ``n`` joint states of every variable, exactly given ``evidence``.

    Parameters
    ----------
    network : DiscreteNetwork
        The network to draw from.
    n : int
        Number of draws.
    rng : numpy.random.Generator
        The random stream.
    evidence : mapping of str to int, optional
        Observed variables and the index of their observed state.

    Returns
    -------
    dict of str to numpy.ndarray
        For each variable, the drawn state indices, shape ``(n,)``.

    Raises
    ------
    ImpossibleEvidenceError
        If the evidence has probability zero.
    """
    evidence = dict(evidence or {})
    states: dict[str, np.ndarray] = {}
    if evidence:
        conditioned = _unobserved_ancestors(network, evidence)
        states.update(_sample_given_evidence(network, evidence, conditioned, n, rng))
        for name, state in evidence.items():
            states[name] = np.full(n, state, dtype=np.intp)
    for name in network.variables:
        if name in states:
            continue
        parent_states = [states[parent] for parent in network.parents[name]]
        probabilities = _given(network.cpts[name], parent_states)
        states[name] = _draw(np.broadcast_to(probabilities.T, (n, probabilities.shape[0])), rng)
    return states


def _given(table: np.ndarray, parent_states: Sequence[np.ndarray]) -> np.ndarray:
    """Return a child-first ``table``'s columns for each case's parent states, ``(card, n)``.

    A table without parents comes back as it is, shape ``(card,)``.
    """
    index: tuple[slice | np.ndarray, ...] = (slice(None), *parent_states)
    return table[index]


def _draw(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one state per row of ``probabilities`` (shape ``(n, card)``, rows sum to one)."""
    cumulative = np.cumsum(probabilities, axis=1)[:, :-1]
    uniform = rng.random(len(probabilities))
    return (uniform[:, None] >= cumulative).sum(axis=1).astype(np.intp)


def _unobserved_ancestors(network: DiscreteNetwork, evidence: Mapping[str, int]) -> list[str]:
    """Return the unobserved ancestors of the observed variables, in topological order."""
    ancestors = network.ancestors(evidence)
    return [name for name in network.variables if name in ancestors and name not in evidence]


def _sample_given_evidence(
    network: DiscreteNetwork,
    evidence: Mapping[str, int],
    conditioned: list[str],
    n: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Draw the ``conditioned`` variables from P(conditioned | evidence), exactly."""
    cards = {name: network.cardinality(name) for name in network.variables}
    # The tables of the conditioned and observed variables, evidence fixed.
    # Their parents are all conditioned or observed (ancestors of evidence).
    factors: list[tuple[tuple[str, ...], np.ndarray]] = []
    for name in network.variables:
        if name in evidence or name in conditioned:
            scope = (name, *network.parents[name])
            index = tuple(evidence.get(v, slice(None)) for v in scope)
            factors.append(
                (tuple(v for v in scope if v not in evidence), network.cpts[name][index])
            )

    position = {name: i for i, name in enumerate(conditioned)}
    remaining = set(conditioned)
    eliminated: list[tuple[str, tuple[str, ...], np.ndarray]] = []
    while remaining:
        # Greedy: the variable whose product table is smallest (ties: earliest).
        variable = min(remaining, key=lambda v: (_table_size(v, factors, cards), position[v]))
        remaining.discard(variable)
        involved = [f for f in factors if variable in f[0]]
        factors = [f for f in factors if variable not in f[0]]
        scope, table = _product(variable, involved)
        largest = table.max()
        if not largest > 0:
            raise ImpossibleEvidenceError("the evidence has probability zero under the model")
        table = table / largest  # scaling leaves every conditional unchanged
        eliminated.append((variable, scope, table))
        factors.append((scope[1:], table.sum(axis=0)))
    if not all(np.all(table > 0) for _, table in factors):
        raise ImpossibleEvidenceError("the evidence has probability zero under the model")

    states: dict[str, np.ndarray] = {}
    for variable, scope, table in reversed(eliminated):
        weights = _given(table, [states[v] for v in scope[1:]])
        weights = np.broadcast_to(weights.T, (n, cards[variable]))
        states[variable] = _draw(weights / weights.sum(axis=1, keepdims=True), rng)
    return states


def _table_size(
    variable: str, factors: list[tuple[tuple[str, ...], np.ndarray]], cards: Mapping[str, int]
) -> int:
    scope = set().union(*(s for s, _ in factors if variable in s))
    return math.prod(cards[v] for v in scope)


def _product(
    variable: str, factors: list[tuple[tuple[str, ...], np.ndarray]]
) -> tuple[tuple[str, ...], np.ndarray]:
    """Multiply factors into one table whose first axis is ``variable``."""
    scope = [variable]
    for factor_scope, _ in factors:
        scope.extend(v for v in factor_scope if v not in scope)
    label = {v: i for i, v in enumerate(scope)}
    operands: list[Any] = []
    for factor_scope, table in factors:
        operands.extend((table, [label[v] for v in factor_scope]))
    table = np.einsum(*operands, list(range(len(scope))))
    return tuple(scope), table
