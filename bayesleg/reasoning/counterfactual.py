"""Counterfactual ranking: expected disablement and expected sufficiency.

Richens, Lee & Johri (Nature Communications 11, 3923, 2020) rank the causes
of a case by what would happen to its findings if a cause were changed,
rather than by its posterior.  Both scores live in the *twin network*: the
model's structural form, in which every node is a deterministic function of
exogenous noise, shared between the factual world and a counterfactual world
that differs by an intervention.

Structural form of a condition or symptom ``Y`` (Díez's parameterisation)::

    Y = (L_Y  or  OR over terms t of (all parents of t present and U_tY))
        and not OR over preventers j of (factor j in its state and V_jY)
    L_Y ~ Bernoulli(leak_Y),  U_tY ~ Bernoulli(weight_tY),  V_jY ~ Bernoulli(q_jY)

all independent; a term is one parent or a joint cause ``a+b``, and a
factor is its own noise, ``F ~ Bernoulli(prior_F)``.  A preventer of one
term ``t`` blocks that term alone: its clause reads ``(all parents of t
present and U_tY and not (factor j in its state and V_jY))``.  Preventers are
factors, which no intervention touches, so a preventer blocks ``Y`` (or its
term) in both worlds or in neither.

Definitions
-----------
``S+`` is the set of symptoms observed present in the evidence ``e``.

* **Expected disablement** of condition ``D``: the expected number of
  findings in ``S+`` that would switch off if ``D`` were cured,
  ``sum over s in S+ of P(s' = absent | e)`` in the world ``do(D = absent)``.
  The intervention reaches every descendant of ``D``: a condition that ``D``
  causes (``overtraining -> muscle_fatigue``) is recomputed from its own
  noise and its counterfactual parents, and may switch off too, taking its
  symptoms with it.  Factors, leaks and the noise are shared with the
  factual world.
* **Expected sufficiency** of ``D``: the expected number of findings in ``S+``
  that would stay on if every *other* condition were switched off,
  ``sum over s in S+ of P(s' = present | e)`` in the world ``do(C = absent
  for every condition C != D)``.  ``D`` keeps its factual state, even when
  one of its parents is a condition that the intervention switched off, so
  the score asks what ``D`` alone, as it actually is, accounts for.  Leaks
  and factor-to-symptom links stay on, as the definition switches off
  conditions only; a finding the leak or a factor produces counts for every
  cause alike.

Both scores are 0 when nothing is observed present, and the ranking then
falls back to the posterior (ties by posterior, then id).

Exact computation
-----------------
A finding is *plain* when its noisy-OR has single-parent terms only and no
preventers (every symptom of the shipped model).  Given the factual parents
``x`` and counterfactual parents ``x'`` of a plain finding ``s`` observed
present, ``P(s=1, s'=0 | x, x') = P0(x') - P0(x)`` with ``P0(x) = (1 - leak)
prod_{i: x_i present} (1 - w_i)``, because a switched-off parent cannot
switch anything on.  ``P0`` is a product of one factor per parent, which the
engine takes as soft evidence (``[1, 1 - w_i]`` on parent ``i``), so:

* Disablement of ``D`` for a plain child ``s`` none of whose other parents
  descends from ``D``: ``P(s=1, s'=0, e) = w_D (1 - leak_s) Z(e - s; D
  present; [1, 1 - w_i] on the other parents of s)``, with ``Z`` the
  probability of the evidence and soft evidence.  One row serves every
  parent: with ``[1, 1 - w_i]`` on *all* the parents of ``s``, ``D``'s joint
  with that row's evidence is ``(1 - w_D)`` times the ``Z`` wanted, so the
  row's probability times ``P(D present | row) / (1 - w_D)`` gives it.  A
  link of weight above ``1 - 1e-3`` takes a row of its own instead, which
  needs no division.
* Sufficiency of ``D`` for a plain ``s``: ``P(s' = 1, e) = Z(e - s) - (1 -
  leak_s) Z(e - s; [1, 1 - w_i] on D and the factor parents of s)``, and the
  last ``Z`` is the row with ``[1, 1 - w_i]`` on the factor parents alone
  times ``P(D absent | row) + (1 - w_D) P(D present | row)``.

The rows, a few per finding, go through the compiled engine in one batch
shared by every case, condition and finding.

Every other finding is read from a compiled twin network (built once per
model, score and condition): for disablement, a finding with a joint term,
or one that ``D`` reaches through a condition it causes (a chain ``D -> C ->
s``, where ``C`` may itself have joint terms and preventers); for
sufficiency, a finding with a joint term.  The twin is the model plus a
counterfactual copy ``Y'`` of every such finding and of every condition
between ``D`` and it.  From the shared noise, with ``b = prod (1 - q_j)``
over the preventers active in ``x`` and ``P0`` the noisy-OR's probability of
absence over its terms (a term active in ``x`` or ``x'`` counted once)::

    P(Y=0, Y'=0) = (1 - b) + b P0(x or x')
    P(Y=0)       = (1 - b) + b P0(x)
    P(Y'=0)      = (1 - b) + b P0(x')

so ``P(Y'=0 | Y=0) = P(Y=0, Y'=0) / P(Y=0)`` and ``P(Y'=0 | Y=1) = (P(Y'=0)
- P(Y=0, Y'=0)) / (1 - P(Y=0))``.

Differences of probabilities are taken against the evidence's probability
and clipped into range; they are exact up to rounding of order 1e-16 times
``1 / P(s | e - s)``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bayesleg.errors import ImpossibleEvidenceError, InvalidArgumentError, quoted
from bayesleg.inference._queries import PRESENT, Row, evidence_row, run_rows, with_likelihood
from bayesleg.inference.engine import Engine
from bayesleg.inference.engine import compile as compile_engine
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.knowledge.modelfile import STATES

if TYPE_CHECKING:
    from bayesleg.model import Model

__all__ = ["RANKINGS", "check_ranking", "counterfactual_scores"]

#: The rankings :meth:`Model.diagnose` knows.
RANKINGS: tuple[str, ...] = ("posterior", "expected_disablement", "expected_sufficiency")

# A link leaving its finding absent with at least this probability is read from
# one row shared by the finding's parents, divided by 1 - w; a link closer to
# certain takes a row of its own (see _disablement).
_READ_FROM_MARGINAL = 1e-3

# A noisy-OR term (its parents, its weight) and a preventer (factor, state index, q,
# and the index of the one term it prevents, or -1 for the whole node).
_Term = tuple[tuple[str, ...], float]
_Preventer = tuple[str, int, float, int]


def check_ranking(ranking: object) -> str:
    """Return ``ranking`` if it is one of :data:`RANKINGS`.

    Raises
    ------
    InvalidArgumentError
        Naming the ranking given and the rankings allowed.
    """
    if not isinstance(ranking, str) or ranking not in RANKINGS:
        raise InvalidArgumentError(
            f"unknown ranking {quoted(ranking)}; expected one of {', '.join(RANKINGS)}"
        )
    return str(ranking)


@dataclass(frozen=True)
class _Structure:
    """The noisy-OR parameters and descent relations of a model, for quick lookup.

    ``weights`` holds the plain nodes only (single-parent terms, no
    preventers), child to parent to weight: the nodes the closed forms serve.
    """

    kind: Mapping[str, str]
    leak: Mapping[str, float]
    parents: Mapping[str, tuple[str, ...]]
    terms: Mapping[str, tuple[_Term, ...]]
    preventers: Mapping[str, tuple[_Preventer, ...]]
    weights: Mapping[str, Mapping[str, float]]
    descendants: Mapping[str, frozenset[str]]
    order: tuple[str, ...]


_cache_lock = threading.Lock()
_structures: weakref.WeakKeyDictionary[DiscreteNetwork, _Structure] = weakref.WeakKeyDictionary()
_twins: weakref.WeakKeyDictionary[
    DiscreteNetwork, dict[tuple[str, str], tuple[Engine, dict[str, str]]]
] = weakref.WeakKeyDictionary()


def _structure(model: Model) -> _Structure:
    with _cache_lock:
        found = _structures.get(model.discrete_network)
        if found is None:
            found = _structures[model.discrete_network] = _build_structure(model)
        return found


def _build_structure(model: Model) -> _Structure:
    spec = model.spec
    children: dict[str, list[str]] = {node.id: [] for node in spec.nodes}
    for node in spec.nodes:
        for parent in node.parent_ids:
            children[parent].append(node.id)
    descendants: dict[str, frozenset[str]] = {}
    for node in reversed(spec.nodes):  # children before parents
        below: set[str] = set()
        for child in children[node.id]:
            below |= {child} | descendants[child]
        descendants[node.id] = frozenset(below)
    terms = {node.id: tuple((members, w.p) for members, w in node.terms) for node in spec.nodes}
    preventers = {
        node.id: tuple(
            (
                i.factor,
                STATES.index(i.when),
                i.parameter.p,
                -1 if i.term is None else [key for key, _ in node.parents].index(i.term),
            )
            for i in node.inhibitors
        )
        for node in spec.nodes
    }
    weights = {
        node.id: {members[0]: weight for members, weight in terms[node.id]}
        for node in spec.nodes
        if node.kind != "factor"
        and not preventers[node.id]
        and all(len(members) == 1 for members, _ in terms[node.id])
    }
    return _Structure(
        kind={node.id: node.kind for node in spec.nodes},
        leak={node.id: node.leak.p for node in spec.nodes if node.leak is not None},
        parents={node.id: node.parent_ids for node in spec.nodes},
        terms=terms,
        preventers=preventers,
        weights=weights,
        descendants=descendants,
        order=tuple(node.id for node in spec.nodes),
    )


def counterfactual_scores(
    model: Model, cases: Sequence[Mapping[str, str]], ranking: str
) -> np.ndarray:
    """Return every condition's counterfactual score for every case.

    Parameters
    ----------
    model : Model
        The model.
    cases : sequence of mapping
        Normalised evidence (id to ``"present"``/``"absent"``), each of
        probability above zero.
    ranking : str
        ``"expected_disablement"`` or ``"expected_sufficiency"``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_cases, n_conditions)``, conditions in ``model.conditions``
        order; each score lies in ``[0, |S+|]``.
    """
    structure = _structure(model)
    if ranking == "expected_disablement":
        return _disablement(model, structure, cases)
    if ranking == "expected_sufficiency":
        return _sufficiency(model, structure, cases)
    raise InvalidArgumentError(
        f"no counterfactual score for ranking {quoted(ranking)}; "
        f"expected one of {', '.join(RANKINGS[1:])}"
    )


class _Batch:
    """Rows for one engine batch, deduplicated, each read back as a probability ratio."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self._keys: dict[tuple, int] = {}

    def add(self, key: tuple, row: Row) -> int:
        index = self._keys.get(key)
        if index is None:
            index = self._keys[key] = len(self.rows)
            self.rows.append(row)
        return index


