"""Diagnosis on the tiny model, checked against answers worked out by hand.

The tiny model (tests/fixtures/tiny.toml) is F -> C -> S <- D, plus a lone
symptom T.  Noisy-OR (Díez): P(C | F) = 1 - (1 - 0.15)(1 - 0.5) = 0.575 and
P(C | not F) = 0.15; P(D) = 0.25; P(S | C, D) = 1 - (1 - 0.75)^C (1 - 0.6)^D.
"""

import json
import math
from pathlib import Path

import pytest
from strategies import model_text

import bayesleg
from bayesleg import (
    BayeslegError,
    ImpossibleEvidenceError,
    InvalidEvidenceError,
    InvalidStateError,
    ModelFileError,
    UnknownNodeError,
)

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


def odds(p):
    return p / (1 - p)


def test_nodes_and_kinds(tiny):
    assert [(n.id, n.kind) for n in tiny.nodes] == [
        ("f", "factor"),
        ("c", "condition"),
        ("d", "condition"),
        ("s", "symptom"),
        ("t", "symptom"),
    ]
    assert tiny.nodes[0].states == ("absent", "present")
    assert tiny.conditions == ("c", "d")


def test_posteriors_worked_by_hand(tiny):
    # Evidence F, S.  Joint of (C, D, S=1) given F=1:
    c1d1 = 0.575 * 0.25 * (1 - 0.25 * 0.4)
    c1d0 = 0.575 * 0.75 * 0.75
    c0d1 = 0.425 * 0.25 * 0.6
    evidence_probability = c1d1 + c1d0 + c0d1  # C0D0 cannot produce S: leak 0
    diagnosis = tiny.diagnose({"f": True, "s": True})
    by_id = {cause.id: cause for cause in diagnosis.ranked}
    assert by_id["c"].posterior == pytest.approx((c1d1 + c1d0) / evidence_probability, abs=1e-12)
    assert by_id["d"].posterior == pytest.approx((c1d1 + c0d1) / evidence_probability, abs=1e-12)
    assert by_id["c"].prior == pytest.approx(0.575, abs=1e-12)  # factor evidence only
    assert by_id["d"].prior == pytest.approx(0.25, abs=1e-12)
    for cause in diagnosis.ranked:
        assert cause.likelihood_ratio == pytest.approx(odds(cause.posterior) / odds(cause.prior))
    assert [cause.id for cause in diagnosis.ranked] == ["c", "d"]


def test_absent_finding_worked_by_hand(tiny):
    c = 0.25 * 0.575 + 0.75 * 0.15  # P(C) with F unobserved
    joint = {  # P(C, D, S=0)
        (0, 0): (1 - c) * 0.75,
        (1, 0): c * 0.75 * 0.25,
        (0, 1): (1 - c) * 0.25 * 0.4,
        (1, 1): c * 0.25 * 0.25 * 0.4,
    }
    total = sum(joint.values())
    diagnosis = tiny.diagnose({"s": "no"})
    by_id = {cause.id: cause for cause in diagnosis.ranked}
    assert by_id["c"].prior == pytest.approx(c, abs=1e-12)
    assert by_id["c"].posterior == pytest.approx((joint[1, 0] + joint[1, 1]) / total, abs=1e-12)
    assert by_id["d"].posterior == pytest.approx((joint[0, 1] + joint[1, 1]) / total, abs=1e-12)
    assert diagnosis.evidence == {"s": "absent"}


def test_d_separated_finding_changes_nothing(tiny):
    base = tiny.diagnose({"f": True, "s": True})
    with_t = tiny.diagnose({"f": True, "s": True, "t": True})
    for a, b in zip(base.ranked, with_t.ranked, strict=True):
        assert a.id == b.id
        assert a.posterior == pytest.approx(b.posterior, abs=1e-12)
        assert a.prior == pytest.approx(b.prior, abs=1e-12)


def test_evidence_spellings_are_equivalent(tiny):
    answers = {
        tuple(c.posterior for c in tiny.diagnose({"f": value, "s": other}).ranked)
        for value, other in [(True, False), ("present", "absent"), ("yes", "no"), ("YES", "No")]
    }
    assert len(answers) == 1


def test_observed_condition_has_infinite_or_zero_ratio(tiny):
    diagnosis = tiny.diagnose({"d": True})
    d = next(c for c in diagnosis.ranked if c.id == "d")
    assert d.posterior == 1.0
    assert d.likelihood_ratio == math.inf
    assert json.loads(json.dumps(diagnosis.to_dict()))["ranked"][0]["likelihood_ratio"] is None


def test_a_no_answer_leaves_an_observed_condition_raising_triage(tiny):
    """D observed present stays certain whatever is answered "no", and still raises triage."""
    diagnosis = tiny.diagnose({"d": True, "s": True, "t": False})
    assert diagnosis.triage.level == "see_doctor"
    assert [(r.kind, r.id) for r in diagnosis.triage.reasons] == [("condition", "d")]


