"""Exact one-way sensitivity functions and admissible deviations.

References: the model rebuilt with one number moved and diagnosed again
(the engine); brute force over the noise of the structural model
(tests/twin_network.py); brute-force enumeration of the joint
(tests/brute_force.py) for the grid-and-bisection search of where the top
cause changes.
"""

import numpy as np
import pytest
from brute_force import posteriors as brute_posteriors
from spec_edits import with_value
from twin_network import Worlds, model_text, nodes_from_spec, random_network

import bayesleg
from bayesleg import ImpossibleEvidenceError, InvalidArgumentError, UnknownNodeError
from bayesleg.knowledge.evidence import normalise_evidence
from bayesleg.knowledge.noisyor import discrete_network
from bayesleg.research.oneway import admissible_deviations, one_way
from bayesleg.research.sensitivity import parameter_ranges


def functions_of(model, evidence):
    return one_way(model.spec, [normalise_evidence(evidence, [n.id for n in model.nodes])])[0]


SHIPPED_CASE = {
    "tingling": True,
    "numbness": True,
    "cramps": True,
    "weakness": True,
    "long_session": True,
    "fasted": True,
    "high_intensity": False,
}
# One number of every kind, on nodes this case reaches: a factor's prior, a
# condition's leak, a weight, a joint weight, a preventer, an observed
# symptom's leak and weights (tingling and numbness are chained noisy-ORs).
SHIPPED_NUMBERS = [
    "long_session.prior",
    "diabetes.prior",
    "dehydration.leak",
    "electrolyte_imbalance.parents.hot_environment",
    "glycogen_depletion.parents.long_session+fasted",
    "glycogen_depletion.prevented_by.fasted",
    "muscle_fatigue.prevented_by.insufficient_rest",
    "tingling.leak",
    "tingling.parents.sciatica",
    "numbness.parents.peripheral_neuropathy",
    "cramps.parents.dehydration",
    "weakness.parents.muscle_fatigue",
]


@pytest.fixture(scope="module")
def shipped():
    return bayesleg.load()


@pytest.mark.parametrize("name", SHIPPED_NUMBERS)
def test_shipped_functions_match_the_model_rebuilt(shipped, name):
    functions = functions_of(shipped, SHIPPED_CASE)
    for value in (1e-9, 0.37, 1.0 - 1e-9):
        rebuilt = bayesleg.Model(with_value(shipped.spec, name, value)).diagnose(SHIPPED_CASE)
        expected = {cause.id: cause.posterior for cause in rebuilt.ranked}
        got = functions.posterior_at(name, value)
        for i, condition in enumerate(functions.conditions):
            assert got[i] == pytest.approx(expected[condition], abs=1e-9), (name, value)


def test_shipped_functions_are_linear_fractional(shipped):
    functions = functions_of(shipped, SHIPPED_CASE)
    a, b, c, d = np.moveaxis(functions.coefficients(), -1, 0)
    nominal = np.array([r.p for r in functions.parameters])[:, None]
    # Scaled so that the denominator is 1 at the hand-set value, where the
    # function gives the hand-set posterior.
    assert np.allclose(c * nominal + d, 1.0, atol=1e-12)
    assert np.allclose((a * nominal + b) / (c * nominal + d), functions.posterior, atol=1e-12)
    theta = 0.6
    i = functions.index("cramps.parents.dehydration")
    assert np.allclose(
        functions.posterior_at(i, theta), (a[i] * theta + b[i]) / (c[i] * theta + d[i]), atol=1e-12
    )
    # Unobserved symptoms are barren: their numbers move nothing.
    flat = functions.index("soreness.leak")
    assert np.allclose(functions.posterior_at(flat, 0.9), functions.posterior, rtol=0, atol=1e-15)


