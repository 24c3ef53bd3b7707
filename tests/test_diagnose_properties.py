"""Properties of diagnose on random noisy-OR model files, against brute force.

Each example writes a random model file (so loading is exercised too), then
checks the differential against enumeration of the full joint.
"""

import math

import networkx as nx
import pytest
from brute_force import posteriors as brute_posteriors
from hypothesis import given
from hypothesis import strategies as st

import bayesleg

SOURCE = "'001_a6af47fc61bf8c8f.txt: \"glycogen stores can become depleted\"'"
probabilities = st.floats(min_value=0.01, max_value=0.99, allow_nan=False).map(
    lambda p: round(p, 4)
)


def _number(p: float) -> str:
    return f'{{ p = {p}, verbal = "fifty-fifty", note = "random", source = {SOURCE} }}'


@st.composite
def models_and_evidence(draw):
    """A random model file's text, its node kinds, and evidence on some nodes."""
    n_factors = draw(st.integers(1, 3))
    n_conditions = draw(st.integers(1, 3))
    n_symptoms = draw(st.integers(1, 3))
    factors = [f"f{i}" for i in range(n_factors)]
    conditions = [f"c{i}" for i in range(n_conditions)]
    symptoms = [f"s{i}" for i in range(n_symptoms)]
    lines = ['[model]\nid = "random"\ntitle = "Random"\nparameterisation = "diez"\n']
    for factor in factors:
        lines.append(
            f'[[factor]]\nid = "{factor}"\nlabel = "{factor}"\nprior = {_number(draw(probabilities))}\n'
        )
    for index, condition in enumerate(conditions):
        candidates = factors + conditions[:index]
        parents = draw(st.lists(st.sampled_from(candidates), unique=True, max_size=3))
        care = draw(st.sampled_from(["self_care", "see_doctor", "urgent"]))
        lines.append(
            f'[[condition]]\nid = "{condition}"\nlabel = "{condition}"\ncare = "{care}"\n'
            f'advice = {{ text = "rest", source = {SOURCE} }}\nleak = {_number(draw(probabilities))}\n'
            + "".join(f"parents.{p} = {_number(draw(probabilities))}\n" for p in parents)
        )
    for symptom in symptoms:
        parents = draw(st.lists(st.sampled_from(conditions + factors), unique=True, max_size=3))
        lines.append(
            f'[[symptom]]\nid = "{symptom}"\nlabel = "{symptom}"\nleak = {_number(draw(probabilities))}\n'
            + "".join(f"parents.{p} = {_number(draw(probabilities))}\n" for p in parents)
        )
    # A symptom with no parents: d-separated from every condition whatever is observed.
    lines.append(
        f'[[symptom]]\nid = "lone"\nlabel = "lone"\nleak = {_number(draw(probabilities))}\n'
    )
    lines.append(f"[triage]\ncondition_threshold = {_number(0.2)}\n")
    nodes = factors + conditions + symptoms
    observed = draw(st.lists(st.sampled_from(nodes), unique=True, max_size=len(nodes)))
    evidence = {node: draw(st.booleans()) for node in observed}
    return "\n".join(lines), evidence


def _load(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("random") / "model.toml"
    path.write_text(text, encoding="utf-8")
    return bayesleg.load(path)


def _states(evidence):
    return {node: "present" if value else "absent" for node, value in evidence.items()}


@given(models_and_evidence())
def test_posterior_and_prior_match_enumeration(tmp_path_factory, drawn):
    text, evidence = drawn
    model = _load(tmp_path_factory, text)
    exact = brute_posteriors(model.discrete_network, _states(evidence))
    factor_evidence = {n: s for n, s in _states(evidence).items() if n in model.factors}
    exact_prior = brute_posteriors(model.discrete_network, factor_evidence)
    diagnosis = model.diagnose(evidence)
    assert sorted(cause.id for cause in diagnosis.ranked) == sorted(model.conditions)
    for cause in diagnosis.ranked:
        assert 0.0 <= cause.prior <= 1.0 and 0.0 <= cause.posterior <= 1.0
        assert cause.posterior == pytest.approx(exact[cause.id][1], abs=1e-9)
        assert cause.prior == pytest.approx(exact_prior[cause.id][1], abs=1e-9)
        assert not math.isnan(cause.likelihood_ratio)
        if 0 < cause.prior < 1 and cause.posterior < 1:
            prior_odds = cause.prior / (1 - cause.prior)
            assert cause.posterior / (1 - cause.posterior) == pytest.approx(
                prior_odds * cause.likelihood_ratio, rel=1e-9, abs=1e-12
            )
    for first, second in zip(diagnosis.ranked, diagnosis.ranked[1:], strict=False):
        assert first.posterior >= second.posterior - 1e-12
        if abs(first.posterior - second.posterior) <= 1e-12:  # a tie: ordered by id
            assert first.id < second.id


@given(models_and_evidence())
def test_evidence_order_does_not_matter(tmp_path_factory, drawn):
    text, evidence = drawn
    model = _load(tmp_path_factory, text)
    forward = model.diagnose(evidence).to_dict()
    backward = model.diagnose(dict(reversed(list(evidence.items())))).to_dict()
    assert forward == backward


@given(models_and_evidence(), st.data())
def test_d_separated_evidence_changes_nothing(tmp_path_factory, drawn, data):
    text, evidence = drawn
    model = _load(tmp_path_factory, text)
    network = model.discrete_network
    graph = nx.DiGraph(
        [(parent, child) for child in network.variables for parent in network.parents[child]]
    )
    graph.add_nodes_from(network.variables)
    factor_evidence = {n for n in evidence if n in model.factors}
    separated = [
        node.id
        for node in model.nodes
        if node.id not in evidence
        and node.kind != "condition"
        and all(
            (
                condition in evidence
                or nx.is_d_separator(graph, {node.id}, {condition}, set(evidence))
            )
            and nx.is_d_separator(graph, {node.id}, {condition}, factor_evidence)
            for condition in model.conditions
        )
    ]
    assert "lone" in separated
    extra = data.draw(st.sampled_from(separated))
    before = model.diagnose(evidence)
    after = model.diagnose({**evidence, extra: data.draw(st.booleans())})
    after_by_id = {cause.id: cause for cause in after.ranked}
    for cause in before.ranked:
        assert cause.posterior == pytest.approx(after_by_id[cause.id].posterior, abs=1e-12)
        assert cause.prior == pytest.approx(after_by_id[cause.id].prior, abs=1e-12)
