"""The JSON contract: its schemas, and real answers checked against them."""

import json
import math
import random
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource

import bayesleg
from bayesleg.errors import (
    BayeslegError,
    ImpossibleEvidenceError,
    InvalidArgumentError,
    InvalidEvidenceError,
    InvalidStateError,
    UnknownNodeError,
)
from bayesleg.reasoning.counterfactual import RANKINGS
from bayesleg.serving import contract, schemas

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"


@pytest.fixture(scope="module")
def model():
    return bayesleg.load()


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


def validator(name):
    return jsonschema.Draft202012Validator(schemas.schema(name))


def assert_valid(name, message):
    errors = sorted(validator(name).iter_errors(message), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def assert_same_answer(actual, expected, path="$"):
    """Equal, except floats may differ in the last bits (a batch sums in another order)."""
    if isinstance(expected, float) and isinstance(actual, float):
        assert math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-15), path
    elif isinstance(expected, dict) and isinstance(actual, dict):
        assert list(actual) == list(expected), path
        for key in expected:
            assert_same_answer(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        assert len(actual) == len(expected), path
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_answer(a, e, f"{path}[{index}]")
    else:
        assert actual == expected, path


def random_evidence(model, rng, *, size=6):
    nodes = [node.id for node in model.nodes]
    values = [True, False, "yes", "no", "present", "absent", "YES", None]
    return {node: rng.choice(values) for node in rng.sample(nodes, rng.randint(0, size))}


# --------------------------------------------------------------------------
# The schema files
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_every_schema_is_a_valid_bundled_schema(name):
    bundled = schemas.schema(name)
    jsonschema.Draft202012Validator.check_schema(bundled)
    refs = []

    def collect(node):
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(bundled)
    assert all(ref.startswith("#") for ref in refs), refs
    # Every ref resolves inside the bundle.
    resolver = Registry().with_resource("", Resource.from_contents(bundled)).resolver()
    for ref in refs:
        resolver.lookup(ref)


def test_the_schema_files_work_side_by_side_as_shipped(model):
    """The files refer to one another by file name; a registry of the files resolves them."""
    folder = resources.files("bayesleg.serving.schemas")
    registry = Registry().with_resources(
        (f"{name}.schema.json", Resource.from_contents(schemas.schema_file(name)))
        for name in schemas.SCHEMA_NAMES
    )
    shipped = sorted(p.name for p in folder.iterdir() if p.name.endswith(".schema.json"))
    assert shipped == sorted(f"{name}.schema.json" for name in schemas.SCHEMA_NAMES)
    batch = contract.diagnose_batch(model, [{"evidence": {"cramps": True}}, {"evidence": []}])
    file_validator = jsonschema.Draft202012Validator(
        schemas.schema_file("batch-response"), registry=registry
    )
    file_validator.validate(batch)
    broken = json.loads(json.dumps(batch))
    broken["results"][0]["triage"]["level"] = "later"
    assert not file_validator.is_valid(broken)


def test_schema_names_an_unknown_schema():
    with pytest.raises(InvalidArgumentError, match="did you mean 'error'"):
        schemas.schema("erorr")


# --------------------------------------------------------------------------
# Real answers against the schemas
# --------------------------------------------------------------------------


def test_real_diagnosis_responses_match_the_schema(model):
    rng = random.Random(6)
    for number in range(60):
        request = {"evidence": random_evidence(model, rng), "id": number}
        if number % 3 == 0:
            request["top"] = rng.randint(1, 5)
        if number % 5 == 0:
            request["schema"] = contract.DIAGNOSIS
        try:
            response = contract.diagnose(model, request)
        except ImpossibleEvidenceError as error:
            assert_valid("error", contract.error_object(error, payload=request))
            continue
        assert_valid("diagnosis-response", response)
        assert response["id"] == number
        assert len(response["ranked"]) == request.get("top", len(model.conditions))


@pytest.mark.parametrize("ranking", RANKINGS)
def test_response_carries_the_model_the_evidence_and_the_full_diagnosis(model, ranking):
    evidence = {"long_session": True, "fasted": "yes", "heaviness": "present", "cramps": False}
    response = contract.diagnose(model, {"evidence": evidence, "ranking": ranking, "id": "r"})
    assert_valid("diagnosis-response", response)
    expected = model.diagnose(evidence, ranking=ranking).to_dict()
    assert {k: v for k, v in response.items() if k not in {"schema", "id", "warnings"}} == expected
    assert response["schema"] == "bayesleg.diagnosis/1"
    assert response["model"] == {"id": model.id, "version": model.version}
    assert response["ranking"] == ranking
    assert response["advice"] and all(a["source"]["quote"] for a in response["advice"])
    assert response["warnings"] == []


def test_top_keeps_the_first_causes_and_all_the_advice_and_triage(model):
    evidence = {"tingling": True, "pain": True, "diabetes": True}
    full = contract.diagnose(model, {"evidence": evidence})
    top = contract.diagnose(model, {"evidence": evidence, "top": 1})
    assert top["ranked"] == full["ranked"][:1]
    assert (top["triage"], top["advice"]) == (full["triage"], full["advice"])


def test_the_schemas_list_the_rankings_the_model_knows():
    assert schemas.schema_file("diagnosis-request")["properties"]["ranking"]["enum"] == list(
        RANKINGS
    )
    assert schemas.schema_file("diagnosis-response")["properties"]["ranking"]["enum"] == list(
        RANKINGS
    )


def test_a_schema_rejects_a_wrong_response(model):
    """The validation above could fail: a response with a bad field does not pass."""
    response = contract.diagnose(model, {"evidence": {"cramps": True}})
    for path, value in [
        (("ranked", 0, "posterior"), 1.5),
        (("triage", "level"), "soon"),
        (("model",), {"id": "leg_symptoms"}),
        (("evidence", "cramps"), True),
        (("warnings",), [{"code": "odd", "message": "?"}]),
    ]:
        broken = json.loads(json.dumps(response))
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert not validator("diagnosis-response").is_valid(broken), path


def test_warnings_are_only_real_ones(model):
    def codes(evidence):
        response = contract.diagnose(model, {"evidence": evidence})
        return [(w["code"], w.get("node")) for w in response["warnings"]]

    assert codes({"weakness": True, "long_session": False}) == []
    assert codes({}) == [("no_evidence", None)]
    assert codes({"weakness": None}) == [("null_evidence", "weakness"), ("no_evidence", None)]
    assert codes({"dehydration": True, "cramps": True}) == [
        ("condition_as_evidence", "dehydration")
    ]


def test_error_objects_match_the_schema(model, tiny):
    cases = [
        (model, {"evidence": {"weaknes": True}}, UnknownNodeError),
        (model, {"evidence": {"weakness": "maybe"}}, InvalidStateError),
        (model, {"evidence": ["weakness"]}, InvalidEvidenceError),
        (model, {"evidence": {}, "top": 0}, contract.InvalidRequestError),
        (model, {"evidence": {}, "ranking": "alphabetical"}, contract.InvalidRequestError),
        (
            model,
            {"evidence": {}, "schema": "bayesleg.diagnosis/2"},
            contract.InvalidRequestError,
        ),
        (model, {"evidence": {}, "evidense": {}}, contract.InvalidRequestError),
        (model, {"id": "x"}, contract.InvalidRequestError),
        (model, "weakness", contract.InvalidRequestError),
        (
            tiny,
            {"evidence": {"c": "no", "d": "no", "s": "yes"}, "id": "x"},
            ImpossibleEvidenceError,
        ),
    ]
    for answering, request, kind in cases:
        with pytest.raises(kind) as caught:
            contract.diagnose(answering, request)
        error = contract.error_object(caught.value, payload=request, line=4)
        assert_valid("error", error)
        assert error["error"]["type"] == kind.__name__
        assert error["error"]["message"] == contract.error_message(caught.value)
        assert error["line"] == 4
    assert error["id"] == "x"
    # Impossible evidence is shown in JSON's words, not as a Python dict.
    assert error["error"]["message"] == (
        'the evidence has probability zero under the model: {"c": false, "d": false, "s": true}'
    )


@pytest.mark.parametrize(
    ("request_body", "words"),
    [
        ({"evidence": {"weakness": 1}}, "invalid value 1 for 'weakness'; expected true, false,"),
        ({"evidence": {"weakness": [True]}}, "invalid value an array for 'weakness'"),
        ({"evidence": {"weakness": None, "cramps": {}}}, "invalid value an object for 'cramps'"),
        ({"evidence": None}, '"evidence" must be an object of node id to true or false, got null'),
        ({"evidence": ["weakness"]}, "got an array"),
        ({"evidence": {}, "top": True}, '"top" must be a whole number of at least 1, got true'),
        ({"evidence": {}, "uncertainty": 2.5}, "(draws), got 2.5"),
        ({"evidence": {}, "ranking": None}, "got null"),
        ({"evidence": {}, "schema": None}, "unsupported schema null"),
    ],
)
def test_errors_name_values_in_json_words(model, request_body, words):
    with pytest.raises(BayeslegError) as caught:
        contract.diagnose(model, request_body)
    message = contract.error_message(caught.value)
    assert words in message
    assert not re.search(r"\b(True|False|None|NoneType|list|dict)\b", message), message


def test_an_unknown_node_is_still_named_first_with_its_did_you_mean(model):
    # The same order of checks as the library's: the first bad item is named.
    with pytest.raises(UnknownNodeError, match="did you mean 'weakness'"):
        contract.diagnose(model, {"evidence": {"weaknes": 1, "cramps": True}})
    with pytest.raises(InvalidStateError, match="invalid value 1 for 'cramps'"):
        contract.diagnose(model, {"evidence": {"cramps": 1, "weaknes": True}})


def test_an_unknown_field_is_named_with_the_known_ones(model):
    with pytest.raises(contract.InvalidRequestError) as caught:
        contract.diagnose(model, {"evidence": {}, "evidense": {}})
    assert str(caught.value) == (
        "unknown field 'evidense' (did you mean 'evidence'?); "
        "a request has schema, id, evidence, top, ranking, uncertainty"
    )


def test_unknown_node_error_object_carries_suggestions(model):
    with pytest.raises(UnknownNodeError) as caught:
        contract.diagnose(model, {"evidence": {"numbnes": True}})
    assert contract.error_object(caught.value, index=2)["error"] == {
        "type": "UnknownNodeError",
        "message": "unknown node 'numbnes'; did you mean 'numbness'?",
        "node": "numbnes",
        "suggestions": ["numbness"],
    }


def test_batch_answers_each_case_in_order(model, tiny):
    cases = [
        {"evidence": {"cramps": True}, "id": "a"},
        {"evidence": {"cramp": True}, "id": "b"},
        [],
        {"evidence": {"weakness": True, "tingling": True}, "top": 2},
    ]
    batch = contract.diagnose_batch(model, cases)
    assert_valid("batch-response", batch)
    results = batch["results"]
    assert [r["schema"] for r in results] == [
        contract.DIAGNOSIS,
        contract.ERROR,
        contract.ERROR,
        contract.DIAGNOSIS,
    ]
    assert_same_answer(results[0], contract.diagnose(model, cases[0]))
    assert_same_answer(results[3], contract.diagnose(model, cases[3]))
    assert (results[1]["index"], results[1]["id"], results[1]["error"]["type"]) == (
        1,
        "b",
        "UnknownNodeError",
    )
    assert results[2]["index"] == 2


def test_batch_ranks_each_case_as_it_asks(model):
    cases = [
        {"evidence": {"weakness": True, "long_session": True}, "ranking": ranking}
        for ranking in (*RANKINGS, "posterior")
    ]
    results = contract.diagnose_batch(model, cases)["results"]
    assert [r["ranking"] for r in results] == [*RANKINGS, "posterior"]
    for case, result in zip(cases, results, strict=True):
        assert_same_answer(result, contract.diagnose(model, case))


def test_batch_with_an_impossible_case_answers_the_others(tiny):
    cases = [{"evidence": {"f": True}}, {"evidence": {"c": "no", "d": "no", "s": "yes"}}]
    results = contract.diagnose_batch(tiny, cases)["results"]
    assert_same_answer(results[0], contract.diagnose(tiny, cases[0]))
    assert results[1]["error"]["type"] == "ImpossibleEvidenceError"
    assert results[1]["index"] == 1


def test_read_batch_checks_the_envelope():
    assert contract.read_batch({"cases": [1, 2]}) == [1, 2]
    for payload, words in [
        ([], "a batch must be a JSON object, got an array"),
        ({"cases": {}}, 'a batch needs "cases", an array'),
        ({"cases": [], "top": 1}, "unknown field 'top'"),
        ({"cases": [], "schema": contract.DIAGNOSIS}, "unsupported schema"),
    ]:
        with pytest.raises(contract.InvalidRequestError, match=words):
            contract.read_batch(payload)


def test_model_description_matches_the_schema_and_the_vocabulary(model):
    description = contract.model_description(model)
    assert_valid("model", description)
    assert [n["id"] for n in description["nodes"]] == [n.id for n in model.nodes]
    for value in description["evidence_values"]:
        contract.diagnose(model, {"evidence": {"cramps": value}})


def test_model_description_gives_every_number_with_its_passage(model, tiny):
    description = contract.model_description(tiny)
    assert_valid("model", description)
    nodes = {node["id"]: node for node in description["nodes"]}
    # tiny.toml, by hand: f's prior; c's leak and its weight from f; s's leak and weights.
    assert [(p["field"], p["p"]) for p in nodes["f"]["parameters"]] == [("prior", 0.25)]
    assert [(p["field"], p["p"]) for p in nodes["c"]["parameters"]] == [
        ("leak", 0.15),
        ("parents.f", 0.5),
    ]
    assert [(p["field"], p["p"]) for p in nodes["s"]["parameters"]] == [
        ("leak", 0.0),
        ("parents.c", 0.75),
        ("parents.d", 0.6),
    ]
    assert nodes["s"]["parameters"][2] == {
        "field": "parents.d",
        "p": 0.6,
        "verbal": "fifty-fifty",
        "source": {"file": "002_a843bfb1dd3f4472.txt", "quote": "can cause similar symptoms"},
        "note": "between fifty-fifty and expected",
    }
    assert (nodes["c"]["care"], nodes["c"]["findings"]) == ("self_care", [])
    assert "care" not in nodes["s"]
    assert description["red_flags"] == [
        {
            "id": "s_with_f",
            "label": "S with F",
            "level": "see_doctor",
            "source": {
                "file": "002_a843bfb1dd3f4472.txt",
                "quote": "Interferes with daily activities or workout performance.",
            },
        }
    ]
    assert description["thresholds"]["condition"]["p"] == 0.2
    assert description["thresholds"]["finding"] is None
    # The shipped model: every hand-set number is there, each with a passage from its texts.
    shipped = contract.model_description(model)
    assert_valid("model", shipped)
    count = sum(len(node["parameters"]) for node in shipped["nodes"])
    assert count == sum(len(node.parameters()) for node in model.spec.nodes)
    assert all(p["source"]["quote"] for node in shipped["nodes"] for p in node["parameters"])
    assert shipped["thresholds"]["finding"]["p"] == model.spec.finding_threshold.p


def test_explain_splits_the_log_odds_as_worked_by_hand(tiny):
    # tiny.toml: P(c) = 0.25 * (1 - 0.85 * 0.5) + 0.75 * 0.15 = 0.25625, and
    # P(s | c) = 0.25 * 0.9 + 0.75 * 0.75 = 0.7875, P(s | not c) = 0.25 * 0.6 = 0.15; one
    # observed item's share is its log likelihood ratio, ln(0.7875 / 0.15) = ln 5.25.
    response = contract.explain(tiny, {"evidence": {"s": "yes"}, "cause": "c", "id": "e"})
    assert_valid("explain-response", response)
    assert response["schema"] == "bayesleg.explanation/1" and response["id"] == "e"
    assert response["evidence"] == {"s": "present"}
    assert response["baseline"] == pytest.approx(0.25625, abs=1e-12)
    posterior = 0.25625 * 0.7875 / (0.25625 * 0.7875 + 0.74375 * 0.15)
    assert response["posterior"] == pytest.approx(posterior, abs=1e-12)
    [share] = response["contributions"]
    assert share == {
        "id": "s",
        "log_likelihood_ratio": pytest.approx(math.log(5.25), abs=1e-12),
        "state": "present",
        "label": "Symptom S",
    }
    assert response["warnings"] == []


def test_explain_answers_as_the_model_and_keeps_the_sum(model):
    evidence = {
        "cramps": True,
        "hot_environment": "yes",
        "electrolyte_drinks": False,
        "fasted": None,
    }
    response = contract.explain(model, {"evidence": evidence, "cause": "electrolyte_imbalance"})
    assert_valid("explain-response", response)
    expected = model.explain(evidence, "electrolyte_imbalance").to_dict()
    assert {key: response[key] for key in expected} == expected
    total = sum(c["log_likelihood_ratio"] for c in response["contributions"])
    assert total == pytest.approx(response["log_posterior_odds"] - response["log_baseline_odds"])
    diagnosed = {c["id"]: c for c in contract.diagnose(model, {"evidence": evidence})["ranked"]}
    assert response["posterior"] == pytest.approx(diagnosed["electrolyte_imbalance"]["posterior"])
    assert [w["code"] for w in response["warnings"]] == ["null_evidence"]
    for payload, words in [
        ({"evidence": {}}, 'needs "cause"'),
        ({"evidence": {}, "cause": None}, '"cause" must be a condition id'),
        ({"evidence": {}, "cause": "x", "schema": contract.DIAGNOSIS}, "unsupported schema"),
    ]:
        with pytest.raises(contract.InvalidRequestError, match=words):
            contract.explain(model, payload)
    with pytest.raises(UnknownNodeError, match="did you mean 'dehydration'"):
        contract.explain(model, {"evidence": {}, "cause": "dehydraton"})


def test_next_questions_match_the_schema(model):
    evidence = {"weakness": True, "long_session": True}
    response = contract.next_questions(model, {"evidence": evidence, "k": 3, "id": 9})
    assert_valid("next-questions-response", response)
    questions = model.next_questions(evidence, k=3)
    assert [q["id"] for q in response["questions"]] == [q.id for q in questions]
    assert response["top_cause"] == model.diagnose(evidence).top.id
    assert not {q["id"] for q in response["questions"]} & set(evidence)
    huge = contract.next_questions(model, {"evidence": {}, "k": 10**30})
    assert_valid("next-questions-response", huge)


# --------------------------------------------------------------------------
# Reading JSON strictly
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"{", "not valid JSON"),
        (b"\xff{}", "not UTF-8"),
        (b'{"a": 1, "a": 2}', "the key 'a' appears twice"),
        (b'{"top": NaN}', "NaN is not a JSON value"),
        (b'{"top": -Infinity}', "-Infinity is not a JSON value"),
        (b'{"top": 1e400}', "the number 1e400 is too large"),
        (b"[" * 100_000, "nests too deeply"),
        (b"1" * 5000, "a number too long to read"),
    ],
)
def test_parse_json_is_strict(text, words):
    with pytest.raises(contract.InvalidRequestError, match=words):
        contract.parse_json(text)


