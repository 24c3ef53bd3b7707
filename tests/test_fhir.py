"""FHIR in and out: Observations, Bundles and QuestionnaireResponses to evidence, and back.

Every resource bayesleg writes is validated with fhir.resources' R4B models
(the R4 wire format for these resources; fhir.resources 8 has R5 at its top
level, R4B and STU3 below it, and no R4 package of its own).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.riskassessment import RiskAssessment
from hypothesis import given, settings
from hypothesis import strategies as st

import bayesleg
from bayesleg import fhir
from bayesleg.cli import main
from bayesleg.errors import FhirResourceError, InvalidArgumentError
from bayesleg.fhir import LOCAL_SYSTEM
from bayesleg.fhir.questionnaire import YES_NO_SYSTEM, YES_NO_VALUE_SET
from bayesleg.fhir.riskassessment import TRIAGE_SYSTEM

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
TINY = str(Path(__file__).parent / "fixtures" / "tiny.toml")
MODEL = bayesleg.load()
OBSERVABLE = [node.id for node in MODEL.nodes if node.kind != "condition"]


def observation(node, value, *, system=LOCAL_SYSTEM, ident=None, status="final", **extra):
    """An Observation of ``node`` (a code of ``system``) whose value is ``value``: a dict of value[x]."""
    resource = {
        "resourceType": "Observation",
        "status": status,
        "code": {"coding": [{"system": system, "code": node}]},
        "subject": {"reference": "Patient/example"},
        **value,
        **extra,
    }
    if ident is not None:
        resource["id"] = ident
    return resource


def boolean(present):
    return {"valueBoolean": present}


def bundle(*resources):
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{index:012d}", "resource": resource}
            for index, resource in enumerate(resources)
        ],
    }


def posteriors(assessment):
    """Map each prediction's local code to its probability (a float: R4B reads a Decimal)."""
    result = {}
    for prediction in assessment["prediction"]:
        local = [c["code"] for c in prediction["outcome"]["coding"] if c["system"] == LOCAL_SYSTEM]
        result[local[0]] = float(prediction["probabilityDecimal"])
    return result


def assert_same_diagnosis(assessment, diagnosis):
    assert [p["outcome"]["text"] for p in assessment["prediction"]] == [
        cause.label for cause in diagnosis.ranked
    ]
    got = posteriors(assessment)
    for cause in diagnosis.ranked:
        assert got[cause.id] == pytest.approx(cause.posterior, abs=1e-12)


