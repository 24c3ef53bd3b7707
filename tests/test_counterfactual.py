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

import itertools
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from twin_network import Node, Worlds, ancestral, model_text, nodes_from_spec, random_network

import bayesleg
from bayesleg.errors import InvalidArgumentError
from bayesleg.reasoning.counterfactual import _twin_table

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
PRACTICES = Path(__file__).parent / "fixtures" / "practices.toml"
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


def _assert_scores_match(model, worlds, cases):
    """Both scores of every condition of ``model`` against the brute-force twin network.

    A condition the enumerated network leaves out reaches none of its
    findings: curing it switches nothing off, and switching off every
    condition but it leaves what the factors and leaks produce.
    """
    for ranking, reference in (
        ("expected_disablement", worlds.expected_disablement),
        ("expected_sufficiency", worlds.expected_sufficiency),
    ):
        diagnoses = model.diagnose_many(cases, ranking=ranking)
        for evidence, diagnosis in zip(cases, diagnoses, strict=True):
            expected = {condition: reference(evidence, condition) for condition in model.conditions}
            assert scores(diagnosis) == pytest.approx(expected, abs=1e-9)
            # Scores equal to 12 decimals are tied, and ties go by posterior.
            ordered = [round(cause.score, 12) for cause in diagnosis.ranked]
            assert ordered == sorted(ordered, reverse=True)


SEEDS = range(24)


def _network(seed, practices):
    """A random network of a seed: plain noisy-OR, or with joint causes and preventers."""
    rng = np.random.default_rng(seed + 1000 * practices)
    noise = 17 if practices else 15
    return rng, random_network(rng, chain=seed % 2 == 0, practices=practices, max_noise=noise)


@pytest.mark.parametrize("practices", [False, True], ids=["noisy-or", "practices"])
@pytest.mark.parametrize("seed", SEEDS)
def test_scores_match_brute_force_twin_networks(tmp_path, seed, practices):
    rng, nodes = _network(seed, practices)
    path = tmp_path / "random.toml"
    path.write_text(model_text(nodes), encoding="utf-8")
    worlds = Worlds(nodes)
    _assert_scores_match(bayesleg.load(path), worlds, _cases(rng, nodes, worlds, 4))


def test_the_random_practice_networks_hold_joint_causes_and_preventers():
    """Joint terms with a condition, preventers below a condition, joint terms on symptoms,
    and preventers of one term."""
    with_condition = preventers = on_symptoms = scoped = 0
    for seed in SEEDS:
        _, nodes = _network(seed, practices=True)
        kind = {node.id: node.kind for node in nodes}
        joint = [(node, key.split("+")) for node in nodes for key in node.parents if "+" in key]
        with_condition += any(
            node.kind == "condition" and any(kind[m] == "condition" for m in members)
            for node, members in joint
        )
        preventers += any(
            node.prevented_by and any(kind[p.split("+")[0]] == "condition" for p in node.parents)
            for node in nodes
        )
        on_symptoms += any(node.kind == "symptom" for node, _ in joint)
        scoped += any(node.term_of for node in nodes)
    assert with_condition >= len(SEEDS) // 2
    assert scoped >= len(SEEDS) // 3
    assert preventers >= len(SEEDS) // 2
    assert on_symptoms >= len(SEEDS) // 2


def test_scores_match_brute_force_on_the_practices_fixture():
    """A joint term with a condition and two preventers on muscle_fatigue, below overtraining;
    a joint term on cramps (read from the twin network for both scores)."""
    model = bayesleg.load(PRACTICES)
    nodes = nodes_from_spec(model.spec)
    worlds = Worlds(nodes)
    rng = np.random.default_rng(7)
    cases = [{"weakness": True, "cramps": True}, *_cases(rng, nodes, worlds, 8)]
    _assert_scores_match(model, worlds, cases)


def test_scores_match_brute_force_on_the_shipped_model():
    """Soreness, from muscle_fatigue (prevented by three practices) below overtraining
    (joint causes, a preventer), and insomnia from overtraining directly: the network
    enumerated is what these findings descend from, the cases observe only it."""
    model = bayesleg.load()
    nodes = nodes_from_spec(model.spec)
    keep = ancestral(nodes, {"soreness", "insomnia"})
    kept = [node for node in nodes if node.id in keep]
    worlds = Worlds(kept)
    rng = np.random.default_rng(11)
    cases = [{"soreness": True, "insomnia": True}, *_cases(rng, kept, worlds, 5)]
    _assert_scores_match(model, worlds, cases)


def test_the_random_networks_hold_chains_and_certain_links():
    """The brute-force comparison is only as good as the networks it draws."""
    chains = certain = 0
    for seed in SEEDS:
        _, nodes = _network(seed, practices=False)
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


def _structural(x, fired, terms, preventers):
    """Y from its parents ``x`` and its noise: the leak, one per term, one per preventer.

    A preventer ``(axis, state, q, term)`` with ``term >= 0`` blocks that term alone.
    """
    term_noise = fired[1 : 1 + len(terms)]
    block = [
        on and x[axis] == state
        for (axis, state, _, _), on in zip(preventers, fired[1 + len(terms) :], strict=True)
    ]
    produced = fired[0] or any(
        on
        and all(x[axis] for axis in axes)
        and not any(b for b, (*_, term) in zip(block, preventers, strict=True) if term == t)
        for t, ((axes, _), on) in enumerate(zip(terms, term_noise, strict=True))
    )
    blocked = any(b for b, (*_, term) in zip(block, preventers, strict=True) if term < 0)
    return int(produced and not blocked)


@pytest.mark.parametrize(
    "preventers",
    [
        [(2, 0, 0.5, -1), (3, 1, 0.25, -1)],
        [(2, 0, 0.5, -1), (3, 1, 0.25, 1)],
        [(2, 1, 0.75, 0), (3, 0, 0.25, 2)],
    ],
    ids=["whole-node", "one-scoped", "two-scoped"],
)
def test_twin_table_matches_the_noise_of_one_node(preventers):
    """P(Y' | Y, x, x') for a node with joint terms and preventers, by enumerating its noise.

    Parents a (switched off), b (with a copy, which may be on where b is off) and
    factors f and g; terms a, b+f and a+b; f and g prevent Y, or one term of it.
    """
    leak, terms = 0.1, [((0,), 0.5), ((1, 2), 0.75), ((0, 1), 0.9)]
    table = _twin_table(leak, terms, preventers, [True, False, False, False], [-1, 0, -1, -1], 1)
    noise = [leak, *(w for _, w in terms), *(q for _, _, q, _ in preventers)]
    for *factual, b_counterfactual in itertools.product((0, 1), repeat=5):
        counterfactual = [0, b_counterfactual, factual[2], factual[3]]
        joint = np.zeros((2, 2))  # Y', Y
        for fired in itertools.product((False, True), repeat=len(noise)):
            weight = np.prod([p if on else 1 - p for p, on in zip(noise, fired, strict=True)])
            y = _structural(factual, fired, terms, preventers)
            joint[_structural(counterfactual, fired, terms, preventers), y] += weight
        for y in (0, 1):
            if joint[:, y].sum() > 0:
                expected = joint[:, y] / joint[:, y].sum()
                got = table[(slice(None), y, *factual, b_counterfactual)]
                assert got == pytest.approx(expected, abs=1e-12), (factual, b_counterfactual)


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
    assert payload == json.loads(json.dumps(expected)) | {"warnings": []}
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