def test_dumps_never_writes_nan():
    with pytest.raises(ValueError, match="Out of range float"):
        contract.dumps({"x": float("nan")})


def test_dumps_always_writes_unicode_text():
    """A lone surrogate that gets past the checks becomes U+FFFD, never invalid UTF-8."""
    text = contract.dumps({"a\udc80": "\ud800 Díez", "pair": "\ud83e\uddb5"})
    text.encode("utf-8")
    assert json.loads(text) == {"a\ufffd": "\ufffd Díez", "pair": "\N{LEG}"}
    assert contract.dumps({"x": "Díez 🦵"}) == '{"x":"Díez 🦵"}'


def test_dumps_keeps_a_message_on_one_line_for_every_reader():
    """str.splitlines also ends a line at U+0085, U+2028 and U+2029; they are escaped."""
    message = {"id": "a\x85b\u2028c\u2029d\x1ce\x0bf\rg\nh"}
    text = contract.dumps(message)
    assert text.splitlines() == [text]
    assert json.loads(text) == message


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        ({"evidence": {"\ud800": True}}, "\"evidence\" has a key with a lone surrogate: '\\ud800'"),
        (
            {"evidence": {"f": "yes\udfff"}},
            "\"evidence\" holds a lone surrogate: 'yes\\udfff' (character 3)",
        ),
        ({"evidence": {}, "id": "\udc80"}, '"id" holds a lone surrogate'),
        ({"evidence": {}, "ranking": ["\udc80"]}, '"ranking" holds a lone surrogate'),
        ({"evidence": {}, "\udc80": 1}, "a field name holds a lone surrogate"),
        ({"evidence": {"f": True}, "id": "x" * 100 + "\ud800"}, "(character 100)"),
    ],
)
def test_a_lone_surrogate_is_refused_naming_the_field(tiny, request_, words):
    with pytest.raises(contract.InvalidRequestError) as caught:
        contract.diagnose(tiny, request_)
    assert words in str(caught.value)
    assert "must be Unicode text" in str(caught.value)
    error = contract.error_object(caught.value, payload=request_)
    assert "id" not in error
    contract.dumps(error).encode("utf-8")
    assert_valid("error", error)


