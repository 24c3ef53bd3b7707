"""Triage: how soon to see a clinician, and why.

The level is the highest of

* every red flag whose findings are observed present (the help-seeking
  passages of the texts, declared as ``[[red_flag]]`` in the model file), and
* the ``care`` level of every condition whose posterior reaches the model's
  ``condition_threshold`` (``[triage]`` in the model file).

Levels never fall below ``self_care``; nothing in the evidence can lower a
level another rule raised, so triage errs toward seeing a clinician.
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
    spec: ModelSpec, evidence: Mapping[str, str], posteriors: Mapping[str, float]
) -> Triage:
    """Return the triage for a case.

    Parameters
    ----------
    spec : ModelSpec
        The model, for its red flags, care levels and threshold.
    evidence : mapping of str to str
        Normalised evidence, id to ``"present"`` or ``"absent"``.
    posteriors : mapping of str to float
        P(condition present | evidence) for every condition.

    Returns
    -------
    Triage
        Reasons list red flags first (file order), then conditions by
        decreasing posterior.
    """
    reasons = []
    for flag in spec.red_flags:
        present = [evidence.get(node) == "present" for node in flag.any]
        if all(evidence.get(node) == "present" for node in flag.all) and (
            not flag.any or any(present)
        ):
            text = f"{flag.label} (red flag {flag.id!r}; {flag.source.file})"
            reasons.append(TriageReason("red_flag", flag.id, flag.level, text))
    threshold = spec.condition_threshold.p
    # Every condition has a care level (the model file requires one); no other node has.
    cares = {node.id: (node.care, node.label) for node in spec.nodes if node.care is not None}
    raised = sorted(
        (
            (condition, probability)
            for condition, probability in posteriors.items()
            if cares[condition][0] != "self_care" and probability >= threshold
        ),
        key=lambda item: (-item[1], item[0]),
    )
    for condition, probability in raised:
        care, label = cares[condition]
        text = (
            f"{label}: posterior {probability:.2f} reaches the threshold {threshold:.2f} for {care}"
        )
        reasons.append(TriageReason("condition", condition, care, text))
    level = max((reason.level for reason in reasons), key=CARE_LEVELS.index, default="self_care")
    return Triage(level, tuple(reasons))
