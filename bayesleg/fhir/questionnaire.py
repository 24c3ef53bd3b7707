"""The FHIR R4 ``Questionnaire`` that asks the model's vocabulary.

Items are grouped as the model groups its nodes: the factors (training,
circumstances and history), then the symptoms, each in file order.  The
conditions are what the assessment infers, so they are not asked.  Each
question is a ``choice`` answered from HL7's yes/no value set
(:data:`YES_NO_VALUE_SET`, codes Y and N of :data:`YES_NO_SYSTEM`), its
``linkId`` the node id and its ``code`` the node's codes; a
``QuestionnaireResponse`` to it reads back through
:func:`~bayesleg.fhir.evidence.evidence_from`.
"""

from __future__ import annotations

import re
from typing import Any

from bayesleg.fhir.codes import shipped_model, vocabulary
from bayesleg.model import Model

__all__ = ["YES_NO_SYSTEM", "YES_NO_VALUE_SET", "questionnaire", "questionnaire_url"]

#: HL7's value set "Yes/no Indicator" (table 0136): Y and N of :data:`YES_NO_SYSTEM`.
YES_NO_VALUE_SET = "http://terminology.hl7.org/ValueSet/v2-0136"
YES_NO_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0532"

_GROUPS = (
    ("factor", "factors", "Training, circumstances and history"),
    ("symptom", "symptoms", "Symptoms"),
)


def questionnaire_url(model: Model) -> str:
    """Return the canonical URL of the model's questionnaire."""
    return f"https://bayesleg.org/fhir/Questionnaire/{_fhir_id(model.id)}"


def _fhir_id(text: str) -> str:
    """Return ``text`` as a FHIR id: letters, digits, ``-`` and ``.``, at most 64."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64] or "model"


def questionnaire(model: Model | None = None) -> dict[str, Any]:
    """Return the ``Questionnaire`` for the model's factors and symptoms.

    Parameters
    ----------
    model : Model, optional
        By default the shipped model.

    Returns
    -------
    dict
        A FHIR R4 ``Questionnaire`` as JSON: ``url`` and ``version`` (the
        model's version hash) identify it; ``item`` holds one group per kind.

    Examples
    --------
    >>> form = questionnaire()
    >>> [group["linkId"] for group in form["item"]]
    ['factors', 'symptoms']
    >>> form["item"][1]["item"][0]["linkId"], form["item"][1]["item"][0]["answerValueSet"]
    ('weakness', 'http://terminology.hl7.org/ValueSet/v2-0136')
    """
    model = shipped_model() if model is None else model
    codes = vocabulary(model)
    groups = []
    for kind, link, title in _GROUPS:
        items = [
            {
                "linkId": node.id,
                "code": [code.coding() for code in codes.codes[node.id]],
                "text": node.label,
                "type": "choice",
                "answerValueSet": YES_NO_VALUE_SET,
            }
            for node in model.nodes
            if node.kind == kind
        ]
        if items:
            groups.append({"linkId": link, "text": title, "type": "group", "item": items})
    name = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", model.id) if part)
    return {
        "resourceType": "Questionnaire",
        "id": _fhir_id(model.id),
        "url": questionnaire_url(model),
        "version": model.version,
        "name": f"Bayesleg{name}"[:255],
        "title": model.spec.title,
        "status": "active",
        "subjectType": ["Patient"],
        "description": (
            "What is known of a case of leg symptoms after exercise: answer each question "
            "yes or no, or leave it unanswered when unknown."
        ),
        "item": groups,
    }
