"""The versioned JSON contract through which other programs call bayesleg.

JSON lines (``bayesleg diagnose --jsonl``) and the HTTP service
(``bayesleg serve``) both speak it, through the functions here, so a request
gets the same answer, or the same error, whichever route it takes.

The contract is a set of JSON Schemas (draft 2020-12) shipped in
``bayesleg/schemas`` and printed by ``bayesleg schema NAME``:

===========================  ================================================
name                         what it describes
===========================  ================================================
``diagnosis-request``        one case: ``{"evidence": {...}, "top"?, ...}``
``diagnosis-response``       ``"schema": "bayesleg.diagnosis/1"``
``batch-request``            ``{"cases": [diagnosis-request, ...]}``
``batch-response``           ``"schema": "bayesleg.diagnosis-batch/1"``
``next-questions-request``   a case so far, and ``k``
``next-questions-response``  ``"schema": "bayesleg.next-questions/1"``
``explain-request``          a case so far, and the ``cause`` to explain
``explain-response``         ``"schema": "bayesleg.explanation/1"``
``model``                    the vocabulary, ``"schema": "bayesleg.model/1"``
``health``                   the service's health check
``error``                    ``"schema": "bayesleg.error/1"``
``common``                   definitions the others refer to
===========================  ================================================

:mod:`bayesleg.serving.schemas` reads them.

Requests are checked here by hand, field by field, so the core install needs
no JSON Schema library; a test validates real responses against the schemas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bayesleg.errors import (
    BayeslegError,
    ImpossibleEvidenceError,
    InvalidEvidenceError,
    InvalidRequestError,
    InvalidStateError,
    UnknownNodeError,
    close_matches,
    json_quoted,
    quoted,
)
from bayesleg.knowledge._json import JsonError, is_unicode
from bayesleg.knowledge._json import loads as strict_json
from bayesleg.knowledge.evidence import EVIDENCE_VALUES, normalise_evidence, parse_state
from bayesleg.knowledge.modelfile import CARE_LEVELS, NodeSpec, Parameter, Source
from bayesleg.model import Model
from bayesleg.reasoning.counterfactual import RANKINGS
from bayesleg.reasoning.diagnosis import Diagnosis
from bayesleg.research.uncertainty import with_uncertainty
from bayesleg.serving.limits import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_COST,
    MAX_REQUEST_UNCERTAINTY,
)

__all__ = [
    "BATCH",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_COST",
    "DIAGNOSIS",
    "ERROR",
    "EXPLANATION",
    "MAX_REQUEST_UNCERTAINTY",
    "MODEL",
    "NEXT_QUESTIONS",
    "InvalidRequestError",
    "batch_cost",
    "diagnose",
    "diagnose_batch",
    "dumps",
    "error_message",
    "error_object",
    "evidence_warnings",
    "explain",
    "model_description",
    "next_questions",
    "parse_json",
    "read_batch",
]

#: The ``"schema"`` tag of each kind of message, with its major version.
DIAGNOSIS = "bayesleg.diagnosis/1"
BATCH = "bayesleg.diagnosis-batch/1"
NEXT_QUESTIONS = "bayesleg.next-questions/1"
EXPLANATION = "bayesleg.explanation/1"
MODEL = "bayesleg.model/1"
ERROR = "bayesleg.error/1"


_DEFAULT_QUESTIONS = 5
_MAX_ID_LENGTH = 200


# --------------------------------------------------------------------------
# Reading requests
# --------------------------------------------------------------------------


def parse_json(data: str | bytes) -> Any:
    """Parse one request's JSON strictly.

    Stricter than :func:`json.loads`: a key given twice in one object, and
    the non-standard constants ``NaN`` and ``Infinity``, are errors rather
    than silently resolved.

    Raises
    ------
    InvalidRequestError
        If ``data`` is not UTF-8 or not valid JSON, or nests too deeply.

    Examples
    --------
    >>> parse_json(b'{"evidence": {"cramps": true}}')
    {'evidence': {'cramps': True}}
    """
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidRequestError(f"the request is not UTF-8 text: {error}") from None
    if not isinstance(data, str):
        raise InvalidRequestError(f"a request is JSON text or bytes, got {type(data).__name__}")
    try:
        return strict_json(data)
    except json.JSONDecodeError as error:
        raise InvalidRequestError(f"the request is not valid JSON: {error}") from None
    except JsonError as error:
        reason = f"the request {error}" if error.predicate else str(error)
        raise InvalidRequestError(reason) from None


@dataclass(frozen=True)
class _Request:
    """A request whose fields passed the contract's checks; evidence not yet checked."""

    id: str | int | float | None
    evidence: Any
    top: int | None = None
    ranking: str = "posterior"
    k: int = _DEFAULT_QUESTIONS
    cause: str = ""
    uncertainty: int = 0


