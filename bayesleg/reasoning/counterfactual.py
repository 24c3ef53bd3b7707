"""Counterfactual ranking: expected disablement and expected sufficiency.

Richens, Lee & Johri (Nature Communications 11, 3923, 2020) rank the causes
of a case by what would happen to its findings if a cause were changed,
rather than by its posterior.  Both scores live in the *twin network*: the
model's structural form, in which every node is a deterministic OR of
exogenous noise, shared between the factual world and a counterfactual world
that differs by an intervention.

Structural form of a leaky noisy-OR node ``Y`` (Díez's parameterisation)::

    Y = L_Y  or  OR over parents i of (X_i and U_iY)
    L_Y ~ Bernoulli(leak_Y),  U_iY ~ Bernoulli(weight_iY),  all independent

and a factor is its own noise, ``F ~ Bernoulli(prior_F)``.

Definitions
-----------
``S+`` is the set of symptoms observed present in the evidence ``e``.

* **Expected disablement** of condition ``D``: the expected number of
  findings in ``S+`` that would switch off if ``D`` were cured,
  ``sum over s in S+ of P(s' = absent | e)`` in the world ``do(D = absent)``.
  The intervention reaches every descendant of ``D``: a condition that ``D``
  causes (``vitamin_b_deficiency -> restless_legs_syndrome``) is recomputed
  from its own noise and its counterfactual parents, and may switch off too,
  taking its symptoms with it.  Factors, leaks and the noise are shared with
  the factual world.
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
Given the factual parents ``x`` and counterfactual parents ``x'`` of a
finding ``s`` observed present, ``P(s=1, s'=0 | x, x') = P0(x') - P0(x)``
with ``P0(x) = (1 - leak) prod_{i: x_i present} (1 - w_i)``, because a
switched-off parent cannot switch anything on.  ``P0`` is a product of one
factor per parent, which the engine takes as soft evidence
(``[1, 1 - w_i]`` on parent ``i``), so:

* Disablement of ``D`` for a child ``s`` none of whose other parents descends
  from ``D``: ``P(s=1, s'=0, e) = w_D (1 - leak_s) Z(e - s; D present;
  [1, 1 - w_i] on the other parents of s)``, with ``Z`` the probability of
  the evidence and soft evidence.
* Sufficiency of ``D`` for ``s``: ``P(s' = 1, e) = Z(e - s) - (1 - leak_s)
  Z(e - s; [1, 1 - w_i] on D and the factor parents of s)``.

Each term is one row of one batch for the compiled engine, shared by every
case, condition and finding.  No division by ``1 - w`` appears, so links of
weight one are handled.  When a parent of ``s`` is itself a descendant of
``D`` (a chain ``D -> C -> s``), its counterfactual state depends on its own
noise and the closed form no longer factorises; those findings are read from
a compiled twin network for ``do(D = absent)`` (built once per model and
condition): the model plus a counterfactual copy ``Y'`` of every condition
that descends from ``D`` and of every finding with such a parent, where,
from the shared noise,

    P(Y'=0 | Y=0, x, x') = P0(x or x') / P0(x)
    P(Y'=0 | Y=1, x, x') = (P0(x') - P0(x or x')) / (1 - P0(x))

Differences of probabilities are taken against the evidence's probability
and clipped into range; they are exact up to rounding of order 1e-16 times
``1 / P(s | e - s)``.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bayesleg.errors import ImpossibleEvidenceError, InvalidArgumentError
from bayesleg.inference._queries import PRESENT, Row, evidence_row, run_rows, with_likelihood
from bayesleg.inference.engine import Engine
from bayesleg.inference.engine import compile as compile_engine
from bayesleg.inference.network import DiscreteNetwork

if TYPE_CHECKING:
    from bayesleg.model import Model

__all__ = ["RANKINGS", "check_ranking", "counterfactual_scores"]

#: The rankings :meth:`Model.diagnose` knows.
RANKINGS: tuple[str, ...] = ("posterior", "expected_disablement", "expected_sufficiency")


def check_ranking(ranking: object) -> str:
    """Return ``ranking`` if it is one of :data:`RANKINGS`.

    Raises
    ------
    InvalidArgumentError
        Naming the ranking given and the rankings allowed.
    """
    if ranking not in RANKINGS:
        raise InvalidArgumentError(
            f"unknown ranking {ranking!r}; expected one of {', '.join(RANKINGS)}"
        )
    return str(ranking)


@dataclass(frozen=True)
class _Structure:
    """The noisy-OR parameters and descent relations of a model, for quick lookup."""

    kind: Mapping[str, str]
    leak: Mapping[str, float]
    weights: Mapping[str, Mapping[str, float]]  # child -> parent -> weight
    descendants: Mapping[str, frozenset[str]]
    order: tuple[str, ...]


_cache_lock = threading.Lock()
_structures: weakref.WeakKeyDictionary[DiscreteNetwork, _Structure] = weakref.WeakKeyDictionary()
_twins: weakref.WeakKeyDictionary[DiscreteNetwork, dict[str, tuple[Engine, dict[str, str]]]] = (
    weakref.WeakKeyDictionary()
)


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
        for parent, _ in node.parents:
            children[parent].append(node.id)
    descendants: dict[str, frozenset[str]] = {}
    for node in reversed(spec.nodes):  # children before parents
        below: set[str] = set()
        for child in children[node.id]:
            below |= {child} | descendants[child]
        descendants[node.id] = frozenset(below)
    return _Structure(
        kind={node.id: node.kind for node in spec.nodes},
        leak={node.id: node.leak.p for node in spec.nodes if node.leak is not None},
        weights={node.id: {p: w.p for p, w in node.parents} for node in spec.nodes},
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
        f"no counterfactual score for ranking {ranking!r}; "
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


def _disablement(
    model: Model, structure: _Structure, cases: Sequence[Mapping[str, str]]
) -> np.ndarray:
    conditions = model.conditions
    scores = np.zeros((len(cases), len(conditions)))
    batch = _Batch()
    # (case, condition column, row index, constant) for each closed-form term.
    terms: list[tuple[int, int, int, float]] = []
    chains: dict[str, list[tuple[int, str]]] = {}  # condition -> (case, finding) via a chain
    base_rows, findings = _findings(structure, cases, batch)
    for index, s, without in findings:
        weights = structure.weights[s]
        for column, condition in enumerate(conditions):
            affected = structure.descendants[condition]
            if s not in affected:
                continue
            if condition in weights and not any(p in affected for p in weights):
                others = [p for p in weights if p != condition]
                soft = with_likelihood(_soft(without, weights, others), condition, PRESENT)
                position = batch.add(("dis", index, s, condition), soft)
                constant = weights[condition] * (1.0 - structure.leak[s])
                terms.append((index, column, position, constant))
            else:
                chains.setdefault(condition, []).append((index, s))
    log_evidence = _log_evidence(model, batch, base_rows)
    for index, column, position, constant in terms:
        ratio = np.exp(log_evidence[position] - log_evidence[base_rows[index]])
        scores[index, column] += constant * ratio
    for condition, pairs in chains.items():
        column = conditions.index(condition)
        engine, copies = _twin(model, structure, condition)
        wanted = sorted({index for index, _ in pairs})
        targets = sorted({copies[s] for _, s in pairs})
        found, _ = run_rows(engine, [evidence_row(cases[i]) for i in wanted], targets)
        for index, s in pairs:
            scores[index, column] += found[copies[s]][wanted.index(index), 0]
    return np.clip(scores, 0.0, None)


def _sufficiency(
    model: Model, structure: _Structure, cases: Sequence[Mapping[str, str]]
) -> np.ndarray:
    conditions = model.conditions
    batch = _Batch()
    plan = []  # (case, finding, row of e - s, {condition or None: row of the soft term})
    base_rows, findings = _findings(structure, cases, batch)
    for index, s, without in findings:
        weights = structure.weights[s]
        factors = [p for p in weights if structure.kind[p] == "factor"]
        marginal = batch.add(("without", index, s), without)
        soft: dict[str | None, int] = {
            None: batch.add(("suf", index, s, None), _soft(without, weights, factors))
        }
        for condition in conditions:
            if condition in weights:
                kept = [*factors, condition]
                soft[condition] = batch.add(
                    ("suf", index, s, condition), _soft(without, weights, kept)
                )
        plan.append((index, s, marginal, soft))
    log_evidence = _log_evidence(model, batch, base_rows)
    scores = np.zeros((len(cases), len(conditions)))
    for index, s, marginal, soft in plan:
        base = log_evidence[base_rows[index]]
        unobserved = np.exp(log_evidence[marginal] - base)  # P(e - s) / P(e)
        keep = 1.0 - structure.leak[s]
        for column, condition in enumerate(conditions):
            position = soft.get(condition, soft[None])
            still_on = unobserved - keep * np.exp(log_evidence[position] - base)
            scores[index, column] += min(max(still_on, 0.0), 1.0)
    return scores


def _log_evidence(model: Model, batch: _Batch, base_rows: Sequence[int]) -> np.ndarray:
    """Run the batch; the cases themselves must be possible."""
    _, log_evidence = run_rows(model.engine, batch.rows)
    impossible = [i for i, row in enumerate(base_rows) if not np.isfinite(log_evidence[row])]
    if impossible:
        raise ImpossibleEvidenceError(
            f"the evidence of case {impossible[0]} has probability zero under the model"
        )
    return log_evidence


def _twin(model: Model, structure: _Structure, condition: str) -> tuple[Engine, dict[str, str]]:
    """Return the compiled twin network for ``do(condition = absent)`` and its copy names."""
    with _cache_lock:
        per_model = _twins.setdefault(model.discrete_network, {})
        found = per_model.get(condition)
        if found is None:
            found = per_model[condition] = _build_twin(model.discrete_network, structure, condition)
        return found


def _build_twin(
    network: DiscreteNetwork, structure: _Structure, intervened: str
) -> tuple[Engine, dict[str, str]]:
    affected = structure.descendants[intervened]
    conditions = {node for node in affected if structure.kind[node] == "condition"}
    copied = [
        node
        for node in structure.order
        if node in conditions
        or (node in affected and any(parent in conditions for parent in structure.weights[node]))
    ]
    copies = {node: f"{node}@do({intervened}=absent)" for node in copied}
    variables = list(network.variables)
    states = dict(network.states)
    parents = dict(network.parents)
    cpts = dict(network.cpts)
    for node in copied:
        own = list(structure.weights[node])
        changed = [p for p in own if p in copies]
        name = copies[node]
        variables.append(name)
        states[name] = network.states[node]
        parents[name] = (node, *own, *(copies[p] for p in changed))
        cpts[name] = _twin_table(
            structure.leak[node],
            [structure.weights[node][p] for p in own],
            [p == intervened for p in own],
            [changed.index(p) if p in copies else -1 for p in own],
            len(changed),
        )
    twin = DiscreteNetwork(tuple(variables), states, parents, cpts)
    return compile_engine(twin), copies


def _twin_table(
    leak: float,
    weights: Sequence[float],
    intervened: Sequence[bool],
    copy_axis: Sequence[int],
    n_copies: int,
) -> np.ndarray:
    """Return P(Y' | Y, factual parents, counterfactual copies of changed parents).

    Axes: ``Y'``, ``Y``, then one per factual parent, then one per copy.  A
    parent's counterfactual state is absent if intervened on, its copy's
    state if it has one, and its factual state otherwise.
    """
    k = len(weights)
    shape = (2,) * (k + n_copies)
    p0 = np.full(shape, 1.0 - leak)  # P0(x)
    p0_counterfactual = np.full(shape, 1.0 - leak)  # P0(x')
    p0_either = np.full(shape, 1.0 - leak)  # P0(x or x')
    for config in itertools.product((0, 1), repeat=k + n_copies):
        factual = config[:k]
        counterfactual = [
            0 if intervened[i] else (config[k + copy_axis[i]] if copy_axis[i] >= 0 else factual[i])
            for i in range(k)
        ]
        for i, weight in enumerate(weights):
            if factual[i]:
                p0[config] *= 1.0 - weight
            if counterfactual[i]:
                p0_counterfactual[config] *= 1.0 - weight
            if factual[i] or counterfactual[i]:
                p0_either[config] *= 1.0 - weight
    with np.errstate(divide="ignore", invalid="ignore"):
        # An impossible factual configuration gets Y' = Y; it carries no weight.
        off_given_off = np.where(p0 > 0, p0_either / p0, 1.0)
        off_given_on = np.where(p0 < 1, (p0_counterfactual - p0_either) / (1.0 - p0), 0.0)
    off = np.clip(np.stack([off_given_off, off_given_on]), 0.0, 1.0)  # axes: Y, parents...
    return np.stack([off, 1.0 - off])
