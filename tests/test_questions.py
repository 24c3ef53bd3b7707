"""Next-best questions: expected information gain, against hand calculation and brute force.

On the tiny model (F -> C -> S <- D, lone T; see test_model.py) with nothing
observed, asking F tells about C only:

    P(F) = 0.25, P(C | F) = 0.575, P(C | no F) = 0.15, P(C) = 0.25625
    gain(F) = h(0.25625) - 0.25 h(0.575) - 0.75 h(0.15)        (bits)

and T, a symptom with no parents, tells nothing.
"""

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from twin_network import Worlds, model_text, random_network

import bayesleg
from bayesleg.errors import InvalidArgumentError, UnknownNodeError

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


def h(p):
    return 0.0 if p in (0.0, 1.0) else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def test_gain_worked_by_hand(tiny):
    questions = {q.id: q for q in tiny.next_questions({}, k=5)}
    assert set(questions) == {"f", "s", "t"}
    f = questions["f"]
    assert f.expected_gain == pytest.approx(
        h(0.25625) - 0.25 * h(0.575) - 0.75 * h(0.15), abs=1e-12
    )
    assert f.p_yes == pytest.approx(0.25, abs=1e-12)
    assert f.kind == "factor"
    assert f.label == "Factor F"
    # The top cause with nothing observed is C (0.25625 > 0.25).
    assert f.top_if_yes == pytest.approx(0.575, abs=1e-12)
    assert f.top_if_no == pytest.approx(0.15, abs=1e-12)
    assert questions["t"].expected_gain == pytest.approx(0.0, abs=1e-12)


def test_observed_excluded_and_condition_nodes_are_never_asked(tiny):
    ids = [q.id for q in tiny.next_questions({"f": True, "c": False}, k=10)]
    assert ids == ["s", "t"]
    assert [q.id for q in tiny.next_questions({"f": True}, k=10, exclude=["s"])] == ["t"]
    assert tiny.next_questions({"f": True, "s": False, "t": True}) == ()


def test_k_caps_the_list_and_gains_come_in_order(tiny):
    questions = tiny.next_questions({}, k=2)
    assert len(questions) == 2
    gains = [q.expected_gain for q in tiny.next_questions({}, k=5)]
    assert gains == sorted(gains, reverse=True)


def test_bad_arguments_are_refused(tiny):
    for k in (0, -1, 2.5, True):
        with pytest.raises(InvalidArgumentError, match="k must be a positive whole number"):
            tiny.next_questions({}, k=k)
    with pytest.raises(UnknownNodeError, match="unknown node 'ss'; did you mean 's'"):
        tiny.next_questions({}, exclude=["ss"])


def _mutual_information(worlds, evidence, condition, question):
    """I(condition; question | evidence) in bits, from the joint by enumeration."""
    if condition in evidence:  # an observed condition has nothing left to learn
        return 0.0
    total = worlds.probability(evidence)
    information = 0.0
    for c in (False, True):
        p_c = worlds.probability({**evidence, condition: c}) / total
        for q in (False, True):
            p_q = worlds.probability({**evidence, question: q}) / total
            joint = worlds.probability({**evidence, condition: c, question: q}) / total
            if joint > 0:
                information += joint * math.log2(joint / (p_c * p_q))
    return information


@pytest.mark.parametrize("seed", range(10))
def test_gains_match_mutual_information_by_brute_force(tmp_path, seed):
    rng = np.random.default_rng(seed)
    nodes = random_network(rng, chain=seed % 2 == 0)
    path = tmp_path / "random.toml"
    path.write_text(model_text(nodes), encoding="utf-8")
    model = bayesleg.load(path)
    worlds = Worlds(nodes)
    while True:
        evidence = {n.id: bool(rng.random() < 0.6) for n in nodes if rng.random() < 0.3}
        if worlds.probability(evidence) > 0:
            break
    questions = model.next_questions(evidence, k=len(nodes))
    asked = {n.id for n in nodes if n.kind != "condition" and n.id not in evidence}
    assert {q.id for q in questions} == asked
    posteriors = {c: worlds.posterior(c, evidence) for c in model.conditions}
    top = min(model.conditions, key=lambda c: (-round(posteriors[c], 12), c))
    for question in questions:
        expected = sum(
            _mutual_information(worlds, evidence, condition, question.id)
            for condition in model.conditions
        )
        assert question.expected_gain == pytest.approx(expected, abs=1e-9)
        p_yes = worlds.posterior(question.id, evidence)
        assert question.p_yes == pytest.approx(p_yes, abs=1e-12)
        if p_yes > 0:
            yes = worlds.posterior(top, {**evidence, question.id: True})
            assert question.top_if_yes == pytest.approx(yes, abs=1e-12)
        if p_yes < 1:
            no = worlds.posterior(top, {**evidence, question.id: False})
            assert question.top_if_no == pytest.approx(no, abs=1e-12)


def test_shipped_model_asks_about_symptoms_and_factors_only():
    model = bayesleg.load()
    evidence = {"heaviness": True, "long_session": True}
    questions = model.next_questions(evidence, k=50)
    kinds = {node.id: node.kind for node in model.nodes}
    assert {kinds[q.id] for q in questions} <= {"symptom", "factor"}
    assert len(questions) == sum(
        1 for n in model.nodes if n.kind != "condition" and n.id not in evidence
    )
    assert all(q.expected_gain >= 0 and 0 <= q.p_yes <= 1 for q in questions)


def test_cli_next_json_matches_the_api(tiny):
    import json

    result = run_cli("next", "t=no", "-k", "2", "--model", str(TINY), "--json", cwd=TINY.parent)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["evidence"] == {"t": "absent"}
    assert payload["top_cause"] == "c"
    expected = [q.to_dict() for q in tiny.next_questions({"t": False}, k=2)]
    assert payload["questions"] == expected


def test_cli_next_table_and_bad_k():
    result = run_cli("next", "--model", str(TINY), cwd=TINY.parent)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "Warning: nothing is observed, so the ranking is the model's prior"
    del lines[1]
    assert lines[1] == "Top cause: Condition C (c), posterior 0.256"
    assert lines[2].split() == [
        "#",
        "question",
        "kind",
        "gain",
        "P(yes)",
        "top",
        "if",
        "yes",
        "top",
        "if",
        "no",
    ]
    assert {line.split()[1] for line in lines[3:6]} == {"f", "s", "t"}
    result = run_cli("next", "-k", "0", "--model", str(TINY), cwd=TINY.parent)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "expected a positive whole number, got '0'" in result.stderr


_SHIPPED = bayesleg.load()
_FINDINGS = [n.id for n in _SHIPPED.nodes if n.kind != "condition"]


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.sampled_from(_FINDINGS), st.booleans(), max_size=10))
def test_questions_are_consistent_on_the_shipped_model(evidence):
    questions = _SHIPPED.next_questions(evidence, k=len(_FINDINGS))
    top = _SHIPPED.diagnose(evidence).top.posterior
    assert {q.id for q in questions} == set(_FINDINGS) - set(evidence)
    gains = [q.expected_gain for q in questions]
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(gains))  # ties go by id
    for question in questions:
        assert question.expected_gain >= 0.0
        assert 0.0 <= question.p_yes <= 1.0
        # The law of total probability: the expected posterior after the answer is the posterior now.
        expected = question.p_yes * question.top_if_yes + (1 - question.p_yes) * question.top_if_no
        assert expected == pytest.approx(top, abs=1e-9)