# A case told in every way an observation can say present or absent.
MIXED = bundle(
    observation("tingling", boolean(True), ident="tingling"),
    observation("R25.2", boolean(False), system=ICD, ident="cramps"),  # cramps, by ICD-10-CM
    observation(
        "swelling",
        {"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "52101004"}]}},
    ),
    observation(
        "weakness",
        {"valueCodeableConcept": {"coding": [{"system": YES_NO_SYSTEM, "code": "Y"}]}},
    ),
    observation(
        "diabetes",
        {},
        interpretation=[{"coding": [{"system": INTERPRETATION, "code": "NEG"}]}],
    ),
    # Entered in error, and contradicting the first: ignored.
    observation("tingling", boolean(False), status="entered-in-error"),
    # Not observed: no evidence.
    observation("pain", {}, dataAbsentReason={"text": "not asked"}),
    {"resourceType": "Patient", "id": "example"},
)
MIXED_EVIDENCE = {
    "tingling": True,
    "cramps": False,
    "swelling": True,
    "weakness": True,
    "diabetes": False,
}


def test_the_mixed_bundle_is_valid_r4_and_reads_as_its_evidence():
    Bundle.model_validate(MIXED)
    assert fhir.evidence_from(MIXED) == MIXED_EVIDENCE


def test_a_bundle_round_trips_to_a_valid_risk_assessment_with_the_diagnosis_probabilities():
    assessment = fhir.evaluate(MIXED)
    RiskAssessment.model_validate(assessment)
    diagnosis = MODEL.diagnose(MIXED_EVIDENCE)
    assert_same_diagnosis(assessment, diagnosis)
    assert assessment["status"] == "final"
    assert assessment["subject"] == {"reference": "Patient/example"}
    # The basis is every observation read, not the ignored, unobserved or other ones.
    assert [ref["reference"] for ref in assessment["basis"]] == [
        f"urn:uuid:00000000-0000-4000-8000-{index:012d}" for index in range(5)
    ]
    assert MODEL.version in assessment["method"]["text"]
    assert bayesleg.__version__ in assessment["method"]["text"]


def test_predictions_carry_the_likelihood_ratio_the_codes_and_the_triage():
    diagnosis = MODEL.diagnose(MIXED_EVIDENCE)
    assessment = diagnosis.to_fhir()
    RiskAssessment.model_validate(assessment)
    raised = {r.id: r.level for r in diagnosis.triage.reasons if r.kind == "condition"}
    assert raised  # the case raises triage through a condition
    for cause, prediction in zip(diagnosis.ranked, assessment["prediction"], strict=True):
        assert prediction["relativeRisk"] == pytest.approx(cause.likelihood_ratio, rel=1e-12)
        codes = {(c["system"], c["code"]) for c in prediction["outcome"]["coding"]}
        assert (LOCAL_SYSTEM, cause.id) in codes
        if cause.id in raised:
            assert prediction["qualitativeRisk"]["coding"][0] == {
                "system": TRIAGE_SYSTEM,
                "code": raised[cause.id],
                "display": "See a clinician",
            }
        else:
            assert "qualitativeRisk" not in prediction
    compartment = assessment["prediction"][0]["outcome"]["coding"]
    assert (ICD, "M79.A29") in {(c["system"], c["code"]) for c in compartment}
    assert diagnosis.triage.level in assessment["note"][0]["text"]
    for advice in diagnosis.advice:
        assert advice.text in assessment["mitigation"]
        assert advice.source.quote in assessment["mitigation"]


def test_an_infinite_likelihood_ratio_is_left_out_rather_than_written():
    tiny = bayesleg.load(TINY)
    diagnosis = tiny.diagnose({"c": True})
    assert diagnosis.ranked[0].likelihood_ratio == float("inf")
    assessment = diagnosis.to_fhir()
    RiskAssessment.model_validate(assessment)
    certain = assessment["prediction"][0]
    assert "relativeRisk" not in certain
    assert "infinite" in certain["rationale"]
    # Another model's nodes get the local code only.
    assert [len(p["outcome"]["coding"]) for p in assessment["prediction"]] == [1, 1]


def test_the_bundle_with_conditions_marks_them_differential():
    diagnosis = MODEL.diagnose(MIXED_EVIDENCE)
    result = diagnosis.to_fhir(conditions=3, subject={"reference": "Patient/example"})
    Bundle.model_validate(result)
    assessment, *conditions = (entry["resource"] for entry in result["entry"])
    assert assessment["resourceType"] == "RiskAssessment"
    assert [c["code"]["text"] for c in conditions] == [c.label for c in diagnosis.ranked[:3]]
    for condition in conditions:
        assert condition["verificationStatus"]["coding"][0]["code"] == "differential"
        assert condition["evidence"][0]["detail"][0]["reference"] == result["entry"][0]["fullUrl"]
    # The same case gives the same resources.
    assert diagnosis.to_fhir(conditions=3, subject={"reference": "Patient/example"}) == result
    with pytest.raises(
        InvalidArgumentError, match="conditions must be a whole number >= 0, got -1"
    ):
        diagnosis.to_fhir(conditions=-1)


def fill(form, evidence):
    """Answer the questionnaire: Y/N codings for the evidence, the rest unanswered."""

    def answered(items):
        result = []
        for item in items:
            copy = {"linkId": item["linkId"], "text": item["text"]}
            if item["type"] == "group":
                copy["item"] = answered(item["item"])
            elif item["linkId"] in evidence:
                code = "Y" if evidence[item["linkId"]] else "N"
                display = "Yes" if code == "Y" else "No"
                copy["answer"] = [
                    {"valueCoding": {"system": YES_NO_SYSTEM, "code": code, "display": display}}
                ]
            result.append(copy)
        return result

    return {
        "resourceType": "QuestionnaireResponse",
        "id": "answers",
        "questionnaire": form["url"],
        "status": "completed",
        "subject": {"reference": "Patient/example"},
        "item": answered(form["item"]),
    }


def test_the_questionnaire_is_valid_and_asks_the_factors_then_the_symptoms():
    form = fhir.questionnaire()
    Questionnaire.model_validate(form)
    assert form["version"] == MODEL.version
    factors, symptoms = form["item"]
    assert [i["linkId"] for i in factors["item"]] == list(MODEL.factors)
    assert [i["linkId"] for i in symptoms["item"]] == list(MODEL.symptoms)
    for item in factors["item"] + symptoms["item"]:
        assert item["type"] == "choice"
        assert item["answerValueSet"] == YES_NO_VALUE_SET
        assert item["code"][0] == {
            "system": LOCAL_SYSTEM,
            "code": item["linkId"],
            "display": MODEL.node(item["linkId"]).label,
        }


def test_a_filled_questionnaire_response_gives_the_same_diagnosis():
    form = fhir.questionnaire()
    evidence = {"long_session": True, "fasted": True, "heaviness": True, "cramps": False}
    response = fill(form, evidence)
    QuestionnaireResponse.model_validate(response)
    assert fhir.evidence_from(response) == evidence
    assessment = fhir.evaluate(response)
    RiskAssessment.model_validate(assessment)
    assert_same_diagnosis(assessment, MODEL.diagnose(evidence))
    assert assessment["basis"] == [{"reference": "QuestionnaireResponse/answers"}]


def test_questionnaire_answers_may_be_booleans_or_snomed_codes():
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "in-progress",
        "item": [
            {"linkId": "cramps", "answer": [{"valueBoolean": True}]},
            {"linkId": "pain", "answer": [{"valueCoding": {"system": SNOMED, "code": "2667000"}}]},
            {"linkId": "numbness"},
        ],
    }
    QuestionnaireResponse.model_validate(response)
    assert fhir.evidence_from(response) == {"cramps": True, "pain": False}


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(st.sampled_from(OBSERVABLE), st.booleans(), max_size=8),
    st.sampled_from(["local", "coded", "interpretation"]),
)
def test_any_evidence_round_trips_through_observations_and_the_questionnaire(evidence, how):
    def value(present):
        if how == "local":
            return boolean(present)
        if how == "coded":
            code = "52101004" if present else "2667000"
            return {"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": code}]}}
        code = "POS" if present else "NEG"
        return {"interpretation": [{"coding": [{"system": INTERPRETATION, "code": code}]}]}

    resources = [observation(node, value(present)) for node, present in evidence.items()]
    for resource in resources:
        Observation.model_validate(resource)
    assert fhir.evidence_from(bundle(*resources)) == evidence
    response = fill(fhir.questionnaire(), evidence)
    assert fhir.evidence_from(response) == evidence
    diagnosis = MODEL.diagnose(evidence)
    assert_same_diagnosis(fhir.evaluate(bundle(*resources)), diagnosis)
    assert_same_diagnosis(fhir.evaluate(response), diagnosis)