def _read_request(payload: Any, tag: str, fields: Mapping[str, Callable[[Any], Any]]) -> _Request:
    """Check a request object's fields; ``fields`` maps each optional field to its check."""
    if not isinstance(payload, dict):
        raise InvalidRequestError(f"a request must be a JSON object, got {_json_kind(payload)}")
    _check_unicode(payload)
    allowed = ("schema", "id", "evidence", *fields)
    for key in payload:
        if key not in allowed:
            close = close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidRequestError(
                f"unknown field {quoted(key)}{hint}; a request has {', '.join(allowed)}"
            )
    if "schema" in payload and payload["schema"] != tag:
        raise InvalidRequestError(
            f"unsupported schema {json_quoted(payload['schema'])}; this endpoint reads {tag!r}"
        )
    if "evidence" not in payload:
        raise InvalidRequestError(
            'a request needs "evidence", an object of node id to true or false'
        )
    options = {name: check(payload[name]) for name, check in fields.items() if name in payload}
    return _Request(id=_request_id(payload), evidence=payload["evidence"], **options)


def _check_unicode(payload: dict[str, Any]) -> None:
    """Refuse a request holding a lone surrogate anywhere, naming the field.

    JSON's ``\\ud800``-``\\udfff`` escapes let a request carry half a
    character, which no UTF-8 answer can echo; it is refused here, at the
    boundary, rather than replaced, so the caller learns which field is at fault.
    """
    for field, value in payload.items():
        if not isinstance(field, str):  # JSON's keys are strings; a Python caller's may not be
            raise InvalidRequestError(f"a field name must be a string, got {json_quoted(field)}")
        if not is_unicode(field):
            raise _surrogate_error("a field name holds", field)
        found = _lone_surrogate(value)
        if found is not None:
            text, in_key = found
            raise _surrogate_error(
                f'"{field}" has a key with' if in_key else f'"{field}" holds', text
            )


def _lone_surrogate(value: Any) -> tuple[str, bool] | None:
    """Return the first string in ``value`` with a lone surrogate, and whether it is a key."""
    stack = [value]  # a loop, not recursion: the parser allows deeper nesting than a walk would
    seen: set[int] = set()  # containers walked: a Python caller's payload may hold itself
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not is_unicode(item):
                return item, False
        elif isinstance(item, dict | list):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, list):
                stack.extend(item)
                continue
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InvalidRequestError(f"keys must be strings, got {json_quoted(key)}")
                if not is_unicode(key):
                    return key, True
                stack.append(child)
    return None


def _surrogate_error(where: str, text: str) -> InvalidRequestError:
    position = next(i for i, char in enumerate(text) if "\ud800" <= char <= "\udfff")
    shown = repr(text)  # repr escapes a surrogate, so the message itself is Unicode text
    if len(text) > 40:
        start = max(0, position - 20)
        shown = "…" * (start > 0) + repr(text[start : start + 40]) + "…" * (start + 40 < len(text))
    return InvalidRequestError(
        f"{where} a lone surrogate: {shown} (character {position}); strings must be Unicode "
        "text, where an escape \\ud800-\\udbff is followed by one \\udc00-\\udfff"
    )


