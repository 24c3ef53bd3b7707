"""Counterfactual ranking, against hand calculation and brute-force twin networks.

The tiny model (tests/fixtures/tiny.toml) is F -> C -> S <- D: P(F) = 0.25,
C has leak 0.15 and weight 0.5 from F, D has leak 0.25, S has leak 0 and
weights 0.75 from C and 0.6 from D.  With F and S observed present:

    P(e) / P(F) = P(S | F) = 0.575 * 0.25 * 0.9 + 0.575 * 0.75 * 0.75 + 0.425 * 0.25 * 0.6
                           = 0.5165625

* Curing C switches S off when C is present, C's link fired, and D's did not
  (the leak is 0): 0.575 * 0.75 * (0.75 + 0.25 * 0.4) = 0.3665625.
* Curing D: D present, D's link fired, C's did not:
  0.25 * 0.6 * (0.425 + 0.575 * 0.25) = 0.0853125.
* S stays on with D switched off when C is present and its link fired:
  0.575 * 0.75 = 0.43125; with C switched off, 0.25 * 0.6 = 0.15.
"""

from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from twin_network import Node, Worlds, model_text, random_network

import bayesleg
from bayesleg.errors import InvalidArgumentError

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
EVIDENCE_PROBABILITY = 0.5165625


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


def scores(diagnosis):
    return {cause.id: cause.score for cause in diagnosis.ranked}


def test_expected_disablement_worked_by_hand(tiny):
    diagnosis = tiny.diagnose({"f": True, "s": True}, ranking="expected_disablement")
    assert diagnosis.ranking == "expected_disablement"
    assert scores(diagnosis) == pytest.approx(
        {"c": 0.3665625 / EVIDENCE_PROBABILITY, "d": 0.0853125 / EVIDENCE_PROBABILITY},
        abs=1e-12,
    )
    assert [cause.id for cause in diagnosis.ranked] == ["c", "d"]


def test_expected_sufficiency_worked_by_hand(tiny):
    diagnosis = tiny.diagnose({"f": True, "s": True}, ranking="expected_sufficiency")
    assert scores(diagnosis) == pytest.approx(
        {"c": 0.43125 / EVIDENCE_PROBABILITY, "d": 0.15 / EVIDENCE_PROBABILITY}, abs=1e-12
    )


def test_counterfactual_ranking_keeps_the_posteriors(tiny):
    evidence = {"f": True, "s": True, "t": False}
    posterior = tiny.diagnose(evidence)
    for ranking in ("expected_disablement", "expected_sufficiency"):
        other = tiny.diagnose(evidence, ranking=ranking)
        assert {c.id: c.posterior for c in other.ranked} == {
            c.id: c.posterior for c in posterior.ranked
        }
        assert other.triage == posterior.triage
    assert all(cause.score == cause.posterior for cause in posterior.ranked)
    assert posterior.ranking == "posterior"


def test_no_positive_finding_scores_zero_and_falls_back_to_the_posterior(tiny):
    evidence = {"f": True, "s": False}
    by_posterior = [c.id for c in tiny.diagnose(evidence).ranked]
    for ranking in ("expected_disablement", "expected_sufficiency"):
        diagnosis = tiny.diagnose(evidence, ranking=ranking)
        assert all(cause.score == 0.0 for cause in diagnosis.ranked)
        assert [c.id for c in diagnosis.ranked] == by_posterior


def test_unknown_ranking_is_refused(tiny):
    with pytest.raises(
        InvalidArgumentError, match=r"unknown ranking 'likeliest'.*expected_disablement"
    ):
        tiny.diagnose({"s": True}, ranking="likeliest")


def test_to_dict_carries_the_ranking_and_scores(tiny):
    payload = tiny.diagnose({"f": True, "s": True}, ranking="expected_sufficiency").to_dict()
    assert payload["ranking"] == "expected_sufficiency"
    assert [cause["score"] for cause in payload["ranked"]] == pytest.approx(
        [0.43125 / EVIDENCE_PROBABILITY, 0.15 / EVIDENCE_PROBABILITY]
    )


def _cases(rng, nodes, worlds, n):
    """Random evidence of positive probability, most with findings observed present."""
    cases = []
    while len(cases) < n:
        evidence = {}
        for node in nodes:
            draw = rng.random()
            if draw < 0.2:
                evidence[node.id] = False
            elif draw < (0.7 if node.kind == "symptom" else 0.4):
                evidence[node.id] = True
        if worlds.probability(evidence) > 0:
            cases.append(evidence)
    return cases


SEEDS = range(24)