def _random_model(tmp_path, seed):
    rng = np.random.default_rng(seed)
    nodes = random_network(rng, chain=seed % 2 == 0, practices=seed % 3 != 0, max_noise=14)
    path = tmp_path / f"random{seed}.toml"
    path.write_text(model_text(nodes), encoding="utf-8")
    model = bayesleg.load(path)
    symptoms = [n.id for n in nodes if n.kind == "symptom"]
    factors = [n.id for n in nodes if n.kind == "factor"]
    worlds = Worlds(nodes)
    while True:  # evidence of positive probability
        evidence = {s: bool(rng.random() < 0.7) for s in symptoms[:2]}
        evidence[factors[0]] = bool(rng.random() < 0.5)
        if worlds.probability(evidence) > 0.0:
            return model, evidence


@pytest.mark.parametrize("seed", range(8))
def test_random_functions_match_brute_force(tmp_path, seed):
    model, evidence = _random_model(tmp_path, seed)
    functions = functions_of(model, evidence)
    rng = np.random.default_rng(seed)
    for i, r in enumerate(functions.parameters):
        for value in (1e-9, float(rng.uniform(0.05, 0.95))):
            worlds = Worlds(nodes_from_spec(with_value(model.spec, r.name, value)))
            if worlds.probability(evidence) == 0.0:
                continue
            got = functions.posterior_at(i, value)
            for j, condition in enumerate(functions.conditions):
                assert got[j] == pytest.approx(worlds.posterior(condition, evidence), abs=1e-9)


def _brute_first(spec, name, value, evidence, conditions):
    network = discrete_network(with_value(spec, name, value))
    states = {node: "present" if v else "absent" for node, v in evidence.items()}
    marginals = brute_posteriors(network, states)
    posterior = np.array([marginals[c][1] for c in conditions])
    best = max(posterior)
    return min(c for c, p in zip(conditions, posterior, strict=True) if p == best)


def _brute_bounds(spec, name, p, evidence, conditions, top):
    """Search [0, 1] on a grid from p outwards, then bisect where the top cause changes."""

    def first(value):
        return _brute_first(spec, name, value, evidence, conditions)

    bounds = []
    # Short of 0 and 1 themselves, where the evidence may have probability zero.
    for edge, near in ((0.0, 1e-12), (1.0, 1.0 - 1e-12)):
        if p == edge:
            bounds.append((edge, None))
            continue
        grid = np.linspace(p, near, 41)
        inside, taker, outside = p, None, None
        for value in grid[1:]:
            found = first(value)
            if found != top:
                outside, taker = value, found
                break
            inside = value
        if outside is None:
            bounds.append((edge, None))
            continue
        for _ in range(60):
            middle = (inside + outside) / 2
            if middle in (inside, outside):
                break
            if first(middle) == top:
                inside = middle
            else:
                outside, taker = middle, first(middle)
        bounds.append((inside, taker))
    return bounds


@pytest.mark.parametrize("seed", range(6))
def test_random_admissible_deviations_match_a_brute_force_search(tmp_path, seed):
    model, evidence = _random_model(tmp_path, 100 + seed)
    functions = functions_of(model, evidence)
    deviations = admissible_deviations(functions)
    for deviation in deviations:
        r = deviation.parameter
        (lower, lower_taker), (upper, upper_taker) = _brute_bounds(
            model.spec, r.name, r.p, evidence, functions.conditions, deviation.top
        )
        # Where P(e) vanishes at 0 or 1 the posterior is undefined there; skip that end.
        for bound, taker, exact, exact_taker in (
            (lower, lower_taker, deviation.lower, deviation.lower_taker),
            (upper, upper_taker, deviation.upper, deviation.upper_taker),
        ):
            assert exact == pytest.approx(bound, abs=1e-9), r.name
            if taker is not None:
                assert exact_taker == taker
            else:
                assert exact_taker is None or exact in (0.0, 1.0)
    assert deviations[0].top == functions.conditions[int(np.argmax(functions.posterior))]


def test_some_random_network_has_a_number_that_changes_the_top_cause(tmp_path):
    changed = 0
    for seed in range(6):
        model, evidence = _random_model(tmp_path, 100 + seed)
        functions = functions_of(model, evidence)
        changed += sum(
            d.lower_taker is not None or d.upper_taker is not None
            for d in admissible_deviations(functions)
        )
    assert changed > 0