def test_triage_red_flag_and_condition_reasons(tiny):
    diagnosis = tiny.diagnose({"f": True, "s": True})
    assert diagnosis.triage.level == "see_doctor"
    assert [(r.kind, r.id) for r in diagnosis.triage.reasons] == [
        ("red_flag", "s_with_f"),
        ("condition", "d"),
    ]


def test_triage_self_care_when_nothing_raises_it(tiny):
    diagnosis = tiny.diagnose({"s": False})  # D falls to about 0.12, below 0.2
    assert diagnosis.triage.level == "self_care"
    assert diagnosis.triage.reasons == ()


def test_to_dict_is_json(tiny):
    payload = json.loads(json.dumps(tiny.diagnose({"f": True, "s": True}).to_dict()))
    assert set(payload) == {"ranked", "triage", "evidence", "model", "ranking", "advice"}
    assert set(payload["ranked"][0]) == {
        "id",
        "label",
        "posterior",
        "prior",
        "likelihood_ratio",
        "score",
    }
    assert payload["triage"]["level"] == "see_doctor"
    assert payload["evidence"] == {"f": "present", "s": "present"}
    assert payload["model"] == {"id": "tiny", "version": tiny.version}
    assert len(tiny.version) == 16


def test_diagnose_many_matches_single_diagnoses(tiny):
    cases = [{}, {"f": True}, {"s": True}, {"s": False, "t": True}, {"f": False, "s": True}]
    batch = tiny.diagnose_many(cases)
    assert len(batch) == len(cases)
    for case, diagnosis in zip(cases, batch, strict=True):
        single = tiny.diagnose(case)
        assert [c.id for c in diagnosis.ranked] == [c.id for c in single.ranked]
        for batched, alone in zip(diagnosis.ranked, single.ranked, strict=True):
            assert batched.posterior == pytest.approx(alone.posterior, abs=1e-12)
            assert batched.prior == pytest.approx(alone.prior, abs=1e-12)


def test_pgmpy_network_is_valid(tiny):
    network = tiny.network
    assert network.check_model()
    assert set(network.nodes()) == {"f", "c", "d", "s", "t"}
    cpd = network.get_cpds("c")
    assert cpd.get_values()[1].tolist() == pytest.approx([0.15, 0.575])


def test_unknown_node_suggests(tiny):
    with pytest.raises(UnknownNodeError, match=r"unknown node 'ss'; did you mean 's'") as raised:
        tiny.diagnose({"ss": True})
    assert isinstance(raised.value, KeyError)
    assert raised.value.suggestions == ("s",)


def test_diagnose_many_names_the_bad_case(tiny):
    with pytest.raises(UnknownNodeError) as raised:
        tiny.diagnose_many([{"s": True}, {}, {"ss": True}])
    assert str(raised.value) == "case 2: unknown node 'ss'; did you mean 's'?"
    assert raised.value.case == 2
    with pytest.raises(InvalidStateError, match=r"^case 1: invalid value 'maybe' for 's'"):
        tiny.diagnose_many([{}, {"s": "maybe"}])


def test_invalid_state_names_value_and_choices(tiny):
    with pytest.raises(
        InvalidStateError, match=r"invalid value 'maybe' for 's'; expected True, False"
    ):
        tiny.diagnose({"s": "maybe"})
    with pytest.raises(InvalidStateError, match=r"invalid value 1 for 's'"):
        tiny.diagnose({"s": 1})


def test_evidence_must_be_a_mapping(tiny):
    with pytest.raises(InvalidEvidenceError, match=r"must be a mapping.*got list"):
        tiny.diagnose(["s"])


def test_impossible_evidence_raises(tiny):
    # S has leak 0, so S present with both of its causes absent cannot happen.
    with pytest.raises(ImpossibleEvidenceError, match="probability zero") as raised:
        tiny.diagnose({"c": False, "d": False, "s": True})
    # One case: no case number, and the evidence as the model read it.
    assert "case" not in str(raised.value)
    assert raised.value.case is None
    assert str(raised.value).endswith("{'c': 'absent', 'd': 'absent', 's': 'present'}")
    # In a batch the case is named.
    with pytest.raises(ImpossibleEvidenceError, match="case 1") as raised:
        tiny.diagnose_many([{}, {"c": False, "d": False, "s": True}])
    assert raised.value.case == 1


def test_a_diagnosis_pickles_and_deep_copies_whole(tiny):
    """For multiprocessing, caches and Dask: equal after the round trip, evidence read-only."""
    import copy
    import pickle

    diagnosis = tiny.diagnose({"f": True, "s": True}, uncertainty=5)
    for loaded in (pickle.loads(pickle.dumps(diagnosis)), copy.deepcopy(diagnosis)):
        assert loaded == diagnosis and repr(loaded) == repr(diagnosis)
        assert loaded.to_dict() == diagnosis.to_dict()
        assert dict(loaded.evidence) == {"f": "present", "s": "present"}
        with pytest.raises(TypeError):
            loaded.evidence["f"] = "absent"  # type: ignore[index]


