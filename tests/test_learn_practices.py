"""Learning joint causes and preventive practices: EM on terms ``a+b`` and ``prevented_by``.

References are independent of bayesleg's engine and of its noisy-OR tables:
the structure of ``fixtures/practices_learn.toml`` is restated here (and
checked against the file); ``noisy_or_reference`` enumerates its full joint
from the formula ``P(Y present | x) = (1 - (1 - leak) * prod_t (1 - w_t)) *
prod_j (1 - q_j)`` and draws cases by ancestral sampling; the MAP estimate
is found by scipy's L-BFGS-B on that enumeration; the recovery tolerance
comes from the Fisher information computed on it; and the E-step's closed
forms (the docstring of :mod:`bayesleg.research.learn`) are worked here for
one family.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from brute_force import joint as brute_joint
from cli_runner import run_cli
from noisy_or_reference import Network, hide

import bayesleg
from bayesleg.knowledge.modelwriter import write_model_file
from bayesleg.research.learn import fit

FIXTURE = Path(__file__).parent / "fixtures" / "practices_learn.toml"
NODES = ("f1", "f2", "g", "c1", "c2", "s1", "s2")
# Each node's terms (member ids) and preventers (factor, state that blocks: 1 present).
TERMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "c1": (("f1",), ("f1", "f2")),
    "c2": (("f2",),),
    "s1": (("c1",), ("c2",)),
    "s2": (("c2",), ("c1", "c2")),
}
PREVENTERS: dict[str, tuple[tuple[str, int], ...]] = {"c1": (("g", 1),), "c2": (("f1", 0),)}
REFERENCE = Network(NODES, TERMS, PREVENTERS)
KEYS = REFERENCE.keys
# Where the fits start: every number moved 0.15 off the fixture's, towards 0.5
# (and below it for 0.5 itself).
SHIFT = 0.15
# Missing completely at random, per node: the conditions most often.
RATES = {**dict.fromkeys(NODES, 0.2), "c1": 0.4, "c2": 0.4}


@pytest.fixture(scope="module")
def truth() -> bayesleg.Model:
    return bayesleg.load(FIXTURE)


@pytest.fixture(scope="module")
def true_values(truth) -> dict[tuple[str, str], float]:
    return {(node.id, field): p.p for node in truth.spec.nodes for field, p in node.parameters()}


@pytest.fixture(scope="module")
def start(truth, true_values, tmp_path_factory) -> bayesleg.Model:
    """The fixture with every number perturbed, written to a file and read back."""
    moved = {key: p + SHIFT if p < 0.5 else p - SHIFT for key, p in true_values.items()}

    def number(node_id: str, field: str, parameter):
        return replace(parameter, p=moved[(node_id, field)], note="perturbed for the test")

    nodes = []
    for node in truth.spec.nodes:
        new = {field: number(node.id, field, p) for field, p in node.parameters()}
        nodes.append(
            replace(
                node,
                prior=new.get("prior"),
                leak=new.get("leak"),
                parents=tuple((key, new[f"parents.{key}"]) for key, _ in node.parents),
                inhibitors=tuple(
                    replace(i, parameter=new[f"prevented_by.{i.factor}"]) for i in node.inhibitors
                ),
            )
        )
    path = tmp_path_factory.mktemp("practices") / "start.toml"
    write_model_file(replace(truth.spec, nodes=tuple(nodes)), path)
    return bayesleg.load(path)


def _numbers(model: bayesleg.Model) -> np.ndarray:
    """The model's numbers in KEYS order."""
    return np.array([dict(model.node(node).parameters())[field].p for node, field in KEYS])


# -- the references agree with the model file --------------------------------------


def test_the_structure_restated_here_is_the_fixtures(truth):
    spec = truth.spec
    assert tuple(node.id for node in spec.nodes) == NODES
    assert tuple((node.id, field) for node in spec.nodes for field, _ in node.parameters()) == KEYS
    for node in spec.nodes:
        assert tuple(members for members, _ in node.terms) == TERMS.get(node.id, ())
        blocking = tuple((i.factor, ("absent", "present").index(i.when)) for i in node.inhibitors)
        assert blocking == PREVENTERS.get(node.id, ())


def test_the_joint_enumerated_here_is_the_models(truth, true_values):
    network = truth.discrete_network
    assert network.variables == NODES
    np.testing.assert_allclose(
        brute_joint(network).reshape(-1), REFERENCE.joint(true_values), atol=1e-15
    )


