"""Explanations: Shapley shares of log odds, against hand calculation and brute force.

On the tiny model (F -> C -> S <- D, see test_model.py) with F and S
observed, the cause C has, by hand:

    P(C)        = 0.25 * 0.575 + 0.75 * 0.15                    = 0.25625
    P(C | F)    = 0.575
    P(S | C)    = 1 - 0.25 * (0.75 + 0.25 * 0.4)                 = 0.7875
    P(S | no C) = 0.25 * 0.6                                     = 0.15
    P(C | S)    = 0.25625 * 0.7875 / (0.25625 * 0.7875 + 0.74375 * 0.15)
    P(C | F, S) = 0.575 * 0.7875 / (0.575 * 0.7875 + 0.425 * 0.15)

and with two items the Shapley value of each is the mean of its two steps.
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
from bayesleg.errors import ImpossibleEvidenceError, InvalidArgumentError, UnknownNodeError

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


def logit(p):
    return math.log(p / (1 - p))


def test_shapley_shares_worked_by_hand(tiny):
    v_none = logit(0.25625)
    v_f = logit(0.575)
    v_s = logit(0.25625 * 0.7875 / (0.25625 * 0.7875 + 0.74375 * 0.15))
    v_fs = logit(0.575 * 0.7875 / (0.575 * 0.7875 + 0.425 * 0.15))
    explanation = tiny.explain({"f": True, "s": True}, "c")
    shares = {c.id: c.log_likelihood_ratio for c in explanation.contributions}
    assert shares["f"] == pytest.approx(((v_f - v_none) + (v_fs - v_s)) / 2, abs=1e-12)
    assert shares["s"] == pytest.approx(((v_s - v_none) + (v_fs - v_f)) / 2, abs=1e-12)
    assert explanation.baseline == pytest.approx(0.25625, abs=1e-12)
    assert explanation.log_posterior_odds == pytest.approx(v_fs, abs=1e-12)
    assert explanation.method == "exact"
    assert {c.id: c.state for c in explanation.contributions} == {"f": "present", "s": "present"}


def test_contributions_sum_to_the_change_in_log_odds(tiny):
    explanation = tiny.explain({"f": True, "s": True, "t": False}, "d")
    total = sum(c.log_likelihood_ratio for c in explanation.contributions)
    assert total == pytest.approx(
        explanation.log_posterior_odds - explanation.log_baseline_odds, abs=1e-12
    )
    # T is d-separated from D: its share is zero.
    assert {c.id: c.log_likelihood_ratio for c in explanation.contributions}["t"] == pytest.approx(
        0.0, abs=1e-12
    )


def test_views_split_by_sign_and_sort_by_size(tiny):
    explanation = tiny.explain({"f": True, "s": True}, "d")
    sizes = [abs(c.log_likelihood_ratio) for c in explanation.contributions]
    assert sizes == sorted(sizes, reverse=True)
    assert all(c.log_likelihood_ratio > 0 for c in explanation.supporting)
    assert all(c.log_likelihood_ratio < 0 for c in explanation.against)
    # S supports D; F argues against it (F makes C explain S away).
    assert [c.id for c in explanation.supporting] == ["s"]
    assert [c.id for c in explanation.against] == ["f"]


def _random_model(tmp_path, seed):
    rng = np.random.default_rng(seed)
    nodes = random_network(rng, chain=seed % 2 == 1)
    path = tmp_path / "random.toml"
    path.write_text(model_text(nodes), encoding="utf-8")
    worlds = Worlds(nodes)
    while True:
        evidence = {node.id: bool(rng.random() < 0.5) for node in nodes if rng.random() < 0.5}
        if worlds.probability(evidence) > 0 and evidence:
            return bayesleg.load(path), worlds, evidence, rng


def _brute_shapley(worlds, evidence, cause):
    items = list(evidence)
    m = len(items)

    def value(subset):
        return _log_odds(worlds, cause, {item: evidence[item] for item in subset})

    shares = {}
    for item in items:
        others = [other for other in items if other != item]
        total = 0.0
        for size in range(m):
            for subset in itertools.combinations(others, size):
                weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
                total += weight * _step(value(subset), value((*subset, item)))
        shares[item] = total
    return shares


def _log_odds(worlds, cause, evidence):
    """log P(cause, evidence) - log P(no cause, evidence), summed over the enumerated worlds.

    inf when the evidence makes the cause certain, -inf when it rules it out.
    """
    keep = worlds.mask(evidence)
    present = float(worlds.weight[keep & worlds.factual[cause]].sum())
    absent = float(worlds.weight[keep & ~worlds.factual[cause]].sum())
    log = lambda mass: math.log(mass) if mass > 0 else -math.inf  # noqa: E731
    return log(present) - log(absent)


def _step(before, after):
    """after - before, and 0 from an infinity to the same one (certain stays certain)."""
    return 0.0 if before == after else after - before


@pytest.mark.parametrize("seed", range(12))
def test_exact_shares_match_brute_force(tmp_path, seed):
    model, worlds, evidence, rng = _random_model(tmp_path, seed)
    cause = str(rng.choice(model.conditions))
    explanation = model.explain(evidence, cause)
    expected = _brute_shapley(worlds, evidence, cause)
    assert {c.id: c.log_likelihood_ratio for c in explanation.contributions} == pytest.approx(
        expected, abs=1e-8
    )
    posterior = worlds.posterior(cause, evidence)
    baseline = worlds.posterior(cause, {})
    assert explanation.posterior == pytest.approx(posterior, abs=1e-12)
    assert explanation.baseline == pytest.approx(baseline, abs=1e-12)
    change = _step(_log_odds(worlds, cause, {}), _log_odds(worlds, cause, evidence))
    total = sum(c.log_likelihood_ratio for c in explanation.contributions)
    assert total == pytest.approx(change, abs=1e-8)
    assert explanation.log_odds_change == pytest.approx(change, abs=1e-8)


@pytest.mark.parametrize("seed", range(6))
def test_would_lower_lists_the_strongest_counter_findings(tmp_path, seed):
    model, worlds, evidence, rng = _random_model(tmp_path, seed)
    cause = str(rng.choice(model.conditions))
    current = worlds.posterior(cause, evidence)
    options = []
    for node in model.nodes:
        if node.kind == "condition" or node.id in evidence:
            continue
        for value in (True, False):
            extended = {**evidence, node.id: value}
            if worlds.probability(extended) > 0:
                posterior = worlds.posterior(cause, extended)
                options.append((posterior, node.id, "present" if value else "absent"))
    best = {}
    for posterior, node_id, state in sorted(options):
        best.setdefault(node_id, (posterior, state))
    expected = sorted(
        (posterior, node_id, state)
        for node_id, (posterior, state) in best.items()
        if posterior < current - 1e-9
    )[:3]
    lowering = model.explain(evidence, cause, lowering=3).would_lower
    assert [(f.id, f.state) for f in lowering] == [(n, s) for _, n, s in expected]
    assert [f.posterior for f in lowering] == pytest.approx([p for p, _, _ in expected], abs=1e-12)


def test_sampled_orders_keep_the_sum_and_approach_the_exact_shares(tmp_path):
    model, _, _, _ = _random_model(tmp_path, 3)
    evidence = {node.id: True for node in model.nodes if node.kind != "condition"}
    cause = model.conditions[0]
    exact = model.explain(evidence, cause)
    sampled = model.explain(evidence, cause, max_exact=2, permutations=400, seed=7)
    assert sampled.method == "sampled"
    total = sum(c.log_likelihood_ratio for c in sampled.contributions)
    assert total == pytest.approx(sampled.log_posterior_odds - sampled.log_baseline_odds, abs=1e-9)
    assert sampled.log_posterior_odds == pytest.approx(exact.log_posterior_odds, abs=1e-12)
    exact_shares = {c.id: c.log_likelihood_ratio for c in exact.contributions}
    spread = max(abs(value) for value in exact_shares.values())
    for contribution in sampled.contributions:
        assert contribution.log_likelihood_ratio == pytest.approx(
            exact_shares[contribution.id], abs=0.1 * spread + 1e-9
        )
    again = model.explain(evidence, cause, max_exact=2, permutations=400, seed=7)
    assert again == sampled


def test_no_evidence_explains_nothing(tiny):
    explanation = tiny.explain({}, "c")
    assert explanation.contributions == ()
    assert explanation.posterior == pytest.approx(0.25625, abs=1e-12)
    assert explanation.log_posterior_odds == explanation.log_baseline_odds


def test_to_dict_is_json(tiny):
    import json

    payload = json.loads(json.dumps(tiny.explain({"f": True, "s": True}, "c").to_dict()))
    assert payload["cause"] == "c"
    assert [item["id"] for item in payload["contributions"]] == ["s", "f"]
    assert set(payload["contributions"][0]) == {"id", "label", "state", "log_likelihood_ratio"}


def test_unknown_cause_suggests_conditions(tiny):
    with pytest.raises(UnknownNodeError, match=r"unknown condition 'cc'; did you mean 'c'"):
        tiny.explain({"s": True}, "cc")
    with pytest.raises(UnknownNodeError, match="unknown condition 's'"):
        tiny.explain({"f": True}, "s")


def test_bad_options_and_impossible_evidence_are_refused(tiny):
    with pytest.raises(InvalidArgumentError, match="max_exact must be a whole number from 1 to 20"):
        tiny.explain({"s": True}, "c", max_exact=0)
    # Bounded before any work: 2**64 subsets, or 10**9 orders, would never end.
    with pytest.raises(InvalidArgumentError, match=r"max_exact .* from 1 to 20, got 64"):
        tiny.explain({"s": True}, "c", max_exact=64)
    with pytest.raises(InvalidArgumentError, match=r"permutations .* 100000, got 1000000000"):
        tiny.explain({"s": True}, "c", permutations=10**9)
    with pytest.raises(InvalidArgumentError, match="seed must be a whole number >= 0, got -1"):
        tiny.explain({"s": True}, "c", seed=-1)
    # S has no leak: with C and D both absent it cannot be present.
    with pytest.raises(ImpossibleEvidenceError, match="probability zero"):
        tiny.explain({"s": True, "c": False, "d": False}, "c")


def test_cli_explain_json_matches_the_api(tiny):
    import json

    result = run_cli("explain", "c", "f", "s=yes", "--model", str(TINY), "--json", cwd=TINY.parent)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    expected = tiny.explain({"f": True, "s": True}, "c").to_dict()
    assert payload == {"model": {"id": "tiny", "version": tiny.version}, **expected}


def test_cli_explain_table_and_unknown_cause():
    result = run_cli("explain", "d", "f", "s", "--model", str(TINY), cwd=TINY.parent)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Condition D (d)"
    supporting = lines.index("Supporting:")
    assert lines[supporting + 1].split()[1] == "s=present"
    assert lines[lines.index("Against:") + 1].split()[1] == "f=present"
    result = run_cli("explain", "cc", "s", "--model", str(TINY), cwd=TINY.parent)
    assert result.returncode == 2
    assert result.stderr.strip() == "bayesleg: error: unknown condition 'cc'; did you mean 'c'?"


_SHIPPED = bayesleg.load()
_FINDINGS = [n.id for n in _SHIPPED.nodes if n.kind != "condition"]


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(st.sampled_from(_FINDINGS), st.booleans(), max_size=8),
    st.sampled_from(_SHIPPED.conditions),
)
def test_shares_sum_to_the_change_in_log_odds_on_the_shipped_model(evidence, cause):
    model = _SHIPPED
    explanation = model.explain(evidence, cause)
    total = sum(c.log_likelihood_ratio for c in explanation.contributions)
    assert total == pytest.approx(
        explanation.log_posterior_odds - explanation.log_baseline_odds, abs=1e-9
    )
    posterior = {c.id: c.posterior for c in model.diagnose(evidence).ranked}[cause]
    assert explanation.posterior == pytest.approx(posterior, abs=1e-12)
    assert {c.id for c in explanation.contributions} == set(evidence)
    assert all(f.posterior < explanation.posterior for f in explanation.would_lower)


# -- infinite log odds: a cause made certain or ruled out ---------------------------


def _strict_json(text):
    import json

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_cause_given_as_evidence_has_an_infinite_share_and_the_rest_stay_finite(tiny):
    # v({}) = logit(0.25625), v(f) = logit(0.575), v(c) = v(f, c) = +inf.  f's share is
    # half its step from nothing (the order f, c) plus 0 (c first: certain stays certain).
    for options in ({}, {"max_exact": 1, "permutations": 2}):  # exact, and both orders sampled
        explanation = tiny.explain({"f": True, "c": True}, "c", **options)
        shares = {c.id: c.log_likelihood_ratio for c in explanation.contributions}
        assert shares["c"] == math.inf
        assert shares["f"] == pytest.approx((logit(0.575) - logit(0.25625)) / 2, abs=1e-12)
        assert explanation.posterior == 1.0 and explanation.log_posterior_odds == math.inf
        assert explanation.log_baseline_odds == pytest.approx(logit(0.25625), abs=1e-12)
        assert explanation.log_odds_change == math.inf
        assert [c.id for c in explanation.supporting] == ["c", "f"]


def test_an_item_that_rules_the_cause_out_has_a_minus_infinite_share(tiny):
    explanation = tiny.explain({"c": False, "f": True}, "c")
    shares = {c.id: c.log_likelihood_ratio for c in explanation.contributions}
    assert shares["c"] == -math.inf
    assert shares["f"] == pytest.approx((logit(0.575) - logit(0.25625)) / 2, abs=1e-12)
    assert explanation.log_posterior_odds == -math.inf
    assert [c.id for c in explanation.against] == ["c"]


def test_findings_that_together_make_a_cause_certain_share_the_infinity(tiny):
    # S has no leak: with C absent only D explains it, so P(D | S, no C) = 1, while
    # neither S alone nor "no C" alone makes D certain.
    explanation = tiny.explain({"s": True, "c": False}, "d")
    assert {c.id: c.log_likelihood_ratio for c in explanation.contributions} == {
        "c": math.inf,
        "s": math.inf,
    }
    assert explanation.log_baseline_odds == pytest.approx(logit(0.25), abs=1e-12)


def test_infinities_are_null_in_json_with_a_note_saying_why(tiny):
    import json

    explanation = tiny.explain({"f": True, "c": True}, "c")
    payload = _strict_json(json.dumps(explanation.to_dict(), allow_nan=False))
    assert payload["log_posterior_odds"] is None
    assert payload["log_baseline_odds"] == pytest.approx(logit(0.25625), abs=1e-12)
    shares = {item["id"]: item["log_likelihood_ratio"] for item in payload["contributions"]}
    assert shares["c"] is None and shares["f"] == pytest.approx(0.6839, abs=1e-4)
    assert payload["notes"] == [
        "log_posterior_odds is +infinite: given the evidence 'c' is certain (probability exactly 1)",
        "the share of 'c' (present) is +infinite: alone or with some of the other items it makes "
        "'c' certain, the evidence being impossible without it",
    ]
    finite = tiny.explain({"f": True, "s": True}, "c").to_dict()
    assert finite["notes"] == []


def test_cli_shows_infinite_log_odds_as_inf_and_json_as_null():
    result = run_cli("explain", "c", "c", "f", "--model", str(TINY), cwd=TINY.parent)
    assert result.returncode == 0, result.stderr
    assert "log odds -1.07 -> +inf (change +inf = the sum of the shares below)" in result.stdout
    assert "    +inf  c=present  (Condition C)" in result.stdout
    assert "   +0.68  f=present  (Factor F)" in result.stdout
    assert "Note: log_posterior_odds is +infinite" in result.stdout
    result = run_cli("explain", "c", "c", "f", "--json", "--model", str(TINY), cwd=TINY.parent)
    assert result.returncode == 0, result.stderr
    payload = _strict_json(result.stdout)
    assert payload["log_posterior_odds"] is None and len(payload["notes"]) == 2
