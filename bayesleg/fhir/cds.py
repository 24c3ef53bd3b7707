"""A CDS Hooks 2.0 service: the differential and triage of a patient's leg symptoms as a card.

``GET /cds-services`` answers :func:`discovery`: one service,
:data:`SERVICE_ID`, on the ``patient-view`` hook, whose prefetch template asks
the client for the patient's observations coded in bayesleg's code system.
``POST /cds-services/{id}`` takes the hook request (``hook``,
``hookInstance``, ``context``, and the observations in ``prefetch``, a
searchset ``Bundle``) and :func:`cards` answers with one card:

* ``indicator`` from the triage level (:data:`INDICATORS`): ``self_care`` is
  ``info``, ``see_doctor`` is ``warning`` and ``urgent`` is ``critical``;
* ``summary`` (under 140 characters): the most probable cause, its
  probability and the triage level;
* ``detail`` (Markdown): the triage reasons, the top causes with their
  probabilities, and the advice with the passage of the source text it
  rests on;
* ``source``: bayesleg and the model version.

With no observation of the vocabulary in the prefetch the answer is
``{"cards": []}``, as the specification says for no guidance.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from bayesleg._version import __version__
from bayesleg.errors import InvalidRequestError, quoted
from bayesleg.fhir.codes import LOCAL_SYSTEM
from bayesleg.fhir.evidence import read_case
from bayesleg.model import Model

__all__ = [
    "HOOK",
    "INDICATORS",
    "PREFETCH_KEY",
    "SERVICE_ID",
    "cards",
    "discovery",
    "prefetched",
]

SERVICE_ID = "bayesleg-leg-symptoms"
HOOK = "patient-view"
PREFETCH_KEY = "observations"
#: The card indicator of each triage level.
INDICATORS = {"self_care": "info", "see_doctor": "warning", "urgent": "critical"}
_LEVEL_WORDS = {
    "self_care": "manage it yourself",
    "see_doctor": "see a clinician",
    "urgent": "seek care at once",
}
_TOP = 3
# Every observation of the patient coded in bayesleg's system (a token search on the
# system alone, `system|`); the client fills in the patient id.
_PREFETCH = "Observation?patient={{context.patientId}}&code=" + LOCAL_SYSTEM + "|"
_SUMMARY_LIMIT = 139


def discovery(model: Model) -> dict[str, Any]:
    """Return the discovery response: the one service, its hook and its prefetch template."""
    return {
        "services": [
            {
                "hook": HOOK,
                "title": "Leg symptoms after exercise: causes and triage",
                "description": (
                    "Ranks the likely causes of leg weakness, heaviness, tingling, numbness "
                    "or cramps after exercise from the patient's observations coded in "
                    f"{LOCAL_SYSTEM}, and triages them (model {model.id!r} version "
                    f"{model.version})."
                ),
                "id": SERVICE_ID,
                "prefetch": {PREFETCH_KEY: _PREFETCH},
            }
        ]
    }


def prefetched(request: Any) -> Any:
    """Check a hook request's shape; return its prefetched observations, or None if absent.

    Raises
    ------
    InvalidRequestError
        If the request is not an object, its ``hook`` is not
        :data:`HOOK`, its ``hookInstance`` is not a string or its
        ``context`` or ``prefetch`` is not an object.
    """
    if not isinstance(request, dict):
        raise InvalidRequestError("expected a CDS Hooks request, a JSON object")
    if request.get("hook") != HOOK:
        raise InvalidRequestError(
            f"hook {quoted(request.get('hook'))} is not served here; expected {HOOK!r}"
        )
    instance = request.get("hookInstance")
    if not isinstance(instance, str) or not instance:
        raise InvalidRequestError(
            f"expected hookInstance to be a UUID string, got {quoted(instance)}"
        )
    if not isinstance(request.get("context"), dict):
        raise InvalidRequestError("expected context to be an object (with patientId)")
    prefetch = request.get("prefetch")
    if prefetch is None:
        return None
    if not isinstance(prefetch, dict):
        raise InvalidRequestError("expected prefetch to be an object of prefetch keys")
    return prefetch.get(PREFETCH_KEY)


def _summary(label: str, probability: float, level: str) -> str:
    tail = f" {probability:.0%} likely; {_LEVEL_WORDS.get(level, level)}"
    room = _SUMMARY_LIMIT - len(tail) - 1
    if len(label) > room:
        label = label[: room - 1].rstrip() + "…"
    return f"{label}:{tail}"


def cards(model: Model, request: Any) -> dict[str, Any]:
    """Answer a ``patient-view`` hook request with the differential as one card.

    Parameters
    ----------
    model : Model
    request : dict
        The hook request, as parsed JSON, with the observations in
        ``prefetch.observations``.

    Returns
    -------
    dict
        ``{"cards": [...]}``: one card, or none if no observation of the
        vocabulary was given.

    Raises
    ------
    InvalidRequestError
        If the request's shape is wrong, or its prefetch is missing (the
        service fetches nothing itself; the server answers 412).
    FhirResourceError, ImpossibleEvidenceError
        If the observations cannot be read, or are impossible together.
    """
    observations = prefetched(request)
    if observations is None:
        raise InvalidRequestError(f"the prefetch {PREFETCH_KEY!r} is missing")
    case = read_case(observations, model=model)
    if not case.evidence:
        return {"cards": []}
    diagnosis = model.diagnose(case.evidence)
    top = diagnosis.top
    level = diagnosis.triage.level
    lines = [f"**Triage: {_LEVEL_WORDS.get(level, level)}** (`{level}`)", ""]
    lines += [f"- {reason.text}" for reason in diagnosis.triage.reasons] or ["- no rule raised it"]
    lines += ["", "| Cause | Probability | Likelihood ratio |", "| --- | --- | --- |"]
    for cause in diagnosis.ranked[:_TOP]:
        ratio = cause.likelihood_ratio
        shown = (
            f"{ratio:.3g}" if math.isfinite(ratio) else "infinite (the findings make it certain)"
        )
        lines.append(f"| {cause.label} | {cause.posterior:.1%} | {shown} |")
    if diagnosis.advice:
        lines += ["", "**What the sources advise**", ""]
        lines += [
            f"- **{advice.label}** ({advice.care}): {advice.text} "
            f"*Source: {advice.source.file}: {advice.source.quote}*"
            for advice in diagnosis.advice
        ]
    card = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{SERVICE_ID}/{request['hookInstance']}/0")),
        "summary": _summary(top.label, top.posterior, level),
        "indicator": INDICATORS.get(level, "warning"),
        "detail": "\n".join(lines),
        "source": {"label": f"bayesleg {__version__}, model {model.id} {model.version}"},
    }
    return {"cards": [card]}