def _soft(row: Row, weights: Mapping[str, float], parents: Sequence[str]) -> dict[str, np.ndarray]:
    """Multiply ``[1, 1 - w_i]`` into each parent's likelihood: the factor P0 of a finding."""
    result = dict(row)
    for parent in parents:
        result = with_likelihood(result, parent, np.array([1.0, 1.0 - weights[parent]]))
    return result


def _findings(
    structure: _Structure, cases: Sequence[Mapping[str, str]], batch: _Batch
) -> tuple[list[int], list[tuple[int, str, dict[str, np.ndarray]]]]:
    """Add every case to the batch; return their rows, and each finding observed present.

    A finding comes as ``(case, symptom, the case's row without the symptom)``.
    """
    base_rows = []
    findings = []
    for index, case in enumerate(cases):
        row = evidence_row(case)
        base_rows.append(batch.add(("case", index), row))
        for node, state in case.items():
            if state == "present" and structure.kind[node] == "symptom":
                findings.append((index, node, {n: v for n, v in row.items() if n != node}))
    return base_rows, findings


def _disables_in_closed_form(structure: _Structure, finding: str, condition: str) -> bool:
    """Whether curing ``condition`` acts on ``finding`` through one link of a plain noisy-OR."""
    weights = structure.weights.get(finding)
    affected = structure.descendants[condition]
    return (
        weights is not None
        and condition in weights
        and not any(parent in affected for parent in weights)
    )