def test_subjects_are_the_same_when_their_references_are():
    same = bundle(
        observation("cramps", boolean(True)),
        observation(
            "pain", boolean(True), subject={"reference": "Patient/example", "display": "A"}
        ),
    )
    case = fhir.read_case(same)
    assert case.evidence == {"cramps": True, "pain": True}
    assert case.subject == {"reference": "Patient/example"}


def test_a_single_observation_is_read_too():
    assert fhir.evidence_from(observation("G25.81", boolean(True), system=ICD)) == {
        "restless_legs_syndrome": True
    }
    # Cancelled: ignored.
    assert fhir.evidence_from(observation("cramps", boolean(True), status="cancelled")) == {}


@pytest.mark.parametrize(
    ("resource", "words"),
    [
        (
            observation("numbnes", boolean(True), ident="o1"),
            r"Observation 'o1': no coding of its code \('numbnes' of 'https://bayesleg.org/fhir/CodeSystem/vocabulary'\) is in the vocabulary; expected a code of .* did you mean 'numbness'\?",
        ),
        (
            observation("R99", boolean(True), system=ICD),
            r"Observation: no coding of its code \('R99' of 'http://hl7.org/fhir/sid/icd-10-cm'\)",
        ),
        (
            observation("cramps", {"valueQuantity": {"value": 3}}),
            r"valueQuantity cannot say present or absent; expected valueBoolean, a valueCodeableConcept",
        ),
        (
            observation("cramps", {"valueBoolean": "yes"}),
            r"valueBoolean is 'yes'; expected true or false",
        ),
        (
            observation("cramps", {"valueBoolean": None}),
            r"valueBoolean is null; expected true or false",
        ),
        (
            observation("cramps", {"valueBoolean": 1}),
            r"valueBoolean is 1; expected true or false",
        ),
        (
            observation(
                "cramps", {"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "1"}]}}
            ),
            r"valueCodeableConcept \('1' of 'http://snomed.info/sct'\) has no present/absent code",
        ),
        (
            observation(
                "cramps", {}, interpretation=[{"coding": [{"system": INTERPRETATION, "code": "H"}]}]
            ),
            r"interpretation 'H' of .* cannot say present or absent; expected POS or NEG",
        ),
        (
            observation(
                "cramps",
                boolean(True),
                interpretation=[{"coding": [{"system": INTERPRETATION, "code": "NEG"}]}],
            ),
            r"its value says present but its interpretation absent",
        ),
        (observation("cramps", {}), r"has no value for 'cramps'; expected valueBoolean"),
        (
            observation("cramps", boolean(True), status="done"),
            r"status 'done' is not an Observation status; expected one of amended, cancelled",
        ),
        (
            bundle(
                observation("cramps", boolean(True)),
                observation("R25.2", boolean(False), system=ICD),
            ),
            r"Observation \(Bundle entry 1\): says 'cramps' is absent, but Observation \(Bundle entry 0\) says it is present",
        ),
        (
            bundle(
                observation("cramps", boolean(True)),
                observation("pain", boolean(True), subject={"reference": "Patient/other"}),
            ),
            r"its subject 'Patient/other' is not that of Observation \(Bundle entry 0\) \('Patient/example'\); expected one subject",
        ),
        (
            observation(
                "cramps",
                boolean(True),
                code={
                    "coding": [
                        {"system": LOCAL_SYSTEM, "code": "cramps"},
                        {"system": ICD, "code": "R20.2"},
                    ]
                },
            ),
            r"its codings \('cramps' of .*, 'R20.2' of .*\) name several nodes: \['cramps', 'tingling'\]",
        ),
        (
            {"resourceType": "Patient", "id": "p"},
            r"Patient 'p': resourceType 'Patient' is not read; expected Bundle, Observation or QuestionnaireResponse",
        ),
        (
            [],
            r"the request: expected a FHIR resource \(an object with a resourceType\), got a list",
        ),
        (
            {"resourceType": "Bundle", "entry": {"resource": {}}},
            r"Bundle: expected entry to be a list, got an object",
        ),
        (
            {
                "resourceType": "QuestionnaireResponse",
                "status": "completed",
                "item": [{"linkId": "crampz", "answer": [{"valueBoolean": True}]}],
            },
            r"QuestionnaireResponse, item\[0\]: linkId 'crampz' is not a node id of the model; did you mean 'cramps'",
        ),
        (
            {
                "resourceType": "QuestionnaireResponse",
                "status": "completed",
                "item": [
                    {
                        "linkId": "cramps",
                        "answer": [{"valueBoolean": True}, {"valueBoolean": False}],
                    }
                ],
            },
            r"expected one answer for 'cramps'",
        ),
        (
            {
                "resourceType": "QuestionnaireResponse",
                "status": "completed",
                "item": [
                    {
                        "linkId": "g",
                        "item": [{"linkId": "cramps", "answer": [{"valueString": "often"}]}],
                    }
                ],
            },
            r"item\[0\]\.item\[0\]: the answer for 'cramps' \(valueString\) cannot say yes or no; expected valueCoding Y or N",
        ),
    ],
)
def test_bad_resources_are_a_typed_error_naming_the_resource_code_and_expectation(resource, words):
    with pytest.raises(FhirResourceError, match=words):
        fhir.evidence_from(resource)


def test_the_error_is_a_value_error_and_carries_the_code():
    with pytest.raises(ValueError, match="no coding") as caught:
        fhir.evidence_from(observation("R99", boolean(True), system=ICD))
    assert caught.value.code == "R99"
    assert caught.value.resource == "Observation"


def test_another_model_reads_only_its_local_codes():
    tiny = bayesleg.load(TINY)
    assert fhir.evidence_from(observation("s", boolean(True)), model=tiny) == {"s": True}
    # cramps' ICD-10-CM code belongs to the shipped model only.
    with pytest.raises(FhirResourceError, match=r"'R25\.2' of"):
        fhir.evidence_from(observation("R25.2", boolean(True), system=ICD), model=tiny)


def run_cli(capsys, args):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_prints_the_questionnaire_and_evaluates_a_file(tmp_path, capsys):
    code, out, err = run_cli(capsys, ["fhir", "questionnaire"])
    assert code == 0, err
    assert json.loads(out) == fhir.questionnaire()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(MIXED))
    code, out, err = run_cli(capsys, ["fhir", "evaluate", str(path)])
    assert code == 0, err
    assert json.loads(out) == fhir.evaluate(MIXED)
    code, out, err = run_cli(capsys, ["fhir", "evaluate", str(path), "--conditions", "2"])
    assert code == 0, err
    Bundle.model_validate(json.loads(out))


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(observation("numbnes", boolean(True))))
    code, _, err = run_cli(capsys, ["fhir", "evaluate", str(path)])
    assert code == 2
    assert err.count("\n") == 1
    assert "did you mean 'numbness'?" in err
    path.write_text("{not json")
    code, _, err = run_cli(capsys, ["fhir", "evaluate", str(path)])
    assert code == 2
    assert err.startswith("bayesleg: error: ") and "not valid JSON" in err


