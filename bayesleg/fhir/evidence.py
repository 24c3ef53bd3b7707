"""FHIR in: evidence from R4 Observations, a Bundle of them, or a QuestionnaireResponse.

An ``Observation`` is one finding: its ``code`` is matched through the code
file (:mod:`bayesleg.fhir.codes`: bayesleg's own system, or a mapped ICD-10-CM
code), its value read as present or absent from

* ``valueBoolean``;
* ``valueCodeableConcept`` coded SNOMED CT 52101004 Present / 2667000 Absent,
  or HL7 Y / N (code systems ``v2-0532`` and ``v2-0136``);
* else ``interpretation`` coded ``POS`` / ``NEG``
  (``http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation``);
* a ``dataAbsentReason`` and no value: not observed, no evidence.

An observation whose ``status`` is ``entered-in-error`` or ``cancelled`` is
ignored.  In a ``Bundle``, entries of other resource types (a ``Patient``, an
``OperationOutcome`` of a search) are passed over.  A ``QuestionnaireResponse``
answers items whose ``linkId`` is a node id, as the
:func:`~bayesleg.fhir.questionnaire.questionnaire` asks them (``valueCoding``
Y/N or present/absent, or ``valueBoolean``); unanswered items are unobserved.

Anything else -- an unknown code, an unreadable value, two observations that
disagree, observations of different subjects -- is a
:class:`~bayesleg.errors.FhirResourceError` naming the resource, the code and
what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bayesleg.errors import FhirResourceError, close_matches, json_quoted
from bayesleg.fhir.codes import LOCAL_SYSTEM, Vocabulary, shipped_model, vocabulary
from bayesleg.model import Model

__all__ = ["FhirCase", "evidence_from", "read_case"]

INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_INTERPRETATIONS = {"POS": "present", "NEG": "absent"}
_IGNORED = frozenset({"entered-in-error", "cancelled"})
_OBSERVATION_STATUSES = frozenset(
    {"registered", "preliminary", "final", "amended", "corrected", "unknown", *_IGNORED}
)
_RESPONSE_STATUSES = frozenset(
    {"in-progress", "completed", "amended", "stopped", "entered-in-error"}
)
_VALUE_EXPECTED = (
    "valueBoolean, a valueCodeableConcept coded SNOMED CT 52101004 (Present) or 2667000 "
    "(Absent) or HL7 v2-0532/v2-0136 Y or N, or an interpretation POS or NEG"
)


@dataclass(frozen=True)
class FhirCase:
    """What a FHIR resource says of a case.

    ``evidence`` maps node id to True/False, as :meth:`Model.diagnose` takes
    it; ``basis`` holds a ``Reference`` to each resource read (for
    ``RiskAssessment.basis``); ``subject`` is their common ``subject``, if any.
    """

    evidence: Mapping[str, bool]
    basis: tuple[dict[str, str], ...] = ()
    subject: Mapping[str, Any] | None = None


@dataclass
class _Reader:
    vocabulary: Vocabulary
    ids: tuple[str, ...]
    found: dict[str, tuple[bool, str]] = field(default_factory=dict)
    basis: list[dict[str, str]] = field(default_factory=list)
    subject: tuple[Mapping[str, Any], str] | None = None

    def fail(self, where: str, message: str, code: str | None = None) -> FhirResourceError:
        return FhirResourceError(where, message, code=code)

    def add(self, node: str, present: bool, where: str) -> None:
        if node in self.found and self.found[node][0] != present:
            said, other = self.found[node]
            raise self.fail(
                where,
                f"says {node!r} is {_state(present)}, but {other} says it is {_state(said)}",
                node,
            )
        self.found[node] = (present, where)

    def add_subject(self, resource: Mapping[str, Any], where: str) -> None:
        subject = resource.get("subject")
        if subject is None:
            return
        if not isinstance(subject, dict):
            raise self.fail(
                where, f"expected subject to be a Reference object, got {_kind(subject)}"
            )
        problem = _reference_problem(subject)
        if problem is not None:  # the subject is echoed in the RiskAssessment, so it must be valid
            raise self.fail(where, f"its subject is not a Reference: {problem}")
        if self.subject is not None and _same(self.subject[0]) != _same(subject):
            raise self.fail(
                where,
                f"its subject {json_quoted(subject.get('reference'))} is not that of "
                f"{self.subject[1]} ({json_quoted(self.subject[0].get('reference'))}); "
                "expected one subject for one assessment",
            )
        if self.subject is None:
            self.subject = (subject, where)

    def refer(self, resource: Mapping[str, Any], full_url: Any) -> None:
        if isinstance(full_url, str) and full_url:
            self.basis.append({"reference": full_url})
        elif isinstance(resource.get("id"), str) and resource["id"]:
            self.basis.append({"reference": f"{resource['resourceType']}/{resource['id']}"})

    def node(self, code: Any, where: str) -> str:
        """Return the node id an Observation's ``code`` names."""
        codings = _codings(code, where, "code")
        matched = _looked_up(codings, self.vocabulary.by_code)
        if len(matched) == 1:
            return matched.pop()
        given = _described(codings)
        if len(matched) > 1:
            raise self.fail(where, f"its codings ({given}) name several nodes: {sorted(matched)}")
        locals_ = [c.get("code") for c in codings if c.get("system") == LOCAL_SYSTEM]
        hint = ""
        if locals_ and isinstance(locals_[0], str):
            close = close_matches(locals_[0], self.ids)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise self.fail(
            where,
            f"no coding of its code ({given or 'none'}) is in the vocabulary; expected a code "
            f"of {LOCAL_SYSTEM} (a node id, see `bayesleg nodes`) or a standard code of "
            f"bayesleg/fhir/codes.toml{hint}",
            code=str(codings[0].get("code")) if codings else None,
        )

    def coded_state(self, concept: Any, where: str, what: str) -> str:
        codings = _codings(concept, where, what)
        states = _looked_up(codings, self.vocabulary.answers)
        if len(states) == 1:
            return states.pop()
        given = _described(codings)
        problem = "both present and absent" if states else "no present/absent code"
        raise self.fail(
            where, f"{what} ({given or 'no coding'}) has {problem}; expected {_VALUE_EXPECTED}"
        )

    def status(
        self, resource: Mapping[str, Any], where: str, kind: str, statuses: frozenset[str]
    ) -> str:
        """Return the resource's status, refusing one that ``kind`` does not have."""
        status = resource.get("status")
        if not isinstance(status, str) or status not in statuses:
            raise self.fail(
                where,
                f"status {json_quoted(status)} is not {kind} status; expected one of "
                f"{', '.join(sorted(statuses))}",
            )
        return status

    def observation(self, resource: Mapping[str, Any], where: str, full_url: Any = None) -> None:
        status = self.status(resource, where, "an Observation", _OBSERVATION_STATUSES)
        if status in _IGNORED:
            return
        node = self.node(resource.get("code"), where)
        present = self.value(resource, where, node)
        if present is None:
            return
        self.add_subject(resource, where)
        self.add(node, present, where)
        self.refer(resource, full_url)

    def value(self, resource: Mapping[str, Any], where: str, node: str) -> bool | None:
        values = [key for key in resource if key.startswith("value")]
        state: str | None = None
        if values == ["valueBoolean"]:
            if not isinstance(resource["valueBoolean"], bool):
                raise self.fail(
                    where,
                    f"valueBoolean is {json_quoted(resource['valueBoolean'])}; "
                    "expected true or false",
                    node,
                )
            state = _state(resource["valueBoolean"])
        elif values == ["valueCodeableConcept"]:
            state = self.coded_state(
                resource["valueCodeableConcept"], where, "valueCodeableConcept"
            )
        elif values:
            raise self.fail(
                where, f"{values[0]} cannot say present or absent; expected {_VALUE_EXPECTED}", node
            )
        interpreted = self.interpretation(resource.get("interpretation"), where, node)
        if state is not None and interpreted is not None and state != interpreted:
            raise self.fail(
                where, f"its value says {state} but its interpretation {interpreted}", node
            )
        state = state or interpreted
        if state is None:
            if "dataAbsentReason" in resource:
                return None
            raise self.fail(where, f"has no value for {node!r}; expected {_VALUE_EXPECTED}", node)
        return state == "present"

    def interpretation(self, interpretation: Any, where: str, node: str) -> str | None:
        if interpretation is None:
            return None
        if not isinstance(interpretation, list):
            raise self.fail(
                where, f"expected interpretation to be a list, got {_kind(interpretation)}", node
            )
        states = set()
        for concept in interpretation:
            for coding in _codings(concept, where, "interpretation"):
                key = _key(coding)
                if (
                    key is not None
                    and key[0] == INTERPRETATION_SYSTEM
                    and key[1] in _INTERPRETATIONS
                ):
                    states.add(_INTERPRETATIONS[key[1]])
                else:
                    raise self.fail(
                        where,
                        f"interpretation {json_quoted(coding.get('code'))} of "
                        f"{json_quoted(coding.get('system'))} cannot say present or absent; "
                        f"expected POS or NEG of {INTERPRETATION_SYSTEM}",
                        node,
                    )
        if len(states) > 1:
            raise self.fail(where, "its interpretation says both POS and NEG", node)
        return states.pop() if states else None

    def response(self, resource: Mapping[str, Any], where: str, full_url: Any = None) -> None:
        status = self.status(resource, where, "a QuestionnaireResponse", _RESPONSE_STATUSES)
        if status == "entered-in-error":
            return
        self.add_subject(resource, where)
        read_any = False
        stack = [(resource.get("item", []), "item")]
        while stack:
            items, path = stack.pop()
            if not isinstance(items, list):
                raise self.fail(where, f"expected {path} to be a list, got {_kind(items)}")
            for index, item in enumerate(items):
                here = f"{path}[{index}]"
                if not isinstance(item, dict):
                    raise self.fail(where, f"expected {here} to be an object, got {_kind(item)}")
                if "item" in item:
                    stack.append((item["item"], f"{here}.item"))
                answers = item.get("answer")
                if answers is None or answers == []:
                    continue
                read_any |= self.answer(item, answers, f"{where}, {here}")
        if read_any:
            self.refer(resource, full_url)

    def answer(self, item: Mapping[str, Any], answers: Any, where: str) -> bool:
        link = item.get("linkId")
        if not isinstance(link, str) or link not in self.vocabulary.codes:
            close = close_matches(link, self.ids) if isinstance(link, str) else ()
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise self.fail(
                where,
                f"linkId {json_quoted(link)} is not a node id of the model{hint}",
                code=str(link),
            )
        if not isinstance(answers, list) or len(answers) != 1 or not isinstance(answers[0], dict):
            raise self.fail(where, f"expected one answer for {link!r}", code=link)
        answer = answers[0]
        values = [key for key in answer if key.startswith("value")]
        if values == ["valueBoolean"] and isinstance(answer["valueBoolean"], bool):
            present = answer["valueBoolean"]
        elif values == ["valueCoding"]:
            present = (
                self.coded_state({"coding": [answer["valueCoding"]]}, where, "valueCoding")
                == "present"
            )
        else:
            raise self.fail(
                where,
                f"the answer for {link!r} ({', '.join(values) or 'no value'}) cannot say yes or "
                "no; expected valueCoding Y or N of http://terminology.hl7.org/CodeSystem/v2-0532 "
                "(or SNOMED CT Present/Absent), or valueBoolean",
                code=link,
            )
        self.add(link, present, where)
        return True