# --------------------------------------------------------------------------
# The hand-written request checks agree with the request schema
# --------------------------------------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_good_values = st.sampled_from([True, False, None, "yes", "No", "PRESENT", "absent", "yEs"])
_bad_values = st.sampled_from(["maybe", "", "yes ", 1, 0, 1.0, [], {}]) | st.text(max_size=8)
_tiny_ids = st.sampled_from(["f", "c", "d", "s", "t"])
# Each field of a request: (a value the contract accepts, a value it refuses).
_FIELDS = {
    "evidence": (
        st.dictionaries(_tiny_ids, _good_values),
        st.dictionaries(_tiny_ids, _good_values | _bad_values, min_size=1)
        | _json_scalars
        | st.lists(st.text(max_size=3), max_size=2),
    ),
    "top": (st.integers(1, 10**20) | st.just(2.0), st.sampled_from([0, -1, 2.5, True, "3", None])),
    "ranking": (st.sampled_from(RANKINGS), st.sampled_from(["alphabetical", None, 1])),
    "schema": (
        st.just(contract.DIAGNOSIS),
        st.sampled_from([contract.BATCH, "bayesleg.diagnosis/2", None]),
    ),
    "id": (
        st.text(max_size=200) | st.integers() | st.just(7.0),
        st.sampled_from(["x" * 201, 7.5, True, None, [], {}]),
    ),
    "evidense": (st.nothing(), st.just({})),
}