# -- the E-step, worked by hand -----------------------------------------------------


def test_one_iteration_gives_the_closed_form_expected_counts(truth, true_values):
    """One EM step from the fixture's numbers, c1's family observed (f2 once not).

    With ``a = P(A | x)`` and ``Q = prod (1 - q_j)`` over the preventers in
    force: given c1 present, ``E[A_t] = w_t / a`` and ``E[I] = 0``; given c1
    absent, ``E[A_t] = w_t (1 - Q) / (1 - a Q)`` and ``E[I] = q / (1 - a Q)``.
    """
    v = true_values
    leak, w1, w12, q = (
        v[("c1", f)] for f in ("leak", "parents.f1", "parents.f1+f2", "prevented_by.g")
    )
    # (f1, f2, g, c1, count); f2 None: missing.
    cases = [
        (1, 1, 1, 0, 7),
        (1, 1, 1, 1, 3),
        (1, 1, 0, 1, 5),
        (1, 0, 1, 0, 6),
        (1, 0, 0, 1, 2),
        (0, 0, 1, 0, 4),
        (0, 1, 0, 1, 1),
        (0, 0, 0, 0, 9),
        (1, None, 1, 0, 8),
        (1, None, 0, 1, 3),
    ]
    rows = [dict(zip(("f1", "f2", "g", "c1"), case[:4], strict=True)) for case in cases]
    data = pd.DataFrame(
        [row for row, case in zip(rows, cases, strict=True) for _ in range(case[4])],
        dtype=object,
    )

    sums = dict.fromkeys(("leak", "f1", "f1+f2", "g"), 0.0)
    trials = dict.fromkeys(("f1", "f1+f2", "g"), 0.0)
    for f1, f2, g, c1, count in cases:
        # The family's posterior over f2 when f2 is missing: prior times c1's likelihood.
        weights = {}
        for state in (0, 1) if f2 is None else (f2,):
            a = 1 - (1 - leak) * (1 - w1) ** f1 * (1 - w12) ** (f1 * state)
            big_q = (1 - q) ** g
            likelihood = a * big_q if c1 else 1 - a * big_q
            prior = v[("f2", "prior")] if state else 1 - v[("f2", "prior")]
            weights[state] = (prior if f2 is None else 1.0) * likelihood, a, big_q
        total = sum(w for w, _, _ in weights.values())
        for state, (weight, a, big_q) in weights.items():
            share = count * weight / total
            ratio = 1 / a if c1 else (1 - big_q) / (1 - a * big_q)
            sums["leak"] += share * leak * ratio
            sums["f1"] += share * f1 * w1 * ratio
            sums["f1+f2"] += share * f1 * state * w12 * ratio
            sums["g"] += share * (0 if c1 else g * q / (1 - a * big_q))
            trials["f1+f2"] += share * f1 * state
        trials["f1"] += count * f1
        trials["g"] += count * g

    result = fit(truth, data, strength=0, max_iterations=1)
    assert result.iterations == 1
    total = sum(case[4] for case in cases)
    expected = {
        "leak": sums["leak"] / total,
        "parents.f1": sums["f1"] / trials["f1"],
        "parents.f1+f2": sums["f1+f2"] / trials["f1+f2"],
        "prevented_by.g": sums["g"] / trials["g"],
    }
    for field, value in expected.items():
        assert result.estimates[("c1", field)] == pytest.approx(value, abs=1e-12), field
    # c1's children and c2 are unobserved: their numbers stay where they were.
    for key in KEYS:
        if key[0] in ("c2", "s1", "s2"):
            assert result.estimates[key] == pytest.approx(v[key], abs=1e-12), key


def test_a_preventer_on_a_leak_alone_follows_the_counting_formula(truth):
    # c2 with no term: P(c2 | f1 present) = leak, P(c2 | f1 absent) = leak * (1 - q).
    # Worked by hand: 40 of 100 with f1 present, 10 of 50 with f1 absent, so the
    # maximum-likelihood leak is 0.4 and q = 1 - 0.2 / 0.4 = 0.5.
    nodes = tuple(replace(n, parents=()) if n.id == "c2" else n for n in truth.spec.nodes)
    model = bayesleg.Model(replace(truth.spec, nodes=nodes))
    data = pd.DataFrame(
        {
            "f1": [True] * 100 + [False] * 50,
            "c2": [True] * 40 + [False] * 60 + [True] * 10 + [False] * 40,
        }
    )
    result = fit(model, data, strength=0, tolerance=1e-12, max_iterations=10_000)
    assert result.converged
    assert result.estimates[("c2", "leak")] == pytest.approx(0.4, abs=1e-8)
    assert result.estimates[("c2", "prevented_by.f1")] == pytest.approx(0.5, abs=1e-8)


