"""Triage: whether to manage it yourself or see a clinician, and why.

The levels (``CARE_LEVELS``, least to most):

* ``self_care`` -- manage it yourself: rest, fluids, food, stretching;
* ``see_doctor`` -- see a clinician, a GP or a specialist;
* ``urgent`` -- seek care at once.  Only wording of emergency or immediacy
  sets it; the shipped texts use none, so the shipped model never returns it.

The level is the highest of

* every red flag whose findings are observed present (the help-seeking
  passages of the texts, declared as ``[[red_flag]]`` in the model file), and
* the ``care`` level of every condition that is *likely enough*: its
  posterior reaches ``condition_threshold``, or reaches ``finding_threshold``
  while one of the condition's own ``findings`` is observed present.

A condition counts only when at least one symptom is observed present (a
factor alone never raises the level), and it is judged by its *triage
score*: its probability given the "yes" answers, lowered by each "no" answer
that lowers it on its own and never raised by one (computed by
``Model.diagnose``), so that answering "no" can lower the level but never
raise it.  Nothing in the evidence can lower a level another rule raised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bayesleg.knowledge.modelfile import CARE_LEVELS, ModelSpec

__all__ = ["Triage", "TriageBatch", "TriageReason", "TriageRules", "assess_triage"]


@dataclass(frozen=True)
class TriageReason:
    """One rule that raised the triage level.

    ``kind`` is ``"red_flag"`` or ``"condition"``; ``id`` is the red flag's
    or the condition's id.
    """

    kind: str
    id: str
    level: str
    text: str

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, str]:
        """Return the reason as a JSON-serialisable dict."""
        return {"kind": self.kind, "id": self.id, "level": self.level, "text": self.text}


@dataclass(frozen=True)
class Triage:
    """A triage level (``self_care`` < ``see_doctor`` < ``urgent``) and its reasons."""

    level: str
    reasons: tuple[TriageReason, ...]

    def to_dict(self) -> dict[str, object]:
        """Return the triage as a JSON-serialisable dict."""
        return {"level": self.level, "reasons": [reason.to_dict() for reason in self.reasons]}


def assess_triage(
    spec: ModelSpec,
    evidence: Mapping[str, str],
    posteriors: Mapping[str, float],
    *,
    scores: Mapping[str, float] | None = None,
) -> Triage:
    """Return the triage for a case.

    Parameters
    ----------
    spec : ModelSpec
        The model, for its red flags, care levels and thresholds.
    evidence : mapping of str to str
        Normalised evidence, id to ``"present"`` or ``"absent"``.
    posteriors : mapping of str to float
        P(condition present | evidence) for every condition.
    scores : mapping of str to float, optional
        Every condition's triage score (see the module docstring); by default
        ``posteriors``, which it equals when nothing was answered "absent".

    Returns
    -------
    Triage
        Reasons list red flags first (file order), then conditions by
        decreasing posterior.
    """
    reasons = []
    for flag in spec.red_flags:
        if flag.fires(evidence):
            text = f"{flag.label} (red flag {flag.id!r}; {flag.source.file})"
            reasons.append(TriageReason("red_flag", flag.id, flag.level, text))
    by_id = {node.id: node for node in spec.nodes}
    if any(state == "present" and by_id[n].kind == "symptom" for n, state in evidence.items()):
        judged = posteriors if scores is None else scores
        raised = []
        for condition in posteriors:
            node = by_id[condition]
            if node.care == "self_care":
                continue
            likely = judged[condition]
            threshold = spec.condition_threshold.p
            specific = [f for f in node.findings if evidence.get(f) == "present"]
            if specific and spec.finding_threshold is not None:
                threshold = spec.finding_threshold.p
            if likely >= threshold:
                raised.append((condition, likely, threshold, specific))
        raised.sort(key=lambda item: (-item[1], item[0]))
        for condition, probability, threshold, specific in raised:
            node = by_id[condition]
            with_findings = f" with {', '.join(specific)}" if specific else ""
            text = (
                f"{node.label}: triage score {probability:.2f} reaches the threshold "
                f"{threshold:.2f}{with_findings} for {node.care}"
            )
            reasons.append(TriageReason("condition", condition, str(node.care), text))
    level = max((reason.level for reason in reasons), key=CARE_LEVELS.index, default="self_care")
    return Triage(level, tuple(reasons))


class TriageRules:
    """The triage rules of a model compiled to index arrays, to triage many cases at once.

    :meth:`assess` gives, for every case of a batch, the same level and the
    same reasons as :func:`assess_triage`.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    node_ids : sequence of str
        The columns of the evidence matrices given to :meth:`assess`.
    conditions : sequence of str
        The columns of its posterior and score matrices.
    """

    def __init__(self, spec: ModelSpec, node_ids: Sequence[str], conditions: Sequence[str]) -> None:
        self._spec = spec
        self._node_ids = tuple(node_ids)
        self._conditions = tuple(conditions)
        column = {node: i for i, node in enumerate(self._node_ids)}
        by_id = {node.id: node for node in spec.nodes}
        self._symptoms = np.array(
            [column[n.id] for n in spec.nodes if n.kind == "symptom" and n.id in column],
            dtype=np.intp,
        )
        # Red flags as sums: a flag's group holds when any of its ids is present,
        # and the flag fires when all its groups and (if any) one alternative do.
        groups = [(j, group) for j, flag in enumerate(spec.red_flags) for group in flag.all]
        groups += [(j, flag.any) for j, flag in enumerate(spec.red_flags) if flag.any]
        self._group_members = np.zeros((len(self._node_ids), len(groups)))
        self._group_flags = np.zeros((len(groups), len(spec.red_flags)))
        for g, (j, ids) in enumerate(groups):
            self._group_members[[column[n] for n in ids], g] = 1.0
            self._group_flags[g, j] = 1.0
        self._groups_per_flag = self._group_flags.sum(axis=0)
        self._flag_levels = np.array(
            [CARE_LEVELS.index(flag.level) for flag in spec.red_flags], dtype=np.intp
        )
        nodes = [by_id[c] for c in self._conditions]
        self._nodes = tuple(nodes)
        #: Conditions that can raise the level (their care is not self care).
        self.judged = np.array([node.care != "self_care" for node in nodes], dtype=bool)
        #: Each condition's care level, as an index into ``CARE_LEVELS``.
        self.care = np.array(
            [CARE_LEVELS.index(node.care) if node.care in CARE_LEVELS else 0 for node in nodes],
            dtype=np.intp,
        )
        #: The highest level a condition can raise (0 when none can).
        self.highest_care = int(self.care[self.judged].max(initial=0))
        # The triage of a case with no reason, one per level.
        self._plain = tuple(Triage(level, ()) for level in CARE_LEVELS)
        self._findings = tuple(
            np.array([column[f] for f in node.findings if f in column], dtype=np.intp)
            for node in nodes
        )
        self._finding_members = np.zeros((len(self._node_ids), len(nodes)))
        for k, findings in enumerate(self._findings):
            self._finding_members[findings, k] = 1.0

    def thresholds(self, present: np.ndarray) -> np.ndarray:
        """Return the threshold each condition's triage score is held to, per case.

        ``present`` is a boolean ``(cases, nodes)`` matrix of the nodes
        observed present; the result has shape ``(cases, conditions)``.
        """
        spec = self._spec
        if spec.finding_threshold is None:
            return np.full((len(present), len(self._conditions)), spec.condition_threshold.p)
        specific = present @ self._finding_members > 0.0
        return np.where(specific, spec.finding_threshold.p, spec.condition_threshold.p)

    def symptom_present(self, present: np.ndarray) -> np.ndarray:
        """Return, per case, whether any symptom is observed present."""
        return np.asarray(present[:, self._symptoms].any(axis=1))

    def flag_levels(self, present: np.ndarray) -> np.ndarray:
        """Return, per case, the highest level of its red flags that fire (0 when none)."""
        return self.flag_level(self.fired(present))

    def fired(self, present: np.ndarray) -> np.ndarray:
        """Return, per case and red flag, whether the flag fires."""
        hits = (present @ self._group_members > 0.0) @ self._group_flags
        return np.asarray(hits == self._groups_per_flag)

    def flag_level(self, fired: np.ndarray) -> np.ndarray:
        """Return, per case, the highest level of the red flags ``fired`` (0 when none)."""
        if not fired.size:
            return np.zeros(len(fired), dtype=np.intp)
        return np.asarray(np.where(fired, self._flag_levels, 0).max(axis=1))

    def assess(
        self,
        present: np.ndarray,
        scores: np.ndarray,
        flags: np.ndarray | None = None,
        *,
        fired: np.ndarray | None = None,
        symptom: np.ndarray | None = None,
        thresholds: np.ndarray | None = None,
    ) -> TriageBatch:
        """Triage every case of a batch.

        Parameters
        ----------
        present : numpy.ndarray
            Boolean ``(cases, nodes)``: the nodes observed present.
        scores : numpy.ndarray
            ``(cases, conditions)``: each condition's triage score (see the
            module docstring).  Only the scores of :attr:`judged` conditions
            in cases with a symptom present are read, and of those only
            whether they reach their threshold and, where they do, the value.
        flags : numpy.ndarray, optional
            Each case's red-flag level, as :meth:`flag_levels` gives it.
        fired, symptom, thresholds : numpy.ndarray, optional
            The red flags that fire, whether a symptom is present, and the
            thresholds, as :meth:`fired`, :meth:`symptom_present` and
            :meth:`thresholds` give them, if already known.

        Returns
        -------
        TriageBatch
        """
        if fired is None:
            fired = self.fired(present)
        levels = self.flag_level(fired) if flags is None else np.asarray(flags, dtype=np.intp)
        if thresholds is None:
            thresholds = self.thresholds(present)
        if symptom is None:
            symptom = self.symptom_present(present)
        raised = symptom[:, None] & self.judged[None, :] & (scores >= thresholds)
        if raised.size:
            levels = np.maximum(levels, np.where(raised, self.care, 0).max(axis=1))
        return TriageBatch(self, present, scores, thresholds, fired, raised, levels)

    def _triages(self, batch: TriageBatch) -> list[Triage]:
        plain = self._plain
        reasoned: list[bool] = np.logical_or(
            batch.fired.any(axis=1), batch.raised.any(axis=1)
        ).tolist()
        return [
            self._triage(batch, i) if reasoned[i] else plain[level]
            for i, level in enumerate(batch.levels.tolist())
        ]

    def _triage(self, batch: TriageBatch, i: int) -> Triage:
        if not (batch.fired[i].any() or batch.raised[i].any()):
            return self._plain[batch.levels[i]]
        reasons = []
        for j in np.flatnonzero(batch.fired[i]):
            flag = self._spec.red_flags[j]
            text = f"{flag.label} (red flag {flag.id!r}; {flag.source.file})"
            reasons.append(TriageReason("red_flag", flag.id, flag.level, text))
        raised = [
            (self._conditions[k], float(batch.scores[i, k]), float(batch.thresholds[i, k]), k)
            for k in np.flatnonzero(batch.raised[i])
        ]
        raised.sort(key=lambda item: (-item[1], item[0]))
        for condition, score, threshold, k in raised:
            node = self._nodes[k]
            specific = [self._node_ids[f] for f in self._findings[k] if batch.present[i, f]]
            with_findings = f" with {', '.join(specific)}" if specific else ""
            text = (
                f"{node.label}: triage score {score:.2f} reaches the threshold "
                f"{threshold:.2f}{with_findings} for {node.care}"
            )
            reasons.append(TriageReason("condition", condition, str(node.care), text))
        return Triage(CARE_LEVELS[batch.levels[i]], tuple(reasons))


@dataclass(frozen=True)
class TriageBatch:
    """The triage of a batch of cases, from :meth:`TriageRules.assess`.

    ``levels`` holds each case's level as an index into ``CARE_LEVELS``;
    :meth:`level_names` gives the names, and :meth:`triage` one case's
    :class:`Triage` with its reasons.
    """

    rules: TriageRules
    present: np.ndarray
    scores: np.ndarray
    thresholds: np.ndarray
    fired: np.ndarray
    raised: np.ndarray
    levels: np.ndarray

    def level_names(self) -> np.ndarray:
        """Return each case's level name, as an object array."""
        return np.array(CARE_LEVELS, dtype=object)[self.levels]

    def triage(self, i: int) -> Triage:
        """Return case ``i``'s triage, exactly as :func:`assess_triage` gives it."""
        return self.rules._triage(self, i)

    def triages(self) -> list[Triage]:
        """Return every case's triage, as :meth:`triage` gives it."""
        return self.rules._triages(self)