@pytest.mark.parametrize("seed", SEEDS)
def test_scores_match_brute_force_twin_networks(tmp_path, seed):
    rng = np.random.default_rng(seed)
    nodes = random_network(rng, chain=seed % 2 == 0)
    path = tmp_path / "random.toml"
    path.write_text(model_text(nodes), encoding="utf-8")
    model = bayesleg.load(path)
    worlds = Worlds(nodes)
    cases = _cases(rng, nodes, worlds, 4)
    for ranking, reference in (
        ("expected_disablement", worlds.expected_disablement),
        ("expected_sufficiency", worlds.expected_sufficiency),
    ):
        diagnoses = model.diagnose_many(cases, ranking=ranking)
        for evidence, diagnosis in zip(cases, diagnoses, strict=True):
            expected = {condition: reference(evidence, condition) for condition in model.conditions}
            assert scores(diagnosis) == pytest.approx(expected, abs=1e-9)
            ordered = [cause.score for cause in diagnosis.ranked]
            assert ordered == sorted(ordered, reverse=True)


def test_the_random_networks_hold_chains_and_certain_links():
    """The brute-force comparison is only as good as the networks it draws."""
    chains = certain = 0
    for seed in SEEDS:
        nodes = random_network(np.random.default_rng(seed), chain=seed % 2 == 0)
        by_id = {node.id: node for node in nodes}
        chains += any(
            by_id[parent].kind == "condition"
            for node in nodes
            if node.kind == "condition"
            for parent in node.parents
        )
        certain += any(weight == 1.0 for node in nodes for weight in node.parents.values())
    assert chains >= len(SEEDS) // 2
    assert certain >= 5


def test_a_condition_that_causes_another_is_credited_through_it(tmp_path):
    """do(D = absent) reaches D's descendants: curing D also cures what D caused."""
    text = model_text(
        [
            Node("c0", "condition", 0.2, {}),
            Node("c1", "condition", 0.0, {"c0": 1.0}),
            Node("s0", "symptom", 0.0, {"c1": 1.0}),
        ]
    )
    path = tmp_path / "chain.toml"
    path.write_text(text, encoding="utf-8")
    model = bayesleg.load(path)
    # S0 present forces C1 and then C0 present; curing C0 cures C1 and so S0.
    diagnosis = model.diagnose({"s0": True}, ranking="expected_disablement")
    assert scores(diagnosis) == pytest.approx({"c0": 1.0, "c1": 1.0}, abs=1e-12)
    # Sufficiency switches C1 off for C0, and C0 off for C1 (which keeps its state).
    diagnosis = model.diagnose({"s0": True}, ranking="expected_sufficiency")
    assert scores(diagnosis) == pytest.approx({"c0": 0.0, "c1": 1.0}, abs=1e-12)


def test_cli_diagnose_ranking(tiny):
    import json

    result = run_cli(
        "diagnose",
        "f",
        "s",
        "--ranking",
        "expected_disablement",
        "--model",
        str(TINY),
        "--json",
        cwd=TINY.parent,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    expected = tiny.diagnose({"f": True, "s": True}, ranking="expected_disablement").to_dict()
    assert payload == json.loads(json.dumps(expected))
    result = run_cli(
        "diagnose",
        "f",
        "s",
        "--ranking",
        "expected_sufficiency",
        "--model",
        str(TINY),
        cwd=TINY.parent,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "Ranked by expected sufficiency (score column)"
    assert lines[2].split()[:4] == ["#", "condition", "score", "posterior"]
    assert lines[3].split()[:5] == [
        "1",
        "Condition",
        "C",
        f"{0.43125 / EVIDENCE_PROBABILITY:.3f}",
        "0.877",
    ]
    result = run_cli(
        "diagnose", "s", "--ranking", "likeliest", "--model", str(TINY), cwd=TINY.parent
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "invalid choice: 'likeliest'" in result.stderr


_SHIPPED = bayesleg.load()
_FINDINGS = [n.id for n in _SHIPPED.nodes if n.kind != "condition"]


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.sampled_from(_FINDINGS), st.booleans(), max_size=8))
def test_scores_are_bounded_on_the_shipped_model(evidence):
    positives = sum(1 for node, value in evidence.items() if value and node in _SHIPPED.symptoms)
    disablement = _SHIPPED.diagnose(evidence, ranking="expected_disablement")
    sufficiency = _SHIPPED.diagnose(evidence, ranking="expected_sufficiency")
    for cause in disablement.ranked:
        # Curing a condition that is absent changes nothing: each finding it
        # could switch off needs the condition present.
        assert 0.0 <= cause.score <= positives * cause.posterior + 1e-9
    for cause in sufficiency.ranked:
        assert 0.0 <= cause.score <= positives + 1e-9
