"""Score a batch of cases at once: priors, posteriors, triage scores, ranking order.

:meth:`Model.diagnose <bayesleg.model.Model.diagnose>`, ``diagnose_many`` and
``rank_frame`` all go through :class:`CohortScorer`.  A case's numbers do
not depend on the other cases of its batch: to the last bit in batches of
fewer than 16 engine rows, to rounding (about 1e-16) between those and larger
ones, which the engine runs in its batch-last layout (see
:mod:`bayesleg.inference.engine`).  A batch takes a few passes of the
model's engine, whatever its size (one for the posteriors, one or two for the
"yes" rows, one for the pinned rows), and up to two of a smaller one:

0. *Priors*, P(condition | factor evidence), when asked for (``rank_frame``
   does without), by an engine compiled from the factors and conditions
   alone: the symptoms are barren when only factors are observed, so they
   change nothing but the work (and the last bits, about 1e-16).  When the
   factors are the network's roots, a condition's prior depends only on the
   factors it descends from, so it is read from a table over their answers
   (built by that engine on first use: 3**k rows for k such factors).  A batch of
   fewer than 64 rows (a case alone) takes the priors, posteriors and
   "yes" rows in one pass of the model's engine instead, whose fixed cost per
   call is the larger part of its time.
1. *Posteriors*, P(condition | all evidence); and, for each case with a
   symptom present and a "no" answer, P(condition | the "yes" answers
   alone), in a pass of their own, for the conditions that can raise the
   level; a condition the case's "yes" answers cannot tell apart from its
   ancestors takes the priors' engine instead (see
   :meth:`CohortScorer._yes_marginals`).
2. *Triage scores* (see :mod:`bayesleg.reasoning.triage`): the score of
   condition ``c`` is ``odds(c | Y) * prod_x min(1, r_x)`` over the "no"
   answers ``x``, where ``Y`` are the "yes" answers and
   ``r_x = odds(c | Y, x absent) / odds(c | Y) = P(x absent | c, Y) / P(x absent | not c, Y)``.
   Two cases per condition -- ``Y`` with ``c`` present, and with ``c``
   absent -- give ``r_x`` for every ``x`` at once.  The score never exceeds
   P(c | Y), so only the conditions that can raise the triage level (their
   care is not self care) and whose P(c | Y) reaches their threshold need
   them; the others cannot raise it.

Rows that two cases share (the same evidence, or the same "yes" answers) are
propagated once, when that leaves the engine's layout unchanged, so the
answers are the same bits either way.  When only the levels are wanted
(``reasons=False``, as ``rank_frame`` asks), a case whose red flags already
set the highest level a condition could raise needs no triage scores, and a
condition whose care is no higher than its case's red flags needs no pinned
rows.

Cases are int8 matrices over the model's node ids: 1 present, 0 absent, -1
unobserved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bayesleg.errors import ImpossibleEvidenceError
from bayesleg.inference._propagate_last import BATCH_LAST
from bayesleg.inference.engine import Engine
from bayesleg.inference.engine import compile as compile_engine
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.knowledge.modelfile import STATES, ModelSpec
from bayesleg.reasoning.triage import TriageBatch, TriageRules

__all__ = ["CohortScorer", "CohortScores", "encode_cases"]

_PRESENT = STATES.index("present")
_ABSENT = STATES.index("absent")
# A condition whose P(c | yes answers) is below its threshold by this relative
# margin cannot have a triage score reaching it, rounding included.
_MARGIN = 1e-9
# Batches of fewer engine rows than this go through one pass of the model's
# engine (priors included), as a case alone does: a call's fixed cost
# outweighs what the smaller passes save.
_SMALL = 64


def encode_cases(
    cases: Sequence[dict[str, str]],
    node_ids: Sequence[str],
    column: Mapping[str, int] | None = None,
) -> np.ndarray:
    """Return normalised evidence dicts as an int8 matrix over ``node_ids``.

    ``column`` maps each id to its position in ``node_ids``, if already known.
    """
    if column is None:
        column = {node: i for i, node in enumerate(node_ids)}
    codes = np.full((len(cases), len(node_ids)), -1, dtype=np.int8)
    for row, case in enumerate(cases):
        for node, state in case.items():
            codes[row, column[node]] = 1 if state == "present" else 0
    return codes


@dataclass(frozen=True)
class CohortScores:
    """What :meth:`CohortScorer.score` returns for a batch of ``n`` cases.

    ``priors`` and ``posteriors`` have shape ``(n, conditions)`` (``priors``
    ``(n, 0)`` when not asked for); ``triage`` holds every case's triage level
    and reasons.
    """

    priors: np.ndarray
    posteriors: np.ndarray
    triage: TriageBatch


class CohortScorer:
    """Score batches of cases of one model in a fixed number of engine passes.

    Parameters
    ----------
    spec : ModelSpec
    engine : Engine
        The engine compiled from the model's network.
    network : DiscreteNetwork, optional
        That network, to compile the priors' smaller engine from; without it
        the priors come from ``engine``.
    """

    def __init__(
        self, spec: ModelSpec, engine: Engine, network: DiscreteNetwork | None = None
    ) -> None:
        self.node_ids = tuple(node.id for node in spec.nodes)
        self.conditions = tuple(node.id for node in spec.nodes if node.kind == "condition")
        self._engine = engine
        factors = [node.id for node in spec.nodes if node.kind == "factor"]
        position = {node: i for i, node in enumerate(self.node_ids)}
        self._factor_columns = np.array([position[f] for f in factors], dtype=np.intp)
        self._condition_columns = np.array([position[c] for c in self.conditions], dtype=np.intp)
        self.rules = TriageRules(spec, self.node_ids, self.conditions)
        self._judged = [
            c for c, judged in zip(self.conditions, self.rules.judged, strict=True) if judged
        ]
        self._prior_engine = engine if network is None else _prior_engine(network, spec)
        # For the "yes" rows: per node and judged condition, whether observing
        # the node can tell the condition apart from its prior given its
        # ancestors (see _yes_marginals), and the nodes the priors' engine has.
        self._beyond: np.ndarray | None = None
        if network is not None:
            self._beyond = _beyond_ancestors(network, self.node_ids, self._judged)
            kept = set(self._prior_engine.variables)
            self._outside_prior = np.array([node not in kept for node in self.node_ids], dtype=bool)
        # For the priors: per set of factor columns, the conditions whose
        # priors depend on those factors alone, and (once built) their table.
        self._prior_keys = None if network is None else _prior_keys(network, spec, self.node_ids)
        self._prior_tables: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        self._untabled = np.arange(len(self.conditions))  # the conditions no table holds

    def score(
        self, codes: np.ndarray, *, priors: bool = True, reasons: bool = True
    ) -> CohortScores:
        """Return the priors, posteriors and triage of every case.

        Parameters
        ----------
        codes : numpy.ndarray
            int8, shape ``(n, nodes)``: 1 present, 0 absent, -1 unobserved.
        priors : bool, default True
            Whether to compute the priors.
        reasons : bool, default True
            Whether the triage reasons are wanted; without them only the
            levels of the result's triage hold (its scores may not).

        Raises
        ------
        ImpossibleEvidenceError
            If a case's evidence has probability zero; the message names the
            first such case and its evidence, and ``case`` holds its index.
        """
        n = len(codes)
        present = codes == 1
        conditions = self.conditions
        rules = self.rules
        fired = rules.fired(present)
        flags = rules.flag_level(fired)
        symptom = rules.symptom_present(present)
        thresholds = rules.thresholds(present)
        # Cases whose triage scores need the "yes" answers alone: the others'
        # scores are their posteriors (no "no" answer) or never read (no symptom).
        needs = symptom & (codes == 0).any(axis=1)
        if not reasons:
            needs &= flags < rules.highest_care
        asked = np.flatnonzero(needs)
        yes = np.where(present[asked], np.int8(1), np.int8(-1)) if asked.size else codes[:0]
        factor_codes = np.full_like(codes, -1)
        if priors:
            factor_codes[:, self._factor_columns] = codes[:, self._factor_columns]
        if n * (1 + priors) + len(asked) < _SMALL:
            # A few rows: one pass costs less than three calls.
            rows = [codes, factor_codes] if priors else [codes]
            try:
                given_absent, given_present = self._distinct_marginals(
                    self._engine, np.concatenate([*rows, yes]), conditions
                )
            except ImpossibleEvidenceError as error:
                # The other rows observe subsets of their case's evidence, so
                # the first impossible row is always one of the first n.
                raise self._impossible(codes, error) from error
            posteriors = given_present[:n]
            prior_values = given_present[n : 2 * n] if priors else np.empty((n, 0))
            first = len(given_present) - len(asked)
            likely, unlikely = given_present[first:], given_absent[first:]
        else:
            try:
                posteriors = self._distinct_marginals(self._engine, codes, conditions)[_PRESENT]
            except ImpossibleEvidenceError as error:
                raise self._impossible(codes, error) from error
            # The "yes" rows observe subsets of possible evidence, so they are
            # possible; they need only the conditions that can raise the level.
            likely = np.zeros((len(asked), len(conditions)))
            unlikely = np.ones((len(asked), len(conditions)))
            if asked.size and self._judged:
                judged = rules.judged
                unlikely[:, judged], likely[:, judged] = self._yes_marginals(yes)
            prior_values = self._priors(factor_codes) if priors else np.empty((n, 0))
        scores = posteriors.copy()
        if asked.size:
            scores[asked] = self._triage_scores(
                codes[asked],
                yes,
                likely,
                unlikely,
                None if reasons else flags[asked],
                thresholds[asked],
            )
        triage = rules.assess(
            present, scores, flags, fired=fired, symptom=symptom, thresholds=thresholds
        )
        return CohortScores(prior_values, posteriors, triage)

    def _priors(self, factor_codes: np.ndarray) -> np.ndarray:
        """Return P(c | factor evidence) per row and condition.

        The factors are the network's roots, so a condition's prior depends
        only on the factors it descends from (d-separation: no descendant is
        observed); with few of those, it is read from a table over their
        answers (unobserved, absent, present), built once by the priors'
        engine.  The other conditions take that engine directly.
        """
        conditions = self.conditions
        if self._prior_keys is None:
            return self._distinct_marginals(self._prior_engine, factor_codes, conditions)[_PRESENT]
        if self._prior_tables is None:
            self._prior_tables = self._build_prior_tables(self._prior_keys)
        out = np.empty((len(factor_codes), len(conditions)))
        for columns, members, table in self._prior_tables:
            if columns.size:
                index = (factor_codes[:, columns].astype(np.intp) + 1) @ 3 ** np.arange(
                    columns.size, dtype=np.intp
                )
                out[:, members] = table[index]
            else:
                out[:, members] = table[0]
        rest = self._untabled
        if rest.size:
            out[:, rest] = self._distinct_marginals(
                self._prior_engine, factor_codes, [conditions[k] for k in rest.tolist()]
            )[_PRESENT]
        return out

    def _build_prior_tables(
        self, keys: list[tuple[np.ndarray, np.ndarray]]
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        tables = []
        for columns, members in keys:
            width = columns.size
            # Row r's answer to factor j is digit j of r in base 3, less one.
            digits = (np.arange(3**width)[:, None] // 3 ** np.arange(width)[None, :]) % 3
            rows = np.full((3**width, len(self.node_ids)), -1, dtype=np.int8)
            rows[:, columns] = digits - 1
            try:
                table = self._distinct_marginals(
                    self._prior_engine, rows, [self.conditions[k] for k in members.tolist()]
                )[_PRESENT]
            except ImpossibleEvidenceError:
                # Some answers are impossible: those conditions take the engine.
                continue
            tables.append((columns, members, table))
        tabled = [k for _, members, _ in tables for k in members.tolist()]
        self._untabled = np.setdiff1d(np.arange(len(self.conditions)), tabled)
        return tables

    def _yes_marginals(self, yes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return P(not c | Y) and P(c | Y) per "yes" row and judged condition ``c``.

        Let ``D(c)`` be the descendants of ``c`` and of its ancestors, and
        ``A(c)`` its ancestors and ``c`` itself.  When a row observes no node
        of ``D(c)`` outside ``A(c)``, ``c`` is separated from every other
        observed node by its observed ancestors in the moral graph of the
        ancestral set (Lauritzen's criterion), so P(c | Y) is P(c | Y's
        factors and conditions): the priors' small engine gives it.  The
        model's engine answers only the other rows, in groups of conditions
        chosen so that a condition whose marginal needs a long distribution
        is propagated only in the rows that need it.
        """
        judged = self._judged
        if self._beyond is None:
            return self._distinct_marginals(self._engine, yes, judged)
        full = (yes >= 0) @ self._beyond > 0
        absent = np.empty((len(yes), len(judged)))
        present = np.empty_like(absent)
        short = np.flatnonzero(~full.all(axis=1))
        if short.size:
            rows = yes[short]
            rows[:, self._outside_prior] = -1
            absent[short], present[short] = self._distinct_marginals(
                self._prior_engine, rows, judged
            )
        for group in _target_groups(self._engine, judged, full):
            rows = np.flatnonzero(full[:, group].any(axis=1))
            given_absent, given_present = self._distinct_marginals(
                self._engine, yes[rows], [judged[k] for k in group]
            )
            block = np.ix_(rows, np.array(group, dtype=np.intp))
            wanted = full[block]
            absent[block] = np.where(wanted, given_absent, absent[block])
            present[block] = np.where(wanted, given_present, present[block])
        return absent, present

    def _triage_scores(
        self,
        codes: np.ndarray,
        yes: np.ndarray,
        likely: np.ndarray,
        unlikely: np.ndarray,
        flags: np.ndarray | None = None,
        thresholds: np.ndarray | None = None,
    ) -> np.ndarray:
        """Return triage scores for cases with "no" answers, 0 where they cannot count.

        ``likely`` and ``unlikely`` are P(c | Y) and P(not c | Y) per case and
        condition.  With ``flags`` (each case's red-flag level), a condition
        whose care is no higher scores 0: it cannot change the level.
        ``thresholds`` are the cases' thresholds, if already known.
        """
        rules = self.rules
        if thresholds is None:
            thresholds = rules.thresholds(codes == 1)
        candidate = rules.judged[None, :] & (likely >= thresholds * (1.0 - _MARGIN))
        if flags is not None:
            candidate &= rules.care[None, :] > flags[:, None]
        scores = np.zeros_like(likely)
        if not candidate.any():
            return scores
        # A condition certain given the "yes" answers stays certain with any
        # possible "no" answer.
        certain = candidate & ~(unlikely > 0.0)
        scores[certain] = 1.0
        cases, columns = np.nonzero(candidate & (unlikely > 0.0))
        if not cases.size:
            return scores
        absent = codes[cases] == 0
        asked = np.flatnonzero(absent.any(axis=0))
        pinned = np.concatenate([yes[cases], yes[cases]])
        pairs = len(cases)
        pinned[np.arange(pairs), self._condition_columns[columns]] = 1
        pinned[pairs + np.arange(pairs), self._condition_columns[columns]] = 0
        targets = [self.node_ids[j] for j in asked]
        given = self._distinct_marginals(self._engine, pinned, targets)[_ABSENT]
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.log(given[:pairs]) - np.log(given[pairs:])
            lowered = np.where(absent[:, asked], np.minimum(0.0, change), 0.0).sum(axis=1)
            base = np.log(likely[cases, columns]) - np.log(unlikely[cases, columns])
        scores[cases, columns] = _from_log_odds(base + lowered)
        return scores

    def _distinct_marginals(
        self, engine: Engine, codes: np.ndarray, targets: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_marginals` of ``codes``, equal rows propagated once.

        Only when that leaves the engine's layout unchanged (see the module
        docstring), so the numbers are the same bits either way.
        """
        unique, inverse = _distinct_rows(codes)
        if unique is None:
            return self._marginals(engine, codes, targets)
        try:
            absent, present = self._marginals(engine, unique, targets)
        except ImpossibleEvidenceError as error:
            if isinstance(getattr(error, "case", None), int):
                error.case = int(np.flatnonzero(inverse == error.case)[0])
            raise
        return absent[inverse], present[inverse]

    def _marginals(
        self, engine: Engine, codes: np.ndarray, targets: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return P(target absent) and P(target present) per row, each ``(rows, targets)``."""
        observed = np.flatnonzero((codes >= 0).any(axis=0))
        # Likelihood (1, 0) for absent, (0, 1) for present, (1, 1) for unobserved.
        chosen = codes[:, observed]
        node_ids = self.node_ids
        names = [node_ids[j] for j in observed.tolist()]
        if len(codes) < BATCH_LAST:
            # Each node's two likelihood columns side by side, as the engine stacks them.
            block = np.empty((len(codes), len(observed), 2))
            block[:, :, _ABSENT] = chosen != 1
            block[:, :, _PRESENT] = chosen != 0
            out = engine._hard_posteriors(block.reshape(len(codes), -1), names, targets)
            by_state = out.reshape(len(codes), len(targets), 2)
            return by_state[:, :, _ABSENT], by_state[:, :, _PRESENT]
        likelihood = np.empty((len(observed), len(codes), 2))
        likelihood[:, :, _ABSENT] = (chosen != 1).T
        likelihood[:, :, _PRESENT] = (chosen != 0).T
        likelihoods = {name: likelihood[i] for i, name in enumerate(names)}
        marginals, _ = engine.posteriors_from_likelihoods(likelihoods, len(codes), targets)
        stacked = np.stack([marginals[target] for target in targets], axis=1)
        return stacked[:, :, _ABSENT], stacked[:, :, _PRESENT]

    def _impossible(self, codes: np.ndarray, error: ImpossibleEvidenceError) -> Exception:
        row = error.case if isinstance(getattr(error, "case", None), int) else None
        evidence = None
        detail = ""
        if row is not None and row < len(codes):
            evidence = {
                node: STATES[code]
                for node, code in zip(self.node_ids, codes[row].tolist(), strict=True)
                if code >= 0
            }
            detail = f" for case {row}: {evidence}"
        impossible = ImpossibleEvidenceError(
            f"the evidence has probability zero under the model{detail}"
        )
        if row is not None:
            impossible.case = row
        impossible.evidence = evidence
        impossible.observed = error.observed
        return impossible


def _distinct_rows(codes: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Return the distinct rows of ``codes`` and where each row is among them.

    ``(None, ...)`` when no row repeats, or when the distinct rows would be
    run by the other kernel of the engine (fewer than its batch-last size on
    one side only).
    """
    if len(codes) < BATCH_LAST:
        return None, np.empty(0, dtype=np.intp)
    rows = np.ascontiguousarray(codes).view(np.dtype((np.void, codes.shape[1])))[:, 0]
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    if len(first) == len(codes) or len(first) < BATCH_LAST:
        return None, inverse
    # np.unique sorts the rows; keep them in their first order instead.
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return codes[first[order]], rank[inverse.reshape(-1)]


def _beyond_ancestors(
    network: DiscreteNetwork, node_ids: Sequence[str], conditions: Sequence[str]
) -> np.ndarray:
    """Return ``(nodes, conditions)``: whether the node descends from the
    condition or one of its ancestors without being one of them (see
    :meth:`CohortScorer._yes_marginals`)."""
    children: dict[str, list[str]] = {v: [] for v in network.variables}
    for v in network.variables:
        for p in network.parents[v]:
            children[p].append(v)
    beyond = np.zeros((len(node_ids), len(conditions)), dtype=bool)
    position = {node: i for i, node in enumerate(node_ids)}
    for k, condition in enumerate(conditions):
        ancestral = network.ancestors([condition]) | {condition}
        reached: set[str] = set()
        todo = list(ancestral)
        while todo:
            for child in children[todo.pop()]:
                if child not in reached:
                    reached.add(child)
                    todo.append(child)
        for node in reached - ancestral:
            if node in position:
                beyond[position[node], k] = True
    return beyond


def _target_groups(engine: Engine, targets: Sequence[str], full: np.ndarray) -> list[list[int]]:
    """Group the columns of ``full`` (the rows each target needs) into engine calls.

    A call costs about its rows times the entries of a collection plus those
    of the distribution to its targets; pairs of groups are merged while a
    merge lowers the total.
    """
    collect = engine._entries()
    groups = [[k] for k in range(len(targets)) if full[:, k].any()]

    def cost(group: list[int]) -> int:
        rows = int(full[:, group].any(axis=1).sum())
        return rows * (collect + engine._entries([targets[k] for k in group]))

    costs = [cost(group) for group in groups]
    while len(groups) > 1:
        best = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                merged = cost(groups[i] + groups[j])
                saving = costs[i] + costs[j] - merged
                if saving > 0 and (best is None or saving > best[0]):
                    best = (saving, i, j, merged)
        if best is None:
            break
        _, i, j, merged = best
        groups[i] = sorted(groups[i] + groups[j])
        costs[i] = merged
        del groups[j], costs[j]
    return groups


# A condition descending from more factors than this takes the priors' engine.
_TABLED_FACTORS = 7


def _prior_keys(
    network: DiscreteNetwork, spec: ModelSpec, node_ids: Sequence[str]
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Group the conditions by the factor columns they descend from, for the priors' tables.

    See :meth:`CohortScorer._priors`.  None unless every factor is a root of
    the network (then the factors a condition does not descend from cannot
    move its prior).  Conditions with more than ``_TABLED_FACTORS`` such
    factors are left out.
    """
    factors = [node.id for node in spec.nodes if node.kind == "factor"]
    if any(network.parents[f] for f in factors):
        return None
    position = {node: i for i, node in enumerate(node_ids)}
    conditions = [node.id for node in spec.nodes if node.kind == "condition"]
    groups: dict[tuple[int, ...], list[int]] = {}
    for k, condition in enumerate(conditions):
        ancestors = network.ancestors([condition])
        columns = tuple(sorted(position[f] for f in factors if f in ancestors))
        if len(columns) <= _TABLED_FACTORS:
            groups.setdefault(columns, []).append(k)
    return [
        (np.array(columns, dtype=np.intp), np.array(members, dtype=np.intp))
        for columns, members in groups.items()
    ]


def _prior_engine(network: DiscreteNetwork, spec: ModelSpec) -> Engine:
    """The engine of the factors, the conditions and their ancestors alone."""
    wanted = {node.id for node in spec.nodes if node.kind in ("factor", "condition")}
    wanted |= network.ancestors(wanted)
    kept = tuple(v for v in network.variables if v in wanted)
    return compile_engine(
        DiscreteNetwork(
            kept,
            {v: network.states[v] for v in kept},
            {v: network.parents[v] for v in kept},
            {v: network.cpts[v] for v in kept},
        )
    )


def _from_log_odds(log_odds: np.ndarray) -> np.ndarray:
    """The probability of a log odds; -inf and +inf give exactly 0 and 1."""
    magnitude = np.exp(-np.abs(log_odds))
    return np.where(log_odds >= 0, 1.0 / (1.0 + magnitude), magnitude / (1.0 + magnitude))