def _request_id(payload: Any) -> str | int | float | None:
    """Return the request's ``id`` if it has a valid one, else None; raise if it is invalid."""
    if not isinstance(payload, dict) or "id" not in payload:
        return None
    value = payload["id"]
    if isinstance(value, str) and len(value) <= _MAX_ID_LENGTH and is_unicode(value):
        return value
    if _is_integer(value):
        return value
    raise InvalidRequestError(
        f'"id" must be a string of at most {_MAX_ID_LENGTH} characters or an integer, '
        f"got {_json_kind(value)}"
    )


def _positive_int(field: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if _is_integer(value) and value >= 1:
            return int(value)
        raise InvalidRequestError(
            f'"{field}" must be a whole number of at least 1, got {json_quoted(value)}'
        )

    return check


def _is_integer(value: Any) -> bool:
    """Whether JSON Schema counts ``value`` as an integer: 3 and 3.0, but not true."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _cause(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise InvalidRequestError(f'"cause" must be a condition id (a string), got {_json_kind(value)}')


def _uncertainty(value: Any) -> int:
    if _is_integer(value) and 0 <= value <= MAX_REQUEST_UNCERTAINTY:
        return int(value)
    raise InvalidRequestError(
        f'"uncertainty" must be a whole number from 0 to {MAX_REQUEST_UNCERTAINTY} (draws), '
        f"got {json_quoted(value)}"
    )


def _ranking(value: Any) -> str:
    if value in RANKINGS:
        return value
    raise InvalidRequestError(
        f'"ranking" must be one of {", ".join(RANKINGS)}; got {json_quoted(value)}'
    )


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return kinds.get(type(value), type(value).__name__)


def _observe(model: Model, evidence: Any) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Check the evidence against the model; return it normalised, and the warnings it draws.

    The errors are those of :func:`~bayesleg.knowledge.evidence.normalise_evidence`,
    in the same order, named in JSON's words (``true``, ``null``, ``an array``).
    """
    ids = [node.id for node in model.nodes]
    if not isinstance(evidence, dict):
        raise InvalidEvidenceError(
            f'"evidence" must be an object of node id to true or false, got {json_quoted(evidence)}'
        )
    known = set(ids)
    for node, value in evidence.items():
        if node not in known:
            break  # normalise_evidence names it, with its did-you-mean
        if value is None:
            continue
        try:
            parse_state(node, value)  # the library's rule, reworded below for JSON
        except InvalidStateError:
            raise InvalidStateError(
                f"invalid value {json_quoted(value)} for {node!r}; expected true, false, "
                '"present", "absent", "yes" or "no" (null: unobserved)'
            ) from None
    normalised = normalise_evidence(evidence, ids)
    return normalised, _warnings(model, evidence, normalised, {})


def evidence_warnings(
    model: Model, evidence: Mapping[str, Any], *, words: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """Return the warnings a request with this evidence draws, as the ``Warning`` schema says.

    For callers other than the contract's own routes, such as the command
    line, so every route warns alike.

    Parameters
    ----------
    model : Model
        The model the evidence is for.
    evidence : mapping
        As a request's ``"evidence"``.
    words : mapping of str to str, optional
        How the messages name each state (``{"present": "yes", "absent": "no"}``
        on the command line); by default the state's own name.

    Raises
    ------
    UnknownNodeError, InvalidStateError, InvalidEvidenceError
        If the evidence is bad, as :meth:`Model.diagnose`.

    Examples
    --------
    >>> import bayesleg
    >>> [w["code"] for w in evidence_warnings(bayesleg.load(), {})]
    ['no_evidence']
    """
    normalised = normalise_evidence(evidence, [node.id for node in model.nodes])
    return _warnings(model, evidence, normalised, words or {})


def _warnings(
    model: Model,
    evidence: Mapping[str, Any],
    normalised: Mapping[str, str],
    words: Mapping[str, str],
) -> list[dict[str, str]]:
    warnings = [
        _warning("null_evidence", node, f"{node!r} is null, so it is treated as unobserved")
        for node, value in evidence.items()
        if value is None
    ]
    conditions = set(model.conditions)
    warnings.extend(
        _warning(
            "condition_as_evidence",
            node,
            f"{node!r} is a condition given as evidence ({node}={words.get(state, state)}), "
            "so it is pinned rather than diagnosed",
        )
        for node, state in normalised.items()
        if node in conditions
    )
    if not normalised:
        warnings.append(
            {
                "code": "no_evidence",
                "message": "nothing is observed, so the ranking is the model's prior",
            }
        )
    return warnings


def _warning(code: str, node: str, message: str) -> dict[str, str]:
    return {"code": code, "node": node, "message": message}


# --------------------------------------------------------------------------
# Answering
# --------------------------------------------------------------------------

_DIAGNOSIS_FIELDS: Mapping[str, Callable[[Any], Any]] = {
    "top": _positive_int("top"),
    "ranking": _ranking,
    "uncertainty": _uncertainty,
}


def diagnose(model: Model, payload: Any) -> dict[str, Any]:
    """Answer one diagnosis request.

    Parameters
    ----------
    model : Model
        The model that answers.
    payload : JSON value
        A request as the ``diagnosis-request`` schema describes.

    Returns
    -------
    dict
        A response as the ``diagnosis-response`` schema describes.

    Raises
    ------
    InvalidRequestError
        If the request breaks the contract.
    UnknownNodeError, InvalidStateError, InvalidEvidenceError, ImpossibleEvidenceError
        If its evidence is bad, as :meth:`Model.diagnose`.

    Examples
    --------
    >>> import bayesleg
    >>> response = diagnose(bayesleg.load(), {"evidence": {"cramps": True}, "top": 1})
    >>> response["schema"], len(response["ranked"])
    ('bayesleg.diagnosis/1', 1)
    """
    request = _read_request(payload, DIAGNOSIS, _DIAGNOSIS_FIELDS)
    evidence, warnings = _observe(model, request.evidence)
    diagnosis = model.diagnose(evidence, ranking=request.ranking, uncertainty=request.uncertainty)
    return _diagnosis_response(diagnosis, request, warnings)


def _diagnosis_response(
    diagnosis: Diagnosis, request: _Request, warnings: list[dict[str, str]]
) -> dict[str, Any]:
    body = diagnosis.to_dict()
    response = _envelope(DIAGNOSIS, request) | {
        "model": body["model"],
        "evidence": body["evidence"],
        "ranking": body["ranking"],
        "ranked": body["ranked"][: request.top] if request.top else body["ranked"],
        "triage": body["triage"],
        "advice": body["advice"],
        "warnings": warnings,
    }
    if "uncertainty" in body:
        response["uncertainty"] = body["uncertainty"]
    return response


def _envelope(tag: str, request: _Request) -> dict[str, Any]:
    """Start a response: its schema tag, and the request's id if it gave one."""
    return {"schema": tag} if request.id is None else {"schema": tag, "id": request.id}


def read_batch(payload: Any) -> list[Any]:
    """Check a batch request's envelope and return its cases, unchecked.

    Raises
    ------
    InvalidRequestError
        If the payload is not ``{"cases": [...]}`` (with an optional ``schema``).
    """
    if not isinstance(payload, dict):
        raise InvalidRequestError(f"a batch must be a JSON object, got {_json_kind(payload)}")
    unknown = sorted(set(payload) - {"schema", "cases"})
    if unknown:
        raise InvalidRequestError(f"unknown field {unknown[0]!r}; a batch has schema and cases")
    if "schema" in payload and payload["schema"] != BATCH:
        raise InvalidRequestError(f"unsupported schema {payload['schema']!r}; a batch is {BATCH!r}")
    cases = payload.get("cases")
    if not isinstance(cases, list):
        raise InvalidRequestError(
            f'a batch needs "cases", an array of diagnosis requests, got {_json_kind(cases)}'
        )
    return cases


def batch_cost(cases: Sequence[Any]) -> int:
    """Return the work a batch asks for: each case's evidence entries, at least 1 a case.

    A case asking for ``uncertainty`` adds a tenth of its draws.

    So a batch's cost is at most its cases times the model's findings; a
    service refuses a batch over its limit before any work.

    Examples
    --------
    >>> batch_cost([{"evidence": {"cramps": True, "fasted": "no"}}, {"evidence": {}}, "bad"])
    4
    """
    return sum(
        max(1, len(case["evidence"])) + _uncertainty_cost(case)
        if isinstance(case, dict) and isinstance(case.get("evidence"), dict)
        else 1
        for case in cases
    )


def _uncertainty_cost(case: dict[str, Any]) -> int:
    """Ten draws of a case's uncertainty cost about as much as one evidence entry."""
    draws = case.get("uncertainty", 0)
    # An invalid value costs nothing here: the case gets its own error.
    valid = _is_integer(draws) and 0 < draws <= MAX_REQUEST_UNCERTAINTY
    return int(draws) // 10 if valid else 0


def diagnose_batch(model: Model, cases: Sequence[Any]) -> dict[str, Any]:
    """Answer many diagnosis requests; a bad case gets an error, the others their answers.

    Parameters
    ----------
    model : Model
        The model that answers.
    cases : sequence of JSON values
        Diagnosis requests, as :func:`read_batch` returns them.

    Returns
    -------
    dict
        ``{"schema": "bayesleg.diagnosis-batch/1", "results": [...]}``, one
        result per case, in order: a diagnosis response, or an error object
        with the case's ``index``.
    """
    if not isinstance(cases, list | tuple):
        raise InvalidRequestError(
            f"a batch's cases must be an array of diagnosis requests, got {_json_kind(cases)}"
        )
    results: list[dict[str, Any] | None] = [None] * len(cases)
    ready: list[tuple[int, _Request, dict[str, str], list[dict[str, str]]]] = []
    for index, payload in enumerate(cases):
        try:
            request = _read_request(payload, DIAGNOSIS, _DIAGNOSIS_FIELDS)
            evidence, warnings = _observe(model, request.evidence)
        except BayeslegError as error:
            results[index] = error_object(error, payload=payload, index=index)
        else:
            ready.append((index, request, evidence, warnings))
    for index, request, diagnosis, warnings in _diagnose_all(model, ready):
        if isinstance(diagnosis, BayeslegError):
            results[index] = error_object(diagnosis, payload=cases[index], index=index)
        else:
            results[index] = _diagnosis_response(diagnosis, request, warnings)
    return {"schema": BATCH, "results": results}


def _diagnose_all(
    model: Model, ready: list[tuple[int, _Request, dict[str, str], list[dict[str, str]]]]
) -> Iterable[tuple[int, _Request, Diagnosis | BayeslegError, list[dict[str, str]]]]:
    """Diagnose checked cases in one batched pass per ranking, one by one if one is impossible."""
    groups: dict[str, list[tuple[int, _Request, dict[str, str], list[dict[str, str]]]]] = {}
    for item in ready:
        groups.setdefault(item[1].ranking, []).append(item)
    for ranking, group in groups.items():
        try:
            diagnoses = model.diagnose_many([item[2] for item in group], ranking=ranking)
        except ImpossibleEvidenceError:
            diagnoses = None
        for position, (index, request, evidence, warnings) in enumerate(group):
            if diagnoses is not None:
                diagnosis = diagnoses[position]
                if request.uncertainty:
                    diagnosis = with_uncertainty(model.spec, diagnosis, request.uncertainty)
                yield index, request, diagnosis, warnings
                continue
            try:
                diagnosis = model.diagnose(
                    evidence, ranking=ranking, uncertainty=request.uncertainty
                )
                yield index, request, diagnosis, warnings
            except ImpossibleEvidenceError as error:
                yield index, request, error, warnings


def next_questions(model: Model, payload: Any) -> dict[str, Any]:
    """Answer one next-questions request.

    Parameters
    ----------
    model : Model
        The model that answers.
    payload : JSON value
        A request as the ``next-questions-request`` schema describes.

    Returns
    -------
    dict
        A response as the ``next-questions-response`` schema describes.

    Raises
    ------
    InvalidRequestError
        If the request breaks the contract.
    UnknownNodeError, InvalidStateError, InvalidEvidenceError, ImpossibleEvidenceError
        If its evidence is bad.
    """
    request = _read_request(payload, NEXT_QUESTIONS, {"k": _positive_int("k")})
    evidence, warnings = _observe(model, request.evidence)
    diagnosis = model.diagnose(evidence)
    # More questions than nodes cannot be asked; the cap keeps a huge k harmless.
    questions = model.next_questions(evidence, k=min(request.k, len(model.nodes)))
    return _envelope(NEXT_QUESTIONS, request) | {
        "model": {"id": model.id, "version": model.version},
        "evidence": dict(diagnosis.evidence),
        "top_cause": diagnosis.top.id,
        "questions": [question.to_dict() for question in questions],
        "warnings": warnings,
    }


def explain(model: Model, payload: Any) -> dict[str, Any]:
    """Answer one explain request: how much each observed item moved one cause.

    Parameters
    ----------
    model : Model
        The model that answers.
    payload : JSON value
        A request as the ``explain-request`` schema describes.

    Returns
    -------
    dict
        A response as the ``explain-response`` schema describes: the fields of
        :meth:`Model.explain`'s explanation, with the model and the evidence.

    Raises
    ------
    InvalidRequestError
        If the request breaks the contract (``cause`` missing or not a string).
    UnknownNodeError
        If ``cause`` is not a condition of the model, or the evidence names an unknown node.
    InvalidStateError, InvalidEvidenceError, ImpossibleEvidenceError
        If its evidence is bad.

    Examples
    --------
    >>> import bayesleg
    >>> response = explain(bayesleg.load(), {"evidence": {"cramps": True}, "cause": "dehydration"})
    >>> response["schema"], [c["id"] for c in response["contributions"]]
    ('bayesleg.explanation/1', ['cramps'])
    """
    request = _read_request(payload, EXPLANATION, {"cause": _cause})
    if "cause" not in payload:
        raise InvalidRequestError('a request needs "cause", the id of a condition to explain')
    evidence, warnings = _observe(model, request.evidence)
    explanation = model.explain(evidence, request.cause)
    return (
        _envelope(EXPLANATION, request)
        | {"model": {"id": model.id, "version": model.version}, "evidence": dict(evidence)}
        | explanation.to_dict()
        | {"warnings": warnings}
    )


def model_description(model: Model) -> dict[str, Any]:
    """Describe the model's vocabulary, as the ``model`` schema says.

    Examples
    --------
    >>> import bayesleg
    >>> model_description(bayesleg.load())["model"]["id"]
    'leg_symptoms'
    """
    spec = model.spec
    specs = {node.id: node for node in spec.nodes}
    finding = spec.finding_threshold
    return {
        "schema": MODEL,
        "model": {"id": model.id, "version": model.version, "title": spec.title},
        "nodes": [
            {"id": node.id, "kind": node.kind, "label": node.label, "states": list(node.states)}
            | _node_sources(specs[node.id])
            for node in model.nodes
        ],
        "evidence_values": [*EVIDENCE_VALUES, None],
        "rankings": list(RANKINGS),
        "triage_levels": list(CARE_LEVELS),
        "red_flags": [
            {"id": f.id, "label": f.label, "level": f.level, "source": _source(f.source)}
            for f in spec.red_flags
        ],
        "thresholds": {
            "condition": _parameter("condition_threshold", spec.condition_threshold),
            "finding": None if finding is None else _parameter("finding_threshold", finding),
        },
    }


def _node_sources(node: NodeSpec) -> dict[str, Any]:
    """A node's description, hand-set numbers with their passages, and triage settings."""
    result: dict[str, Any] = {} if node.description is None else {"description": node.description}
    result["parameters"] = [_parameter(field, value) for field, value in node.parameters()]
    if node.kind == "condition":
        result |= {"care": node.care, "findings": list(node.findings)}
    return result


def _parameter(field: str, parameter: Parameter) -> dict[str, Any]:
    result: dict[str, Any] = {"field": field, "p": parameter.p, "verbal": parameter.verbal}
    if parameter.cue is not None:
        result["cue"] = parameter.cue
    result["source"] = _source(parameter.source)
    if parameter.note is not None:
        result["note"] = parameter.note
    return result


def _source(source: Source) -> dict[str, str]:
    return {"file": source.file, "quote": source.quote}


def error_object(
    error: BayeslegError,
    *,
    payload: Any = None,
    line: int | None = None,
    index: int | None = None,
) -> dict[str, Any]:
    """Describe a failed request, as the ``error`` schema says.

    Parameters
    ----------
    error : BayeslegError
        What went wrong.
    payload : JSON value, optional
        The request, whose ``id`` is echoed if it has a valid one.
    line, index : int, optional
        Which line of a JSON-lines stream (from 1), or which case of a batch
        (from 0), the request was.

    Returns
    -------
    dict

    Examples
    --------
    >>> error_object(InvalidRequestError("not JSON"), line=3)
    {'schema': 'bayesleg.error/1', 'line': 3, 'error': {'type': 'InvalidRequestError', 'message': 'not JSON'}}
    """  # noqa: E501
    result: dict[str, Any] = {"schema": ERROR}
    if line is not None:
        result["line"] = line
    if index is not None:
        result["index"] = index
    try:
        request_id = _request_id(payload)
    except InvalidRequestError:
        request_id = None
    if request_id is not None:
        result["id"] = request_id
    detail: dict[str, Any] = {"type": type(error).__name__, "message": error_message(error)}
    if isinstance(error, UnknownNodeError):
        detail |= {"node": str(error.node), "suggestions": list(error.suggestions)}
    result["error"] = detail
    return result


# The library's echo of impossible evidence, a Python dict of states.
_ECHO = re.compile(r": \{.*\}$")


def error_message(error: BaseException) -> str:
    """Return an error's message in JSON's words.

    Impossible evidence, which the library shows as a Python dict of states,
    is shown as a JSON object of true and false.

    Examples
    --------
    >>> error = ImpossibleEvidenceError("impossible: {'cramps': 'present'}")
    >>> error.evidence = {"cramps": "present"}
    >>> error_message(error)
    'impossible: {"cramps": true}'
    """
    evidence = getattr(error, "evidence", None)
    if isinstance(error, ImpossibleEvidenceError) and isinstance(evidence, Mapping):
        shown = json.dumps({node: state == "present" for node, state in evidence.items()})
        return f"{_ECHO.sub('', str(error))}: {shown}"
    return str(error)


def dumps(message: Mapping[str, Any]) -> str:
    """Encode a message as one line of JSON that encodes as UTF-8.

    Refuses NaN and infinities rather than emit them.  Requests with a lone
    surrogate are refused before any answer (see :func:`diagnose`), so none
    reaches an answer; should one reach this point all the same, it is
    written as U+FFFD, so the line is always Unicode text.  The characters
    other than ``\\n`` that some readers end a line at (U+0085, U+2028,
    U+2029; JSON escapes the control characters) are written as escapes, so
    the message stays one line for them too.

    Examples
    --------
    >>> dumps({"id": "\\ud800"})
    '{"id":"\ufffd"}'
    >>> dumps({"id": "a\\u2028b"})
    '{"id":"a\\\\u2028b"}'
    """
    text = json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    if text.isascii():
        return text
    if not is_unicode(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    for line_break, escape in _LINE_BREAKS.items():
        if line_break in text:
            text = text.replace(line_break, escape)
    return text


#: What Python's str.splitlines, and readers like it, end a line at, beyond what JSON escapes.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