def _disablement(
    model: Model, structure: _Structure, cases: Sequence[Mapping[str, str]]
) -> np.ndarray:
    conditions = model.conditions
    scores = np.zeros((len(cases), len(conditions)))
    batch = _Batch()
    # (case, condition column, row index, condition read or None, constant) for
    # each closed-form term: the row's probability, times the condition's
    # posterior in it when one is named.
    terms: list[tuple[int, int, int, str | None, float]] = []
    twinned: dict[str, list[tuple[int, str]]] = {}  # condition -> (case, finding)
    base_rows, findings = _findings(structure, cases, batch)
    if not findings:  # nothing observed present: every score is 0
        return scores
    for index, s, without in findings:
        for column, condition in enumerate(conditions):
            if s not in structure.descendants[condition]:
                continue
            if not _disables_in_closed_form(structure, s, condition):
                twinned.setdefault(condition, []).append((index, s))
                continue
            weights = structure.weights[s]
            constant = weights[condition] * (1.0 - structure.leak[s])
            kept = 1.0 - weights[condition]
            if kept >= _READ_FROM_MARGINAL:
                # One row per finding serves every parent: with [1, 1 - w_i] on all
                # of them, P(D present, row) = (1 - w_D) Z(e - s; D present; the others).
                soft = _soft(without, weights, list(weights))
                position = batch.add(("dis", index, s), soft)
                terms.append((index, column, position, condition, constant / kept))
            else:
                others = [p for p in weights if p != condition]
                soft = with_likelihood(_soft(without, weights, others), condition, PRESENT)
                position = batch.add(("dis", index, s, condition), soft)
                terms.append((index, column, position, None, constant))
    read = sorted({term[3] for term in terms if term[3] is not None})
    found, log_evidence = _run(model, batch, base_rows, read)
    for index, column, position, parent, constant in terms:
        ratio = np.exp(log_evidence[position] - log_evidence[base_rows[index]])
        if parent is not None:
            ratio *= found[parent][position, 1]
        scores[index, column] += constant * ratio
    _add_twin_scores(model, structure, cases, "disablement", twinned, scores)
    return np.clip(scores, 0.0, None)


