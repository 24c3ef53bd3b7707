"""FHIR out: a diagnosis as an R4 ``RiskAssessment``, optionally in a Bundle with Conditions.

==========================  ===========================================================
``RiskAssessment``          from the ``Diagnosis``
==========================  ===========================================================
``status``                  ``final``
``subject``                 the observations' subject; else a Reference with only a
                            ``display`` (R4 requires a subject)
``method``                  bayesleg (:data:`METHOD_SYSTEM`), its version, the model's
                            id and version hash, and the ranking
``basis``                   a Reference to each input resource read, where given
``prediction``              one per condition, in the diagnosis's order: ``outcome``
                            coded (:mod:`bayesleg.fhir.codes`), ``probabilityDecimal``
                            = the posterior, ``relativeRisk`` = the likelihood ratio
                            (left out where infinite), ``qualitativeRisk`` = the triage
                            level (:data:`TRIAGE_SYSTEM`) for a condition that raised
                            it, ``rationale`` = prior, posterior, ratio in words
``mitigation``              the advice, each with the passage it rests on
``note``                    the triage level and its reasons
==========================  ===========================================================

A Bundle (``type`` ``collection``) adds a ``Condition`` per leading cause,
``verificationStatus`` ``differential``, with the RiskAssessment as its evidence.
Ids and ``fullUrl``s are UUIDs derived from the model version and the
evidence, so the same case gives the same resources.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bayesleg._version import __version__
from bayesleg.errors import InvalidArgumentError
from bayesleg.fhir.codes import node_codes

if TYPE_CHECKING:
    from bayesleg.reasoning.diagnosis import Diagnosis

__all__ = ["METHOD_SYSTEM", "TRIAGE_SYSTEM", "risk_assessment"]

#: bayesleg's code system for its method (code ``bayesleg``).
METHOD_SYSTEM = "https://bayesleg.org/fhir/CodeSystem/method"
#: bayesleg's code system for triage levels (``self_care``, ``see_doctor``, ``urgent``).
TRIAGE_SYSTEM = "https://bayesleg.org/fhir/CodeSystem/triage-level"
TRIAGE_DISPLAY = {
    "self_care": "Manage it yourself",
    "see_doctor": "See a clinician",
    "urgent": "Seek care at once",
}
_CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://bayesleg.org/fhir")


def _triage_concept(level: str) -> dict[str, Any]:
    display = TRIAGE_DISPLAY.get(level, level)
    return {
        "coding": [{"system": TRIAGE_SYSTEM, "code": level, "display": display}],
        "text": display,
    }


def _uuid(diagnosis: Diagnosis, what: str) -> str:
    evidence = ",".join(f"{node}={state}" for node, state in sorted(diagnosis.evidence.items()))
    name = f"{diagnosis.model_id}/{diagnosis.model_version}/{diagnosis.ranking}/{evidence}/{what}"
    return str(uuid.uuid5(_NAMESPACE, name))


def risk_assessment(
    diagnosis: Diagnosis,
    *,
    subject: Mapping[str, Any] | None = None,
    basis: Sequence[Mapping[str, Any]] = (),
    conditions: int = 0,
) -> dict[str, Any]:
    """Return ``diagnosis`` as a FHIR R4 ``RiskAssessment``, or a Bundle with Conditions.

    Parameters
    ----------
    diagnosis : Diagnosis
        As :meth:`bayesleg.Model.diagnose` returns it.
    subject : dict, optional
        The ``Reference`` to the patient; by default one with only a ``display``.
    basis : sequence of dict, optional
        ``Reference``s to the observations the evidence came from.
    conditions : int, default 0
        With 0, return the RiskAssessment; with N > 0, a ``collection``
        Bundle of it and a ``Condition`` (``differential``) for each of the
        first N causes.

    Returns
    -------
    dict
        The resource as JSON.

    Raises
    ------
    InvalidArgumentError
        If ``conditions`` is negative.

    Examples
    --------
    >>> import bayesleg
    >>> assessment = bayesleg.load().diagnose({"urge_to_move": True}).to_fhir()
    >>> assessment["prediction"][0]["outcome"]["coding"][1]["code"]
    'G25.81'
    """
    if isinstance(conditions, bool) or not isinstance(conditions, int) or conditions < 0:
        raise InvalidArgumentError(f"conditions must be a whole number >= 0, got {conditions!r}")
    subject = dict(subject) if subject is not None else {"display": "the case assessed"}
    raised = {
        reason.id: reason.level for reason in diagnosis.triage.reasons if reason.kind == "condition"
    }
    predictions = []
    for cause in diagnosis.ranked:
        codes = node_codes(diagnosis.model_id, cause.id, cause.label)
        prediction: dict[str, Any] = {
            "outcome": {"coding": [code.coding() for code in codes], "text": cause.label},
            "probabilityDecimal": cause.posterior,
        }
        if cause.id in raised:
            prediction["qualitativeRisk"] = _triage_concept(raised[cause.id])
        ratio = cause.likelihood_ratio
        if math.isfinite(ratio):
            prediction["relativeRisk"] = ratio
        shown = (
            f"{ratio:.3g}" if math.isfinite(ratio) else "infinite (the findings make it certain)"
        )
        prediction["rationale"] = (
            f"P = {cause.posterior:.3g} given all the evidence, {cause.prior:.3g} given the "
            f"factors alone; likelihood ratio (posterior odds over prior odds) {shown}"
        )
        predictions.append(prediction)
    triage = diagnosis.triage
    reasons = "; ".join(reason.text for reason in triage.reasons) or "no rule raised it"
    assessment: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": _uuid(diagnosis, "RiskAssessment"),
        "status": "final",
        "subject": subject,
        "method": {
            "coding": [{"system": METHOD_SYSTEM, "code": "bayesleg", "display": "bayesleg"}],
            "text": (
                f"bayesleg {__version__}, model {diagnosis.model_id} version "
                f"{diagnosis.model_version}, ranked by {diagnosis.ranking}"
            ),
        },
    }
    if basis:
        assessment["basis"] = [dict(reference) for reference in basis]
    assessment["prediction"] = predictions
    if diagnosis.advice:
        assessment["mitigation"] = "\n".join(
            f"{advice.label} ({advice.care}): {advice.text} "
            f"[source: {advice.source.file}: {advice.source.quote}]"
            for advice in diagnosis.advice
        )
    assessment["note"] = [
        {"text": f"Triage: {triage.level} ({TRIAGE_DISPLAY.get(triage.level, '')}); {reasons}"}
    ]
    if conditions == 0:
        return assessment
    assessment_url = f"urn:uuid:{assessment['id']}"
    entries = [{"fullUrl": assessment_url, "resource": assessment}]
    for cause in diagnosis.ranked[:conditions]:
        codes = node_codes(diagnosis.model_id, cause.id, cause.label)
        condition = {
            "resourceType": "Condition",
            "id": _uuid(diagnosis, f"Condition/{cause.id}"),
            "verificationStatus": {
                "coding": [
                    {
                        "system": _CONDITION_VERIFICATION,
                        "code": "differential",
                        "display": "Differential",
                    }
                ]
            },
            "code": {"coding": [code.coding() for code in codes], "text": cause.label},
            "subject": subject,
            "evidence": [{"detail": [{"reference": assessment_url}]}],
            "note": [{"text": f"Probability {cause.posterior:.3g} by the RiskAssessment"}],
        }
        entries.append({"fullUrl": f"urn:uuid:{condition['id']}", "resource": condition})
    return {
        "resourceType": "Bundle",
        "id": _uuid(diagnosis, "Bundle"),
        "type": "collection",
        "entry": entries,
    }