@st.composite
def _requests(draw):
    """Mostly well-formed requests, each field absent, acceptable or (less often) refused."""
    request = {}
    for field, (good, bad) in _FIELDS.items():
        choice = draw(st.sampled_from(["absent", "good", "good", "good", "bad"]))
        if choice == "good" and field != "evidense":
            request[field] = draw(good)
        elif choice == "bad":
            request[field] = draw(bad)
    return request


@settings(max_examples=300, deadline=None)
@given(request=_requests() | _json_scalars | st.lists(_json_scalars, max_size=2))
def test_request_checks_agree_with_the_request_schema(tiny, request):
    """A request the schema accepts is answered or fails on the model; one it rejects is refused.

    The model-level errors (an id the model lacks, impossible evidence) are
    beyond a schema; every other fault is a contract fault in both.
    """
    schema_valid = validator("diagnosis-request").is_valid(request)
    try:
        contract.diagnose(tiny, request)
    except (UnknownNodeError, ImpossibleEvidenceError):
        assert schema_valid
    except BayeslegError as error:
        assert not schema_valid, error
    else:
        assert schema_valid


def test_evidence_warnings_are_the_responses_and_speak_the_callers_words(model):
    evidence = {"dehydration": True, "cramps": False}
    response = contract.diagnose(model, {"evidence": evidence})
    assert contract.evidence_warnings(model, evidence) == response["warnings"]
    assert response["warnings"][0]["message"] == (
        "'dehydration' is a condition given as evidence (dehydration=present), "
        "so it is pinned rather than diagnosed"
    )
    words = contract.evidence_warnings(model, evidence, words={"present": "yes", "absent": "no"})
    assert [w["code"] for w in words] == ["condition_as_evidence"]
    assert "(dehydration=yes)" in words[0]["message"]