def _sufficiency(
    model: Model, structure: _Structure, cases: Sequence[Mapping[str, str]]
) -> np.ndarray:
    conditions = model.conditions
    batch = _Batch()
    plan = []  # (case, finding, row of e - s, row with soft evidence on the factor parents)
    twinned: list[tuple[int, str]] = []  # (case, finding) read from the twin networks
    base_rows, findings = _findings(structure, cases, batch)
    if not findings:  # nothing observed present: every score is 0
        return np.zeros((len(cases), len(conditions)))
    for index, s, without in findings:
        if s not in structure.weights:
            twinned.append((index, s))
            continue
        weights = structure.weights[s]
        factors = [p for p in weights if structure.kind[p] == "factor"]
        marginal = batch.add(("without", index, s), without)
        soft = batch.add(("suf", index, s), _soft(without, weights, factors))
        plan.append((index, s, marginal, soft))
    # Z(e - s; [1, 1 - w] on the factor parents and on D) is that row's
    # probability times P(D absent) + (1 - w_D) P(D present) in it.
    read = sorted(
        {p for _, s, _, _ in plan for p in structure.weights[s] if structure.kind[p] != "factor"}
    )
    found, log_evidence = _run(model, batch, base_rows, read)
    scores = np.zeros((len(cases), len(conditions)))
    for index, s, marginal, soft in plan:
        base = log_evidence[base_rows[index]]
        unobserved = np.exp(log_evidence[marginal] - base)  # P(e - s) / P(e)
        blocked = (1.0 - structure.leak[s]) * np.exp(log_evidence[soft] - base)
        weights = structure.weights[s]
        for column, condition in enumerate(conditions):
            if condition in weights:
                absent, present = found[condition][soft]
                still_on = unobserved - blocked * (absent + (1.0 - weights[condition]) * present)
            else:
                still_on = unobserved - blocked
            scores[index, column] += min(max(still_on, 0.0), 1.0)
    if twinned:
        pairs = {condition: twinned for condition in conditions}
        _add_twin_scores(model, structure, cases, "sufficiency", pairs, scores)
    return np.clip(scores, 0.0, None)