def test_bayesleg_fhir_needs_no_fhir_library_and_import_bayesleg_loads_none_of_it():
    script = (
        "import sys, bayesleg\n"
        "assert 'bayesleg.fhir' not in sys.modules\n"
        "from bayesleg import fhir\n"
        "fhir.evaluate({'resourceType': 'Bundle'})\n"
        "fhir.questionnaire()\n"
        "assert not [m for m in sys.modules if m == 'fhir' or m.startswith('fhir.')], 'fhir.resources'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


_TEXT = st.text(st.characters(codec="utf-8"), max_size=6)
_SUBJECTS = st.dictionaries(
    st.sampled_from(["reference", "type", "display", "identifier", "", "x"]),
    _TEXT
    | st.none()
    | st.integers()
    | st.dictionaries(st.sampled_from(["use", "system", "value", "y"]), _TEXT | st.none()),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(subject=_SUBJECTS)
def test_a_subject_is_echoed_only_when_it_is_a_valid_reference(subject):
    # The RiskAssessment carries the observations' subject: a subject that is
    # not an R4 Reference is refused, never written into invalid FHIR.
    resource = {**observation("cramps", boolean(True)), "subject": subject}
    try:
        assessment = fhir.evaluate(resource, model=MODEL)
    except bayesleg.FhirResourceError as error:
        assert "its subject is not a Reference" in str(error)
    else:
        RiskAssessment.model_validate(assessment)
        assert assessment["subject"] == subject
