"""HL7 FHIR R4 in and out, and a CDS Hooks service, for the model's vocabulary.

* :func:`evidence_from` reads a ``Bundle`` of ``Observation``\\ s, one
  ``Observation`` or a ``QuestionnaireResponse`` into evidence
  (:mod:`bayesleg.fhir.evidence`);
* :func:`questionnaire` is the ``Questionnaire`` that asks the vocabulary
  (:mod:`bayesleg.fhir.questionnaire`);
* :meth:`bayesleg.Diagnosis.to_fhir` writes a ``RiskAssessment``
  (:mod:`bayesleg.fhir.riskassessment`), and :func:`evaluate` goes from one
  to the other;
* :mod:`bayesleg.fhir.cds` answers CDS Hooks requests with cards;
* :mod:`bayesleg.fhir.codes` holds the codes: bayesleg's own system for
  every node, and ICD-10-CM where one was confirmed, each with its source.

The resources are plain JSON (dicts); nothing here needs a FHIR library.
The tests validate every resource written with ``fhir.resources`` (the
``fhir`` extra).  Not imported by ``import bayesleg``.
"""

from __future__ import annotations

from typing import Any

from bayesleg.fhir.codes import LOCAL_SYSTEM, shipped_model, vocabulary
from bayesleg.fhir.evidence import FhirCase, evidence_from, read_case
from bayesleg.fhir.questionnaire import questionnaire
from bayesleg.fhir.riskassessment import risk_assessment
from bayesleg.model import Model

__all__ = [
    "LOCAL_SYSTEM",
    "FhirCase",
    "evaluate",
    "evidence_from",
    "questionnaire",
    "read_case",
    "risk_assessment",
    "vocabulary",
]


def evaluate(
    resource: Any,
    *,
    model: Model | None = None,
    ranking: str = "posterior",
    conditions: int = 0,
) -> dict[str, Any]:
    """Diagnose the case a FHIR resource describes; return the ``RiskAssessment``.

    Its ``basis`` references the resources read and its ``subject`` is theirs.

    Parameters
    ----------
    resource : dict
        As :func:`evidence_from` takes it.
    model : Model, optional
        By default the shipped model.
    ranking : str, default "posterior"
        As :meth:`bayesleg.Model.diagnose` takes it.
    conditions : int, default 0
        With N > 0, a Bundle that adds N ``Condition``\\ s (see
        :func:`~bayesleg.fhir.riskassessment.risk_assessment`).

    Returns
    -------
    dict

    Raises
    ------
    FhirResourceError
        If the resource cannot be read as evidence.
    ImpossibleEvidenceError
        If the evidence has probability zero under the model.

    Examples
    --------
    >>> bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{
    ...     "fullUrl": "urn:uuid:5b3c4a0e-0d47-4b8a-9d1e-2f3c4b5a6d7e",
    ...     "resource": {
    ...         "resourceType": "Observation", "status": "final", "valueBoolean": True,
    ...         "code": {"coding": [{"system": LOCAL_SYSTEM, "code": "urge_to_move"}]}}}]}
    >>> evaluate(bundle)["basis"]
    [{'reference': 'urn:uuid:5b3c4a0e-0d47-4b8a-9d1e-2f3c4b5a6d7e'}]
    """
    model = shipped_model() if model is None else model
    case = read_case(resource, model=model)
    diagnosis = model.diagnose(case.evidence, ranking=ranking)
    return diagnosis.to_fhir(subject=case.subject, basis=case.basis, conditions=conditions)
