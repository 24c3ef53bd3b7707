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

from collections.abc import Mapping
from dataclasses import dataclass

from bayesleg.knowledge.modelfile import CARE_LEVELS, ModelSpec

__all__ = ["Triage", "TriageReason", "assess_triage"]


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