def _run(
    model: Model, batch: _Batch, base_rows: Sequence[int], targets: Sequence[str]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run the batch for the posteriors of ``targets`` and log P of every row.

    The cases themselves must be possible.
    """
    found, log_evidence = run_rows(model.engine, batch.rows, targets)
    impossible = [i for i, row in enumerate(base_rows) if not np.isfinite(log_evidence[row])]
    if impossible:
        raise ImpossibleEvidenceError(
            f"the evidence of case {impossible[0]} has probability zero under the model"
        )
    return found, log_evidence


def _add_twin_scores(
    model: Model,
    structure: _Structure,
    cases: Sequence[Mapping[str, str]],
    score: str,
    pairs: Mapping[str, Sequence[tuple[int, str]]],
    scores: np.ndarray,
) -> None:
    """Add each ``(case, finding)``'s counterfactual probability from the twin networks.

    ``score`` is ``"disablement"`` (the finding's copy absent) or
    ``"sufficiency"`` (its copy present); ``pairs`` maps a condition to the
    case and finding pairs to read from its twin network.
    """
    state = 0 if score == "disablement" else 1
    for condition, wanted_pairs in pairs.items():
        column = model.conditions.index(condition)
        engine, copies = _twin(model, structure, score, condition)
        rows = {index: row for row, index in enumerate(sorted({i for i, _ in wanted_pairs}))}
        targets = sorted({copies[s] for _, s in wanted_pairs})
        found, _ = run_rows(engine, [evidence_row(cases[i]) for i in rows], targets)
        for index, s in wanted_pairs:
            scores[index, column] += found[copies[s]][rows[index], state]


def _twin(
    model: Model, structure: _Structure, score: str, condition: str
) -> tuple[Engine, dict[str, str]]:
    """Return the compiled twin network of ``score`` for ``condition``, and its copy names."""
    with _cache_lock:
        per_model = _twins.setdefault(model.discrete_network, {})
        found = per_model.get((score, condition))
        if found is None:
            intervened, copied, tag = _twin_plan(structure, score, condition)
            found = per_model[score, condition] = _build_twin(
                model.discrete_network, structure, intervened, copied, tag
            )
        return found


def _twin_plan(
    structure: _Structure, score: str, condition: str
) -> tuple[frozenset[str], tuple[str, ...], str]:
    """Return what a twin network switches off, the nodes it copies, and its copies' tag.

    Disablement switches ``condition`` off and copies the findings below it
    that the closed form does not serve, with the conditions between.
    Sufficiency switches every other condition off and holds ``condition`` at
    its factual state, so only findings change: it copies those that are not
    plain.
    """
    symptoms = [node for node in structure.order if structure.kind[node] == "symptom"]
    if score == "disablement":
        affected = structure.descendants[condition]
        findings = {
            s
            for s in symptoms
            if s in affected and not _disables_in_closed_form(structure, s, condition)
        }
        between = {
            node
            for node in affected
            if structure.kind[node] == "condition" and structure.descendants[node] & findings
        }
        copied = tuple(node for node in structure.order if node in findings | between)
        return frozenset({condition}), copied, f"do({condition}=absent)"
    others = frozenset(
        node
        for node in structure.order
        if structure.kind[node] == "condition" and node != condition
    )
    copied = tuple(s for s in symptoms if s not in structure.weights)
    return others, copied, f"do(all but {condition}=absent)"


def _build_twin(
    network: DiscreteNetwork,
    structure: _Structure,
    intervened: frozenset[str],
    copied: Sequence[str],
    tag: str,
) -> tuple[Engine, dict[str, str]]:
    """Return the compiled twin network and the name of each node's counterfactual copy.

    ``copied`` is in topological order; a copy's parents are its factual node,
    the node's parents, and the copies of those parents that have one.
    """
    copies = {node: f"{node}@{tag}" for node in copied}
    variables = list(network.variables)
    states = dict(network.states)
    parents = dict(network.parents)
    cpts = dict(network.cpts)
    for node in copied:
        own = structure.parents[node]
        changed = [p for p in own if p in copies]
        name = copies[node]
        variables.append(name)
        states[name] = network.states[node]
        parents[name] = (node, *own, *(copies[p] for p in changed))
        axis = {parent: i for i, parent in enumerate(own)}
        cpts[name] = _twin_table(
            structure.leak[node],
            [(tuple(axis[m] for m in members), w) for members, w in structure.terms[node]],
            [(axis[f], state, q, term) for f, state, q, term in structure.preventers[node]],
            [p in intervened for p in own],
            [changed.index(p) if p in copies else -1 for p in own],
            len(changed),
        )
    twin = DiscreteNetwork(tuple(variables), states, parents, cpts)
    return compile_engine(twin), copies


def _twin_table(
    leak: float,
    terms: Sequence[tuple[tuple[int, ...], float]],
    preventers: Sequence[tuple[int, int, float, int]],
    intervened: Sequence[bool],
    copy_axis: Sequence[int],
    n_copies: int,
) -> np.ndarray:
    """Return P(Y' | Y, factual parents, counterfactual copies of changed parents).

    ``terms`` are ``(parent axes, weight)``; ``preventers`` are ``(parent
    axis, blocking state, q, term)`` on factors, which hold the same state in
    both worlds; ``term`` is the index of the one term a preventer blocks, or
    -1 for the whole node.  A preventer of one term shares its noise between
    the worlds as that term's does, so it scales the term's weight by ``1 -
    q`` where it is active, in both worlds alike.  Axes: ``Y'``, ``Y``, then
    one per factual parent, then one per copy.  A parent's counterfactual
    state is absent if intervened on, its copy's state if it has one, and its
    factual state otherwise.

    Examples
    --------
    A leak of 0.1 and one parent of weight 0.5, switched off: when ``Y`` is
    on and the parent was on, ``Y'`` stays on only if the leak fired,
    0.1 / 0.55.

    >>> table = _twin_table(0.1, [((0,), 0.5)], [], [True], [-1], 0)
    >>> round(float(table[1, 1, 1]), 4)
    0.1818
    """
    k = len(intervened)
    shape = (2,) * (k + n_copies)
    grid = np.indices(shape).astype(bool)
    factual = list(grid[:k])
    counterfactual = [
        np.zeros(shape, dtype=bool)
        if intervened[i]
        else (grid[k + copy_axis[i]] if copy_axis[i] >= 0 else grid[i])
        for i in range(k)
    ]
    # The noisy-OR over the terms: P(absent) factually, counterfactually, and in both.
    absent = np.full(shape, 1.0 - leak)
    absent_counterfactual = absent.copy()
    absent_both = absent.copy()
    weights: list[float | np.ndarray] = [weight for _, weight in terms]
    for axis, state, q, term in preventers:
        if term >= 0:
            weights[term] = weights[term] * np.where(factual[axis] == bool(state), 1.0 - q, 1.0)
    for (axes, _), weight in zip(terms, weights, strict=True):
        on = np.logical_and.reduce([factual[a] for a in axes])
        on_counterfactual = np.logical_and.reduce([counterfactual[a] for a in axes])
        absent = absent * np.where(on, 1.0 - weight, 1.0)
        absent_counterfactual = absent_counterfactual * np.where(
            on_counterfactual, 1.0 - weight, 1.0
        )
        absent_both = absent_both * np.where(on | on_counterfactual, 1.0 - weight, 1.0)
    unblocked = np.ones(shape)  # b: no active preventer blocks Y (in either world)
    for axis, state, q, term in preventers:
        if term < 0:
            unblocked = unblocked * np.where(factual[axis] == bool(state), 1.0 - q, 1.0)
    off = 1.0 - unblocked * (1.0 - absent)  # P(Y=0)
    off_counterfactual = 1.0 - unblocked * (1.0 - absent_counterfactual)  # P(Y'=0)
    off_both = 1.0 - unblocked * (1.0 - absent_both)  # P(Y=0, Y'=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # An impossible factual configuration gets Y' = Y; it carries no weight.
        off_given_off = np.where(off > 0, off_both / off, 1.0)
        off_given_on = np.where(off < 1, (off_counterfactual - off_both) / (1.0 - off), 0.0)
    stacked = np.clip(np.stack([off_given_off, off_given_on]), 0.0, 1.0)  # axes: Y, parents...
    return np.stack([stacked, 1.0 - stacked])