# -- recovery and the MAP estimate ---------------------------------------------------


@pytest.mark.parametrize("rates", [{}, RATES], ids=["complete", "missing"])
def test_recovers_joint_terms_and_preventers_from_30000_cases(start, true_values, rates):
    """From a perturbed start, maximum likelihood lands within 4.5 standard errors.

    The standard errors come from the Fisher information of the observed-data
    likelihood (cells missing at random at the rates given), enumerated exactly.
    """
    n = 30_000
    rng = np.random.default_rng(11)
    data = hide(REFERENCE.sample(true_values, n, rng), rates, rng)
    result = fit(start, data, strength=0)
    assert result.converged
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(result.log_posterior))

    truth = np.array([true_values[k] for k in KEYS])
    tolerance = 4.5 * REFERENCE.standard_errors(true_values, n, rates)
    # A test that can fail: a fit that stayed at the start would be off by SHIFT.
    assert np.all(tolerance < SHIFT), dict(zip(KEYS, tolerance.round(3), strict=True))
    estimate = np.array([result.estimates[k] for k in KEYS])
    assert np.all(np.abs(estimate - truth) <= tolerance), dict(
        zip(KEYS, np.round((estimate - truth) / tolerance, 2), strict=True)
    )
    started = _numbers(start)
    assert np.abs(estimate - truth).sum() < 0.25 * np.abs(started - truth).sum()


def test_em_reaches_the_map_estimate_found_by_a_generic_optimiser(start, true_values):
    rng = np.random.default_rng(12)
    data = hide(REFERENCE.sample(true_values, 3000, rng), RATES, rng)
    strength = 5.0
    result = fit(start, data, strength=strength, tolerance=1e-10, max_iterations=10_000)
    assert result.converged
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(result.log_posterior))

    prior = _numbers(start)
    optimum, best = REFERENCE.map_estimate(data, prior, strength)
    em = np.array([result.estimates[k] for k in KEYS])
    np.testing.assert_allclose(em, optimum, atol=1e-5)
    assert REFERENCE.log_posterior(em, data, prior, strength) >= best - 1e-6


def test_em_reaches_the_map_estimate_with_a_preventer_of_one_term(start, tmp_path):
    """c2's preventer (f1 absent) made a preventer of its f2 term only, not of its leak."""

    def scoped(spec):
        nodes = tuple(
            replace(n, inhibitors=tuple(replace(i, term="f2") for i in n.inhibitors))
            if n.id == "c2"
            else n
            for n in spec.nodes
        )
        return replace(spec, nodes=nodes)

    path = tmp_path / "scoped.toml"
    write_model_file(scoped(start.spec), path)
    model = bayesleg.load(path)
    assert model.node("c2").inhibitors[0].term == "f2"
    reference = Network(NODES, TERMS, {**PREVENTERS, "c2": (("f1", 0, ("f2",)),)})
    # The reference's formula and the model's tables give the same joint.
    own = dict(zip(KEYS, _numbers(model), strict=True))
    np.testing.assert_allclose(
        brute_joint(model.discrete_network).reshape(-1), reference.joint(own), atol=1e-15
    )
    values = dict(zip(KEYS, _numbers(bayesleg.load(FIXTURE)), strict=True))
    rng = np.random.default_rng(13)
    data = hide(reference.sample(values, 3000, rng), RATES, rng)
    strength = 5.0
    result = fit(model, data, strength=strength, tolerance=1e-10, max_iterations=10_000)
    assert result.converged
    prior = _numbers(model)
    optimum, best = reference.map_estimate(data, prior, strength)
    em = np.array([result.estimates[k] for k in KEYS])
    np.testing.assert_allclose(em, optimum, atol=1e-5)
    assert reference.log_posterior(em, data, prior, strength) >= best - 1e-6