def test_bad_model_file_raises_at_load(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(TINY.read_text().replace('care = "self_care"', 'care = "later"'))
    with pytest.raises(ModelFileError, match=r"node 'c', field 'care'"):
        bayesleg.load(path)


def test_every_error_is_a_bayesleg_error():
    for error in (
        ImpossibleEvidenceError,
        InvalidEvidenceError,
        InvalidStateError,
        ModelFileError,
        UnknownNodeError,
    ):
        assert issubclass(error, BayeslegError)


def test_a_tiny_leak_keeps_its_value(tmp_path):
    # Every number 1e-17: P(s) is about 1e-17 + 1e-17 * P(c) + 1e-17 * P(f), not zero.
    path = tmp_path / "tiny_leak.toml"
    path.write_text(model_text(["f"], [("c", ["f"])], [("s", ["c", "f"])], p=1e-17))
    model = bayesleg.load(path)
    assert model.discrete_network.cpts["s"][1, 0, 0] == 1e-17
    diagnosis = model.diagnose({"s": True})
    assert diagnosis.top.id == "c"
    # P(c | s) = P(s | c) P(c) / P(s), with P(s | c) = 2e-17 and P(s) = 1e-17 to first order.
    assert diagnosis.top.posterior == pytest.approx(2e-17, rel=1e-9)
    (log_evidence,) = model.engine.log_evidence([{"s": "present"}])
    assert math.exp(log_evidence) == pytest.approx(1e-17, rel=1e-9)


@pytest.mark.parametrize("overwrite", ["no", 1, None])
def test_save_takes_overwrite_as_a_bool_only(tmp_path, overwrite):
    # A truthy "no" would otherwise replace the file.
    path = tmp_path / "kept.toml"
    path.write_text("mine")
    with pytest.raises(bayesleg.InvalidArgumentError, match="overwrite must be True or False"):
        bayesleg.load().save(path, overwrite=overwrite)
    assert path.read_text() == "mine"


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.diagnose({"fasted": 10**5000}),
        lambda m: m.diagnose({10**5000: True}),
        lambda m: m.diagnose({}, ranking=10**5000),
        lambda m: m.diagnose({}, uncertainty=10**5000),
        lambda m: m.simulate(10**5000),
        lambda m: m.explain({}, 10**5000),
    ],
)
def test_an_integer_too_long_to_print_is_named_by_its_size(call):
    # Python refuses to turn an integer of over 4,300 digits into text.
    with pytest.raises(bayesleg.BayeslegError, match="an integer of 16610 bits"):
        call(bayesleg.load())


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda m: m.diagnose_many(None), bayesleg.InvalidEvidenceError, "got NoneType"),
        (lambda m: m.diagnose_many(5), bayesleg.InvalidEvidenceError, "an iterable of evidence"),
        (lambda m: m.rank_frame({"fasted": [1]}), bayesleg.InvalidEvidenceError, "got dict"),
        (lambda m: m.next_questions({}, exclude=None), bayesleg.InvalidArgumentError, "exclude"),
        (lambda m: m.next_questions({}, exclude=[["x"]]), bayesleg.UnknownNodeError, "['x']"),
        (lambda m: m.node(["x"]), bayesleg.UnknownNodeError, "unknown node ['x']"),
        (lambda m: m.engine.posteriors([{}], targets=5), bayesleg.InvalidArgumentError, "targets"),
        (lambda m: m.engine.posteriors([{}], targets=[["x"]]), bayesleg.UnknownNodeError, "['x']"),
        (lambda m: m.diagnose({}, ranking=["posterior"]), bayesleg.InvalidArgumentError, "ranking"),
        (
            lambda m: bayesleg.evaluate(m, [{"id": "a", "evidence": {}}], rankings=None),
            bayesleg.InvalidArgumentError,
            "rankings must be",
        ),
    ],
)
def test_arguments_of_the_wrong_kind_get_a_typed_error_naming_them(call, error, words):
    with pytest.raises(error) as raised:
        call(bayesleg.load())
    assert words in str(raised.value)


def test_a_path_that_is_not_a_file_name_is_refused_by_kind(tmp_path):
    with pytest.raises(bayesleg.InvalidArgumentError, match="must be a file name, got int"):
        bayesleg.load(5)
    with pytest.raises(bayesleg.ModelFileError, match="cannot read the file: embedded null byte"):
        bayesleg.load("a\0b.toml")
    # Saving into a folder that does not exist names the folder, not a temporary file.
    with pytest.raises(FileNotFoundError, match="no such folder") as raised:
        bayesleg.load().save(tmp_path / "missing" / "model.toml")
    assert raised.value.filename == str(tmp_path / "missing")