def _key(coding: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return a Coding's ``(system, code)``, or None unless both are strings."""
    system, code = coding.get("system"), coding.get("code")
    return (system, code) if isinstance(system, str) and isinstance(code, str) else None


def _looked_up(codings: list[Mapping[str, Any]], table: Mapping[tuple[str, str], str]) -> set[str]:
    """Return what ``table`` maps the codings' ``(system, code)`` pairs to."""
    return {table[key] for key in map(_key, codings) if key is not None and key in table}


def _described(codings: list[Mapping[str, Any]]) -> str:
    return ", ".join(
        f"{json_quoted(c.get('code'))} of {json_quoted(c.get('system'))}" for c in codings
    )


# The Reference fields read, and an Identifier's, each with the FHIR type of
# its value: a ``uri`` has no white space, a ``code`` no leading, trailing or
# double space, and no text white space other than space, tab and line breaks.
_REFERENCE_FIELDS = {"reference": "string", "type": "uri", "display": "string"}
_IDENTIFIER_FIELDS = {"use": "code", "system": "uri", "value": "string"}


def _text_problem(name: str, value: Any, kind: str) -> str | None:
    if not (isinstance(value, str) and value.strip()):
        return f"{name} is {json_quoted(value)}; expected non-empty text"
    if kind == "uri" and any(char.isspace() for char in value):
        return f"{name} is {json_quoted(value)}; a uri has no white space"
    if kind == "code" and value != " ".join(value.split()):
        return f"{name} is {json_quoted(value)}; a code has no leading, trailing or double space"
    if any(char.isspace() and char not in " \r\n\t" for char in value):
        return f"{name} is {json_quoted(value)}; FHIR text has no white space but tabs and breaks"
    return None


def _reference_problem(subject: Mapping[str, Any]) -> str | None:
    """What keeps ``subject`` from being an R4 Reference this reader echoes, or None."""
    for key, value in subject.items():
        if key in _REFERENCE_FIELDS:
            problem = _text_problem(key, value, _REFERENCE_FIELDS[key])
        elif key == "identifier":
            if not isinstance(value, dict):
                return f"identifier is {_kind(value)}; expected an Identifier object"
            problem = None
            for field, text in value.items():
                if field not in _IDENTIFIER_FIELDS:
                    return (
                        f"unknown field identifier.{json_quoted(field)}; expected "
                        f"{', '.join(_IDENTIFIER_FIELDS)}"
                    )
                problem = problem or _text_problem(
                    f"identifier.{field}", text, _IDENTIFIER_FIELDS[field]
                )
        else:
            problem = (
                f"unknown field {json_quoted(key)}; expected "
                f"{', '.join((*_REFERENCE_FIELDS, 'identifier'))}"
            )
        if problem is not None:
            return problem
    return None


def _same(subject: Mapping[str, Any]) -> Any:
    """What makes two subject References the same: the reference, where there is one."""
    reference = subject.get("reference")
    return reference if isinstance(reference, str) else subject


def _state(present: bool) -> str:
    return "present" if present else "absent"


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _codings(concept: Any, where: str, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(concept, dict):
        raise FhirResourceError(
            where, f"expected {what} to be a CodeableConcept, got {_kind(concept)}"
        )
    codings = concept.get("coding", [])
    if not isinstance(codings, list) or not all(isinstance(c, dict) for c in codings):
        raise FhirResourceError(where, f"expected {what}.coding to be a list of Coding objects")
    return codings


def _name(resource: Mapping[str, Any], place: str = "") -> str:
    kind = resource.get("resourceType")
    ident = resource.get("id")
    name = f"{kind} {json_quoted(ident)}" if isinstance(ident, str) else str(kind)
    return f"{name} ({place})" if place else name


def read_case(resource: Any, *, model: Model | None = None) -> FhirCase:
    """Read a FHIR R4 resource into evidence, the references it rests on and its subject.

    Parameters
    ----------
    resource : dict
        A ``Bundle`` (of ``Observation``s and ``QuestionnaireResponse``s),
        one ``Observation`` or one ``QuestionnaireResponse``, as parsed JSON.
    model : Model, optional
        Whose vocabulary the codes name; by default the shipped model.

    Returns
    -------
    FhirCase

    Raises
    ------
    FhirResourceError
        As the module docstring lists.
    """
    model = shipped_model() if model is None else model
    reader = _Reader(vocabulary(model), tuple(node.id for node in model.nodes))
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FhirResourceError(
            "the request",
            f"expected a FHIR resource (an object with a resourceType), got {_kind(resource)}",
        )
    kind = resource["resourceType"]
    if kind == "Observation":
        reader.observation(resource, _name(resource))
    elif kind == "QuestionnaireResponse":
        reader.response(resource, _name(resource))
    elif kind == "Bundle":
        entries = resource.get("entry", [])
        if not isinstance(entries, list):
            raise FhirResourceError(
                _name(resource), f"expected entry to be a list, got {_kind(entries)}"
            )
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise FhirResourceError(_name(resource), f"expected entry[{index}] to be an object")
            inner = entry.get("resource")
            if inner is None:
                continue
            if not isinstance(inner, dict):
                raise FhirResourceError(
                    _name(resource), f"expected entry[{index}].resource to be an object"
                )
            where = _name(inner, f"Bundle entry {index}")
            if inner.get("resourceType") == "Observation":
                reader.observation(inner, where, entry.get("fullUrl"))
            elif inner.get("resourceType") == "QuestionnaireResponse":
                reader.response(inner, where, entry.get("fullUrl"))
    else:
        raise FhirResourceError(
            _name(resource),
            f"resourceType {json_quoted(kind)} is not read; expected Bundle, Observation or "
            "QuestionnaireResponse",
        )
    evidence = {node: present for node, (present, _) in reader.found.items()}
    subject = reader.subject[0] if reader.subject else None
    return FhirCase(evidence, tuple(reader.basis), subject)


def evidence_from(resource: Any, *, model: Model | None = None) -> dict[str, bool]:
    """Return the evidence a FHIR R4 resource gives, as :meth:`Model.diagnose` takes it.

    Parameters
    ----------
    resource : dict
        A ``Bundle`` of ``Observation``s, one ``Observation``, or a
        ``QuestionnaireResponse``, as parsed JSON.
    model : Model, optional
        Whose vocabulary the codes name; by default the shipped model.

    Returns
    -------
    dict of str to bool
        Node id to True (present) or False (absent).

    Raises
    ------
    FhirResourceError
        If a code is unknown, a value cannot say present or absent, two
        resources disagree, or the resource is of another type; the message
        names the resource, the code and what was expected.

    Examples
    --------
    >>> evidence_from({
    ...     "resourceType": "Observation", "status": "final",
    ...     "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "R25.2"}]},
    ...     "valueBoolean": True,
    ... })
    {'cramps': True}
    """
    return dict(read_case(resource, model=model).evidence)
