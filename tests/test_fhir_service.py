"""The FHIR and CDS Hooks routes of the service: answers, errors, and fuzzing for no 5xx.

What CDS Hooks 2.0 says, and the tests check: discovery is ``{"services": [...]}``,
each service with ``hook``, ``description`` and ``id`` (``title`` and
``prefetch`` optional); a service call answers 200 with ``{"cards": [...]}``,
each card with a ``summary`` under 140 characters, an ``indicator`` of
``info``, ``warning`` or ``critical`` and a ``source`` with a ``label``;
optional fields are left out rather than null or empty; a service that cannot
get its prefetched data answers 412.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.riskassessment import RiskAssessment
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from strategies import json_values as any_json
from strategies import unicode_text

import bayesleg
from bayesleg import fhir
from bayesleg.fhir import LOCAL_SYSTEM, cds
from bayesleg.serving.service import create_app

EVALUATE = "/fhir/RiskAssessment/$evaluate"
SERVICE = f"/cds-services/{cds.SERVICE_ID}"
MODEL = bayesleg.load()
WARNING_SIGNS = str(Path(__file__).parent / "fixtures" / "warning_signs.toml")
INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
ERROR_STATUSES = {400, 404, 405, 408, 412, 413, 415, 422}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(MODEL, max_body_bytes=64 * 1024)) as client:
        yield client


def observation(node, present, ident):
    return {
        "fullUrl": f"https://ehr.example/fhir/Observation/{ident}",
        "resource": {
            "resourceType": "Observation",
            "id": ident,
            "status": "final",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": LOCAL_SYSTEM, "code": node}]},
            "valueBoolean": present,
        },
    }


def searchset(evidence):
    entries = [
        observation(node, value, f"o{i}") for i, (node, value) in enumerate(evidence.items())
    ]
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def hook_request(evidence, **changes):
    request = {
        "hook": "patient-view",
        "hookInstance": INSTANCE,
        "context": {"userId": "Practitioner/example", "patientId": "p1"},
        "prefetch": {cds.PREFETCH_KEY: searchset(evidence)},
    }
    request.update(changes)
    return request


def assert_outcome(response, status, words):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    body = response.json()
    OperationOutcome.model_validate(body)
    assert words in body["issue"][0]["diagnostics"]


def assert_no_null_or_empty(value, path="$"):
    """CDS Hooks: JSON elements SHALL NOT be null or empty unless specified."""
    assert value is not None and value not in ("", [], {}), path
    if isinstance(value, dict):
        for key, inner in value.items():
            assert_no_null_or_empty(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            assert_no_null_or_empty(inner, f"{path}[{index}]")


def assert_cards(body):
    assert set(body) == {"cards"}
    for card in body["cards"]:
        assert_no_null_or_empty(card)
        assert {"summary", "indicator", "source"} <= set(card)
        assert set(card) <= {"uuid", "summary", "detail", "indicator", "source", "links"}
        assert len(card["summary"]) < 140
        assert card["indicator"] in {"info", "warning", "critical"}
        assert card["source"]["label"]


# --------------------------------------------------------------------------
# $evaluate
# --------------------------------------------------------------------------

CASE = {"tingling": True, "swelling": True, "weakness": True, "diabetes": False}


def test_evaluate_answers_a_valid_risk_assessment_with_the_diagnosis(client):
    response = client.post(
        EVALUATE,
        content=json.dumps(searchset(CASE)),
        headers={"content-type": "application/fhir+json"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    assessment = response.json()
    RiskAssessment.model_validate(assessment)
    diagnosis = MODEL.diagnose(CASE)
    for cause, prediction in zip(diagnosis.ranked, assessment["prediction"], strict=True):
        assert prediction["outcome"]["coding"][0]["code"] == cause.id
        assert prediction["probabilityDecimal"] == pytest.approx(cause.posterior, abs=1e-12)
    assert assessment["basis"][0] == {"reference": "https://ehr.example/fhir/Observation/o0"}
    assert assessment["subject"] == {"reference": "Patient/p1"}


def test_evaluate_takes_a_questionnaire_response_as_plain_json(client):
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [{"linkId": "cramps", "answer": [{"valueBoolean": True}]}],
    }
    answer = client.post(EVALUATE, json=response)
    assert answer.status_code == 200, answer.text
    RiskAssessment.model_validate(answer.json())
    assert answer.json() == fhir.evaluate(response, model=MODEL)


def test_the_questionnaire_route_serves_the_questionnaire(client):
    response = client.get("/fhir/Questionnaire")
    assert response.status_code == 200
    Questionnaire.model_validate(response.json())
    assert response.json() == fhir.questionnaire(MODEL)


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (b"{", {"content-type": "application/fhir+json"}, 400, "not valid JSON"),
        (b"{}", {"content-type": "text/plain"}, 415, "application/fhir+json or application/json"),
        (
            json.dumps({"resourceType": "Patient"}).encode(),
            {"content-type": "application/json"},
            422,
            "resourceType 'Patient' is not read",
        ),
        (
            json.dumps(searchset({"numbnes": True})).encode(),
            {"content-type": "application/json"},
            422,
            "did you mean 'numbness'?",
        ),
        (b"x" * (65 * 1024), {"content-type": "application/json"}, 413, "over 65536 bytes"),
    ],
)
def test_evaluate_errors_are_an_operation_outcome_with_a_4xx(client, body, headers, status, words):
    assert_outcome(client.post(EVALUATE, content=body, headers=headers), status, words)


def test_other_methods_and_routes_under_fhir_are_operation_outcomes(client):
    assert_outcome(client.get(EVALUATE), 405, "GET is not allowed")
    assert_outcome(
        client.get("/fhir/Patient/1"),
        404,
        "no route '/fhir/Patient/1'; the FHIR routes are POST /fhir/RiskAssessment/$evaluate",
    )


def test_impossible_observations_are_a_422():
    tiny = bayesleg.load(str(Path(__file__).parent / "fixtures" / "tiny.toml"))
    impossible = diagnosis_impossible(tiny)
    with TestClient(create_app(tiny)) as client:
        assert_outcome(client.post(EVALUATE, json=searchset(impossible)), 422, "probability zero")


def diagnosis_impossible(model):
    """Evidence the tiny model gives probability zero (as tests/test_service.py uses)."""
    for evidence in ({"c": False, "d": False, "s": True}, {"c": False, "s": True}):
        try:
            model.diagnose(evidence)
        except bayesleg.ImpossibleEvidenceError:
            return evidence
    pytest.fail("no impossible evidence found for the tiny model")


# --------------------------------------------------------------------------
# CDS Hooks
# --------------------------------------------------------------------------


def test_discovery_lists_the_service_as_the_specification_describes(client):
    response = client.get("/cds-services")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"services"}
    (service,) = body["services"]
    assert_no_null_or_empty(service)
    assert {"hook", "description", "id"} <= set(service)
    assert set(service) <= {"hook", "title", "description", "id", "prefetch", "usageRequirements"}
    assert service["hook"] == "patient-view"
    assert service["id"] == cds.SERVICE_ID
    assert all(isinstance(query, str) for query in service["prefetch"].values())
    assert "{{context.patientId}}" in service["prefetch"][cds.PREFETCH_KEY]


def test_a_patient_view_call_answers_one_card_with_causes_advice_and_sources(client):
    response = client.post(SERVICE, json=hook_request(CASE))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert_cards(body)
    (card,) = body["cards"]
    diagnosis = MODEL.diagnose(CASE)
    assert diagnosis.triage.level == "see_doctor"
    assert card["indicator"] == "warning"
    assert card["summary"].startswith(diagnosis.top.label)
    assert f"{diagnosis.top.posterior:.0%}" in card["summary"]
    for cause in diagnosis.ranked[:3]:
        assert f"| {cause.label} | {cause.posterior:.1%} |" in card["detail"]
    for advice in diagnosis.advice:
        assert advice.text in card["detail"] and advice.source.quote in card["detail"]
    for reason in diagnosis.triage.reasons:
        assert reason.text in card["detail"]
    # The same hook instance gives the same card uuid.
    assert client.post(SERVICE, json=hook_request(CASE)).json() == body


def test_the_indicator_follows_the_triage_level():
    self_care = {"long_session": True, "fasted": True, "heaviness": True}
    assert MODEL.diagnose(self_care).triage.level == "self_care"
    with TestClient(create_app(MODEL)) as client:
        (card,) = client.post(SERVICE, json=hook_request(self_care)).json()["cards"]
    assert card["indicator"] == "info"
    model = bayesleg.load(WARNING_SIGNS)
    urgent = {"cramps": True, "medication": True}
    assert model.diagnose(urgent).triage.level == "urgent"
    with TestClient(create_app(model)) as client:
        (card,) = client.post(SERVICE, json=hook_request(urgent)).json()["cards"]
    assert card["indicator"] == "critical"


def test_an_observed_condition_shows_its_likelihood_ratio_in_words(client):
    # Observed present, a condition is certain: its likelihood ratio is infinite,
    # which the card says as the RiskAssessment does, not as "inf".
    case = {"dehydration": True, "cramps": True}
    assert MODEL.diagnose(case).top.likelihood_ratio == float("inf")
    (card,) = client.post(SERVICE, json=hook_request(case)).json()["cards"]
    assert "| Dehydration | 100.0% | infinite (the findings make it certain) |" in card["detail"]
    assert "inf |" not in card["detail"]


def test_no_observation_of_the_vocabulary_is_no_card(client):
    response = client.post(SERVICE, json=hook_request({}))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_a_long_label_keeps_the_summary_under_140_characters():
    summary = cds._summary("x" * 300, 0.5, "see_doctor")
    assert len(summary) < 140
    assert summary.endswith(": 50% likely; see a clinician")


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        (SERVICE, hook_request(CASE, hook="order-sign"), 400, "hook 'order-sign' is not served"),
        (SERVICE, hook_request(CASE, hookInstance=7), 400, "expected hookInstance to be a UUID"),
        (SERVICE, hook_request(CASE, context="p1"), 400, "expected context to be an object"),
        (SERVICE, hook_request(CASE, prefetch=[]), 400, "expected prefetch to be an object"),
        (SERVICE, [], 400, "expected a CDS Hooks request"),
        (SERVICE, hook_request(CASE, prefetch={}), 412, "the prefetch 'observations' is missing"),
        (
            SERVICE,
            {k: v for k, v in hook_request(CASE).items() if k != "prefetch"},
            412,
            "is missing",
        ),
        (SERVICE, hook_request({"crampz": True}), 422, "did you mean 'cramps'?"),
        ("/cds-services/other", hook_request(CASE), 404, "no CDS service 'other'"),
    ],
)
def test_bad_hook_requests_are_a_4xx_operation_outcome(client, path, body, status, words):
    assert_outcome(client.post(path, json=body), status, words)


def test_hook_requests_must_be_json(client):
    response = client.post(SERVICE, content=b"{}", headers={"content-type": "text/plain"})
    assert_outcome(response, 415, "application/json")
    assert_outcome(client.get(SERVICE), 405, "GET is not allowed")


# --------------------------------------------------------------------------
# Fuzzing: no input yields a 5xx
# --------------------------------------------------------------------------

OBSERVABLE = [node.id for node in MODEL.nodes]
json_values = any_json(max_text=12)
codings = st.fixed_dictionaries(
    {},
    optional={
        "system": st.sampled_from(
            [
                LOCAL_SYSTEM,
                "http://hl7.org/fhir/sid/icd-10-cm",
                "http://snomed.info/sct",
                "http://terminology.hl7.org/CodeSystem/v2-0532",
                "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            ]
        )
        | json_values,
        "code": st.sampled_from([*OBSERVABLE, "R25.2", "52101004", "2667000", "Y", "N", "POS"])
        | json_values,
    },
)
concepts = st.fixed_dictionaries(
    {}, optional={"coding": st.lists(codings, max_size=3) | json_values}
)
observations = st.fixed_dictionaries(
    {"resourceType": st.just("Observation")},
    optional={
        "id": unicode_text(max_size=8) | json_values,
        "status": st.sampled_from(["final", "entered-in-error", "cancelled", "done"]) | json_values,
        "code": concepts | json_values,
        "subject": st.sampled_from([{"reference": "Patient/p1"}, {"reference": "Patient/p2"}])
        | json_values,
        "valueBoolean": st.booleans() | json_values,
        "valueCodeableConcept": concepts,
        "valueQuantity": json_values,
        "interpretation": st.lists(concepts, max_size=2) | json_values,
        "dataAbsentReason": json_values,
    },
)
# Well-formed observations, so that many cases get past the reader to the model.
good_observations = st.builds(
    lambda node, present, status: {
        "resourceType": "Observation",
        "status": status,
        "code": {"coding": [{"system": LOCAL_SYSTEM, "code": node}]},
        "valueBoolean": present,
    },
    st.sampled_from(OBSERVABLE),
    st.booleans(),
    st.sampled_from(["final", "final", "amended", "entered-in-error"]),
)
items = st.recursive(
    st.fixed_dictionaries(
        {"linkId": st.sampled_from(OBSERVABLE) | unicode_text(max_size=8) | json_values},
        optional={
            "answer": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "valueBoolean": st.booleans() | json_values,
                        "valueCoding": codings | json_values,
                        "valueString": json_values,
                    },
                ),
                max_size=2,
            )
            | json_values
        },
    ),
    lambda children: st.fixed_dictionaries(
        {"linkId": unicode_text(max_size=5), "item": st.lists(children, max_size=3)}
    ),
    max_leaves=8,
)
responses = st.fixed_dictionaries(
    {"resourceType": st.just("QuestionnaireResponse")},
    optional={
        "status": st.sampled_from(["completed", "entered-in-error", "x"]) | json_values,
        "item": st.lists(items, max_size=4) | json_values,
        "subject": json_values,
    },
)
resources = st.one_of(
    st.builds(
        lambda found: {"resourceType": "Bundle", "entry": [{"resource": o} for o in found]},
        st.lists(good_observations, max_size=6),
    ),
    observations,
    responses,
    st.fixed_dictionaries(
        {"resourceType": st.just("Bundle")},
        optional={
            "entry": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "fullUrl": unicode_text(max_size=8) | json_values,
                        "resource": good_observations | observations | responses | json_values,
                    },
                ),
                max_size=5,
            )
            | json_values
        },
    ),
    json_values,
)
hook_requests = st.fixed_dictionaries(
    {
        "hook": st.just("patient-view"),
        "hookInstance": st.just(INSTANCE),
        "context": st.just({"patientId": "p1"}),
        "prefetch": st.fixed_dictionaries({cds.PREFETCH_KEY: resources}),
    }
) | st.fixed_dictionaries(
    {},
    optional={
        "hook": st.sampled_from(["patient-view", "order-sign"]) | json_values,
        "hookInstance": st.just(INSTANCE) | json_values,
        "context": st.just({"patientId": "p1"}) | json_values,
        "prefetch": st.fixed_dictionaries({}, optional={cds.PREFETCH_KEY: resources}) | json_values,
    },
)
content_types = st.sampled_from(
    ["application/json", "application/fhir+json", "application/fhir+json; charset=latin-1", ""]
) | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(response, path):
    event(f"{path}: {response.status_code}")  # --hypothesis-show-statistics counts them
    assert response.status_code < 500, response.text
    body = json.loads(response.content.decode("utf-8"))
    if response.status_code != 200:
        assert response.status_code in ERROR_STATUSES, response.text
        OperationOutcome.model_validate(body)
    elif path == EVALUATE:
        RiskAssessment.model_validate(body)
    else:
        assert_cards(body)


def encode(body):
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


@FUZZ
@given(body=resources, escaped=st.booleans())
def test_fuzz_evaluate_with_resources(client, body, escaped):
    content = json.dumps(body).encode("ascii") if escaped else encode(body)
    check(
        client.post(EVALUATE, content=content, headers={"content-type": "application/fhir+json"}),
        EVALUATE,
    )


@FUZZ
@given(body=hook_requests, escaped=st.booleans())
def test_fuzz_cds_service_with_hook_requests(client, body, escaped):
    content = json.dumps(body).encode("ascii") if escaped else encode(body)
    check(
        client.post(SERVICE, content=content, headers={"content-type": "application/json"}), SERVICE
    )


@FUZZ
@given(
    path=st.sampled_from([EVALUATE, SERVICE, "/cds-services/x"]),
    content=st.binary(max_size=300),
    content_type=content_types,
)
def test_fuzz_bytes_and_content_types_on_the_fhir_routes(client, path, content, content_type):
    check(client.post(path, content=content, headers={"content-type": content_type}), path)


def test_a_valid_bundle_with_conditions_validates():
    result = MODEL.diagnose(CASE).to_fhir(conditions=2)
    Bundle.model_validate(result)