def test_a_preventer_of_one_term_leaves_the_leak_alone(tmp_path):
    """The table of c2 with its preventer scoped to f2, against the formula by hand."""
    truth = bayesleg.load(FIXTURE)
    nodes = tuple(
        replace(n, inhibitors=tuple(replace(i, term="f2") for i in n.inhibitors))
        if n.id == "c2"
        else n
        for n in truth.spec.nodes
    )
    path = tmp_path / "scoped.toml"
    write_model_file(replace(truth.spec, nodes=nodes), path)
    table = bayesleg.load(path).discrete_network.cpts["c2"]  # axes: c2, f2, f1
    leak, w, q = 0.25, 0.5, 0.5
    # f1 absent blocks the f2 term with probability q; the leak is never blocked.
    assert table[1, 0, 0] == pytest.approx(leak)
    assert table[1, 0, 1] == pytest.approx(leak)
    assert table[1, 1, 0] == pytest.approx(1 - (1 - leak) * (1 - w * (1 - q)))
    assert table[1, 1, 1] == pytest.approx(1 - (1 - leak) * (1 - w))


# -- writing the update --------------------------------------------------------------


def test_the_saved_update_keeps_joint_keys_and_preventers_with_notes(start, true_values, tmp_path):
    rng = np.random.default_rng(13)
    data = hide(REFERENCE.sample(true_values, 400, rng), RATES, rng)
    updated = start.update(data, strength=10, data_name="cohort.csv")
    reloaded = bayesleg.load(updated.save(tmp_path / "updated.toml"))
    assert reloaded.version == updated.version
    assert reloaded.spec.nodes == updated.spec.nodes
    assert [key for key, _ in reloaded.node("s2").parents] == ["c2", "c1+c2"]
    for node, field in (
        ("c1", "parents.f1+f2"),
        ("c1", "prevented_by.g"),
        ("c2", "prevented_by.f1"),
    ):
        before = dict(start.node(node).parameters())[field]
        after = dict(reloaded.node(node).parameters())[field]
        assert after.p != before.p, field
        assert after.source == before.source and after.verbal == before.verbal
        assert after.note.startswith("perturbed for the test -- updated from data sha256:")
        assert f"p was {before.p!r}" in after.note
    (inhibitor,) = reloaded.node("c2").inhibitors
    assert inhibitor.when == "absent"


def test_the_shipped_model_updates_and_writes_a_file_that_loads(tmp_path):
    model = bayesleg.load()
    conditions = [node.id for node in model.spec.nodes if node.kind == "condition"]
    data = model.simulate(600, seed=14).drop(columns=conditions)
    updated = model.update(data, strength=10, max_iterations=4)
    reloaded = bayesleg.load(updated.save(tmp_path / "updated.toml"))
    assert reloaded.spec.nodes == updated.spec.nodes
    record = reloaded.spec.provenance[-1]
    assert record.based_on == model.version
    assert record.cases == 600 and record.iterations == 4
    moved = {
        field.split(".")[0]
        for old, new in zip(model.spec.nodes, reloaded.spec.nodes, strict=True)
        for (field, was), (_, now) in zip(old.parameters(), new.parameters(), strict=True)
        if was.p != now.p and "updated from data sha256:" in (now.note or "")
    }
    assert moved == {"prior", "leak", "parents", "prevented_by"}
    joint = [(node.id, key) for node in model.spec.nodes for key, _ in node.parents if "+" in key]
    assert joint, "the shipped model has joint causes"
    for node, key in joint:
        assert dict(reloaded.node(node).parents)[key].p != dict(model.node(node).parents)[key].p


def test_the_command_updates_the_shipped_model(tmp_path):
    model = bayesleg.load()
    conditions = [node.id for node in model.spec.nodes if node.kind == "condition"]
    model.simulate(200, seed=15).drop(columns=conditions).to_csv(
        tmp_path / "cases.csv", index=False
    )
    run = run_cli(
        "update",
        "cases.csv",
        "--strength",
        "10",
        "--max-iterations",
        "2",
        "-o",
        "new.toml",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "stopped at the iteration limit" in run.stdout
    updated = bayesleg.load(tmp_path / "new.toml")
    assert updated.spec.provenance[-1].data == "cases.csv"
    assert any(
        i.parameter.note and "updated from data" in i.parameter.note
        for node in updated.spec.nodes
        for i in node.inhibitors
    )