def test_tiny_admissible_deviation_worked_by_hand():
    """Evidence S: P(C | S) against P(D | S) as D's leak d moves (c_given_s of test_sensitivity).

    P(C, S) = c ((1 - d) 0.75 + d (1 - 0.25 * 0.4)) and P(D, S) = d (c (1 - 0.25 * 0.4) + (1 - c)
    0.6), with c = P(C) = 0.25 * 0.575 + 0.75 * 0.15 = 0.25625; C stays first while
    P(C, S) >= P(D, S): 0.75 c + 0.15 c d >= 0.9 c d + 0.6 d (1 - c) -> d <= 0.75 c / (0.75 c +
    0.6 (1 - c)) = 0.300979...
    """
    model = bayesleg.load("tests/fixtures/tiny.toml")
    functions = functions_of(model, {"s": True})
    deviation = admissible_deviations(functions)[functions.index("d.leak")]
    c = 0.25 * 0.575 + 0.75 * 0.15
    root = 0.75 * c / (0.75 * c + 0.6 * (1 - c))
    assert (deviation.top, deviation.lower, deviation.lower_taker) == ("c", 0.0, None)
    assert deviation.upper == pytest.approx(root, abs=1e-12)
    assert deviation.upper_taker == "d"
    # d.leak's plausible range, 0.15 to 0.5, reaches beyond it.
    assert deviation.flips_high and not deviation.flips_low and deviation.flips


def test_errors(shipped):
    functions = functions_of(shipped, {"cramps": True})
    with pytest.raises(UnknownNodeError, match=r"unknown number 'cramps\.wrong'"):
        functions.posterior_at("cramps.wrong", 0.5)
    with pytest.raises(InvalidArgumentError, match=r"values must be in \[0, 1\], got 1.5"):
        functions.posterior_at("cramps.leak", 1.5)
    tiny = bayesleg.load("tests/fixtures/tiny.toml")
    # S has no leak: with C and D both absent it cannot occur.
    with pytest.raises(ImpossibleEvidenceError, match="probability zero"):
        functions_of(tiny, {"c": False, "d": False, "s": True})
    functions = functions_of(tiny, {"c": False, "s": True})
    # With C absent, S needs D: at a leak of 0 for D the evidence is impossible.
    with pytest.raises(ImpossibleEvidenceError, match=r"with d\.leak at 0"):
        functions.posterior_at("d.leak", 0.0)


def test_every_number_is_covered(shipped):
    functions = functions_of(shipped, SHIPPED_CASE)
    assert [r.name for r in functions.parameters] == [
        r.name for r in parameter_ranges(shipped.spec)
    ]
    assert functions.evidence_at.shape == (len(functions.parameters), 2)


def test_shipped_admissible_deviation_matches_bisection_on_the_rebuilt_model(shipped):
    """Low B-vitamin diet and tingling: vitamin B deficiency is first while its diet weight
    stays above a crossing inside the weight's plausible range (0.075 to 0.25)."""
    case = {"low_b_vitamin_diet": True, "tingling": True}
    name = "vitamin_b_deficiency.parents.low_b_vitamin_diet"
    functions = functions_of(shipped, case)
    deviation = admissible_deviations(functions)[functions.index(name)]
    assert deviation.top == "vitamin_b_deficiency" and deviation.flips_low

    def first(value):
        return bayesleg.Model(with_value(shipped.spec, name, value)).diagnose(case).top.id

    inside, outside = deviation.parameter.p, deviation.parameter.low
    assert first(inside) == deviation.top and first(outside) == deviation.lower_taker
    while inside - outside > 1e-11:
        middle = (inside + outside) / 2
        if first(middle) == deviation.top:
            inside = middle
        else:
            outside = middle
    assert deviation.lower == pytest.approx(inside, abs=1e-9)