def test_a_condition_given_as_evidence_answers_strict_json_with_a_null_ratio(model):
    response = contract.diagnose(model, {"evidence": {"dehydration": True}})
    line = contract.dumps(response)  # refuses NaN and infinities
    ranked = {cause["id"]: cause for cause in json.loads(line)["ranked"]}
    assert ranked["dehydration"]["posterior"] == 1.0
    assert ranked["dehydration"]["likelihood_ratio"] is None
    assert validator("diagnosis-response").is_valid(json.loads(line))


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda m: contract.parse_json(5), "a request is JSON text or bytes, got int"),
        (lambda m: contract.parse_json(bytearray(b"\xff")), "not UTF-8"),
        (lambda m: contract.diagnose(m, {"evidence": {1: True}}), "keys must be strings, got 1"),
        (lambda m: contract.diagnose(m, {1: True}), "a field name must be a string, got 1"),
        (lambda m: contract.diagnose_batch(m, None), "must be an array of diagnosis requests"),
    ],
)
def test_python_payloads_json_cannot_hold_are_refused_by_name(model, call, words):
    # A Python caller can pass what no JSON text holds: keys that are not
    # strings, payloads that are not text, a batch that is not a list.
    with pytest.raises(contract.InvalidRequestError, match=re.escape(words)):
        call(model)


def test_a_payload_that_holds_itself_is_answered_not_walked_forever(model):
    looped: list = []
    looped.append(looped)
    with pytest.raises(contract.InvalidRequestError, match='"id" must be a string'):
        contract.diagnose(model, {"evidence": {}, "id": looped})


def test_the_contract_takes_every_value_the_library_takes(model):
    # The JSON wording of a bad value must not narrow what is accepted: a
    # Python caller's numpy bool is read as the library reads it.
    import numpy as np

    given = contract.diagnose(model, {"evidence": {"cramps": np.True_, "fasted": "No"}})
    plain = contract.diagnose(model, {"evidence": {"cramps": True, "fasted": False}})
    assert given == plain
