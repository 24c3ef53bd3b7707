"""Tests of the compiled inference engine against hand-worked answers, brute force and pgmpy."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from bounded import run_bounded
from brute_force import forward_sample
from brute_force import log_evidence as brute_log_evidence
from brute_force import posteriors as brute_posteriors
from conftest import standard_network
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import cases, evidence, networks, noisy_or_networks

from bayesleg.errors import (
    BayeslegError,
    ImpossibleEvidenceError,
    InvalidEvidenceError,
    InvalidStateError,
    NetworkTooLargeError,
    UnknownNodeError,
    UnsupportedSourceError,
)
from bayesleg.inference._propagate_last import BATCH_LAST
from bayesleg.inference.engine import Engine, compile
from bayesleg.inference.formats import to_pgmpy
from bayesleg.inference.network import DiscreteNetwork

TOLERANCE = 1e-9


def rain_network() -> DiscreteNetwork:
    """rain -> wet:  P(rain) = 0.2;  P(wet | rain) = 0.9, P(wet | no rain) = 0.1."""
    return DiscreteNetwork(
        variables=("rain", "wet"),
        states={"rain": ("no", "yes"), "wet": ("no", "yes")},
        parents={"rain": (), "wet": ("rain",)},
        cpts={"rain": [0.8, 0.2], "wet": [[0.9, 0.1], [0.1, 0.9]]},
    )


def collider_network() -> DiscreteNetwork:
    """burglary -> alarm <- quake, binary, states (no, yes).

    P(burglary) = 0.1, P(quake) = 0.2; P(alarm | b, q) = 0.05, 0.6, 0.8, 0.95
    for (no, no), (no, yes), (yes, no), (yes, yes).
    """
    alarm = np.empty((2, 2, 2))
    alarm[1] = [[0.05, 0.6], [0.8, 0.95]]  # axes: burglary, quake
    alarm[0] = 1.0 - alarm[1]
    return DiscreteNetwork(
        variables=("burglary", "quake", "alarm"),
        states={name: ("no", "yes") for name in ("burglary", "quake", "alarm")},
        parents={"burglary": (), "quake": (), "alarm": ("burglary", "quake")},
        cpts={"burglary": [0.9, 0.1], "quake": [0.8, 0.2], "alarm": alarm},
    )


def _pgmpy_posteriors(
    network: DiscreteNetwork, case: dict, targets: list[str]
) -> dict[str, np.ndarray]:
    """Posteriors by pgmpy's VariableElimination; soft evidence as virtual evidence."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`pgmpy.estimators.StructureScore`", FutureWarning)
        from pgmpy.factors.discrete import TabularCPD
        from pgmpy.inference import VariableElimination

    hard = {name: value for name, value in case.items() if isinstance(value, str)}
    virtual = []
    for name, value in case.items():
        if isinstance(value, dict):
            weights = np.array([value.get(state, 0.0) for state in network.states[name]])
            virtual.append(
                TabularCPD(
                    name,
                    len(weights),
                    (weights / weights.sum()).reshape(-1, 1),
                    state_names={name: list(network.states[name])},
                )
            )
    inference = VariableElimination(to_pgmpy(network))
    wanted = [name for name in targets if name not in hard]
    if not wanted:
        return {}
    result = inference.query(
        wanted,
        evidence=hard or None,
        virtual_evidence=virtual or None,
        joint=False,
        show_progress=False,
    )
    answers = {}
    for name in wanted:
        factor = result[name]
        order = [factor.state_names[name].index(state) for state in network.states[name]]
        answers[name] = np.asarray(factor.values)[order]
    return answers


# -- answers worked out by hand ---------------------------------------------------------


def test_posterior_of_a_cause_given_its_effect():
    engine = compile(rain_network())
    result = engine.posteriors([{"wet": "yes"}, {}, {"wet": "no"}])
    # P(rain | wet) = 0.2 * 0.9 / (0.2 * 0.9 + 0.8 * 0.1) = 0.18 / 0.26
    np.testing.assert_allclose(result["rain"][0], [0.08 / 0.26, 0.18 / 0.26], atol=1e-15)
    np.testing.assert_allclose(result["rain"][1], [0.8, 0.2], atol=1e-15)
    np.testing.assert_allclose(result["rain"][2], [0.72 / 0.74, 0.02 / 0.74], atol=1e-15)
    np.testing.assert_allclose(result["wet"][1], [0.74, 0.26], atol=1e-15)
    np.testing.assert_array_equal(result["wet"][0], [0.0, 1.0])
    np.testing.assert_allclose(
        engine.log_evidence([{"wet": "yes"}, {}]), [math.log(0.26), 0.0], atol=1e-15
    )


def test_soft_evidence_weighs_each_state():
    engine = compile(rain_network())
    case = {"wet": {"no": 1.0, "yes": 3.0}}
    # rain=no: 0.8 * (0.9 * 1 + 0.1 * 3) = 0.96;  rain=yes: 0.2 * (0.1 * 1 + 0.9 * 3) = 0.56
    np.testing.assert_allclose(
        engine.posteriors([case])["rain"][0], [0.96 / 1.52, 0.56 / 1.52], atol=1e-15
    )
    np.testing.assert_allclose(engine.log_evidence([case]), [math.log(1.52)], atol=1e-15)
    # A state left out of soft evidence weighs zero: the same as hard evidence.
    only_yes = engine.posteriors([{"wet": {"yes": 0.5}}, {"wet": "yes"}])
    np.testing.assert_allclose(only_yes["rain"][0], only_yes["rain"][1], atol=1e-15)


def test_explaining_away_in_a_collider():
    engine = compile(collider_network())
    result = engine.posteriors(
        [{"alarm": "yes"}, {"alarm": "yes", "quake": "yes"}], targets=["burglary"]
    )
    # P(alarm) by (b, q): 0.9*0.8*0.05 + 0.9*0.2*0.6 + 0.1*0.8*0.8 + 0.1*0.2*0.95
    p_alarm = 0.036 + 0.108 + 0.064 + 0.019
    assert result["burglary"][0, 1] == pytest.approx((0.064 + 0.019) / p_alarm, abs=1e-15)
    # Given the quake too: 0.1 * 0.95 / (0.1 * 0.95 + 0.9 * 0.6)
    assert result["burglary"][1, 1] == pytest.approx(0.095 / (0.095 + 0.54), abs=1e-15)
    assert list(result) == ["burglary"]


# -- agreement with brute force and pgmpy ---------------------------------------------


@pytest.mark.parametrize(
    "sizes",
    [(1, 6), (BATCH_LAST, BATCH_LAST + 8)],
    ids=["batch-first", "batch-last"],  # batches of BATCH_LAST or more take the batch-last kernel
)
@given(data=st.data())
def test_agrees_with_enumerating_the_joint(sizes, data):
    network = data.draw(networks(zeros=True))
    batch = data.draw(cases(network, min_size=sizes[0], max_size=sizes[1]))
    engine = compile(network)
    possible = [brute_log_evidence(network, case) > -math.inf for case in batch]
    if not all(possible):
        first = possible.index(False)
        with pytest.raises(ImpossibleEvidenceError, match=f"case {first}") as caught:
            engine.posteriors(batch)
        assert caught.value.case == first
        return
    result = engine.posteriors(batch)
    log_evidence = engine.log_evidence(batch)
    for i, case in enumerate(batch):
        expected = brute_posteriors(network, case)
        for name in network.variables:
            np.testing.assert_allclose(result[name][i], expected[name], rtol=0, atol=TOLERANCE)
            if isinstance(case.get(name), str):
                hard = np.zeros(len(network.states[name]))
                hard[network.states[name].index(case[name])] = 1.0
                np.testing.assert_array_equal(result[name][i], hard)
        assert log_evidence[i] == pytest.approx(brute_log_evidence(network, case), abs=TOLERANCE)


@given(st.data())
def test_large_batches_answer_the_same_in_any_batch_or_chunking(data):
    network = data.draw(networks())
    batch = data.draw(cases(network, min_size=BATCH_LAST, max_size=BATCH_LAST + 8))
    engine = compile(network)
    together = engine.posteriors(batch)
    permutation = data.draw(st.permutations(range(len(batch))))
    shuffled = engine.posteriors([batch[i] for i in permutation])
    # Chunks of three cases, the last of one or two: the same bits as one chunk.
    chunked = compile(network)
    chunked._chunk_last = 3
    in_chunks = chunked.posteriors(batch)
    for name in network.variables:
        np.testing.assert_array_equal(shuffled[name], together[name][permutation])
        np.testing.assert_array_equal(in_chunks[name], together[name])
    # Alone, a case takes the batch-first kernel: the same answer but for rounding.
    for i, case in enumerate(batch[:3]):
        alone = engine.posteriors([case])
        for name in network.variables:
            np.testing.assert_allclose(alone[name][0], together[name][i], rtol=1e-12, atol=1e-15)


@given(st.data())
def test_agrees_with_pgmpy_variable_elimination(data):
    network = data.draw(networks(max_variables=5))
    case = data.draw(evidence(network, soft=True))
    result = compile(network).posteriors([case])
    expected = _pgmpy_posteriors(network, case, list(network.variables))
    for name, marginal in expected.items():
        np.testing.assert_allclose(result[name][0], marginal, rtol=0, atol=TOLERANCE)


@given(st.data())
def test_posteriors_are_distributions_and_hard_evidence_is_kept(data):
    network = data.draw(networks())
    batch = data.draw(cases(network))
    result = compile(network).posteriors(batch)
    for name in network.variables:
        marginal = result[name]
        assert marginal.shape == (len(batch), len(network.states[name]))
        assert np.all((marginal >= 0) & (marginal <= 1))
        np.testing.assert_allclose(marginal.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        for i, case in enumerate(batch):
            if isinstance(case.get(name), str):
                expected = np.zeros(len(network.states[name]))
                expected[network.states[name].index(case[name])] = 1.0
                np.testing.assert_array_equal(marginal[i], expected)


@given(st.data())
def test_answers_do_not_depend_on_evidence_order_or_batch(data):
    network = data.draw(networks())
    batch = data.draw(cases(network, min_size=2))
    engine = compile(network)
    together = engine.posteriors(batch)
    log_together = engine.log_evidence(batch)
    permutation = data.draw(st.permutations(range(len(batch))))
    reordered = [dict(reversed(list(batch[i].items()))) for i in permutation]
    shuffled = engine.posteriors(reordered)
    for name in network.variables:
        np.testing.assert_allclose(shuffled[name], together[name][permutation], atol=1e-15)
    # A case gives the same answer, to the last bit, alone or in any batch of
    # fewer than BATCH_LAST cases.
    for i, case in enumerate(batch):
        alone = engine.posteriors([case])
        for name in network.variables:
            np.testing.assert_array_equal(alone[name][0], together[name][i])
        assert engine.log_evidence([case])[0] == log_together[i]


@given(noisy_or_networks(), st.data())
def test_noisy_or_chains_give_the_same_answers(network, data):
    batch = data.draw(cases(network))
    chained = compile(network, noisy_or=True)
    plain = compile(network, noisy_or=False)
    result = chained.posteriors(batch)
    expected = plain.posteriors(batch)
    assert chained.variables == plain.variables
    for name in network.variables:
        np.testing.assert_allclose(result[name], expected[name], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        chained.log_evidence(batch), plain.log_evidence(batch), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize(
    "name",
    [
        "asia",
        "child",
        "alarm",
        "insurance",
        pytest.param("hepar2", marks=pytest.mark.slow),
        pytest.param("win95pts", marks=pytest.mark.slow),
        pytest.param("hailfinder", marks=pytest.mark.slow),
        pytest.param("andes", marks=pytest.mark.slow),
    ],
)
def test_standard_networks_agree_with_pgmpy(name):
    network = standard_network(name)
    engine = compile(network)
    rng = np.random.default_rng(sum(map(ord, name)))
    batch = []
    for _ in range(3):
        sample = forward_sample(network, rng)
        kept = rng.random(len(network.variables)) < 0.25
        batch.append(
            {v: sample[v] for v, keep in zip(network.variables, kept, strict=True) if keep}
        )
    result = engine.posteriors(batch)
    for i, case in enumerate(batch):
        free = [v for v in network.variables if v not in case]
        targets = list(rng.choice(free, size=min(12, len(free)), replace=False))
        for target, marginal in _pgmpy_posteriors(network, case, targets).items():
            np.testing.assert_allclose(result[target][i], marginal, rtol=0, atol=TOLERANCE)


def test_shipped_model_agrees_with_pgmpy():
    import bayesleg

    model = bayesleg.load()
    network = model.discrete_network
    engine = compile(model)
    rng = np.random.default_rng(7)
    observable = [*model.factors, *model.symptoms]
    batch = []
    for _ in range(6):
        sample = forward_sample(network, rng)
        batch.append({v: sample[v] for v in observable if rng.random() < 0.3})
    batch.append(
        {
            "long_session": "present",
            "tingling": {"absent": 0.2, "present": 0.8},
            "pain": {"absent": 1.0, "present": 3.0},
        }
    )
    result = engine.posteriors(batch)
    for i, case in enumerate(batch):
        expected = _pgmpy_posteriors(network, case, list(model.conditions))
        assert set(expected) == set(model.conditions)
        for target, marginal in expected.items():
            np.testing.assert_allclose(result[target][i], marginal, rtol=0, atol=TOLERANCE)


def test_contradicting_a_deterministic_node_is_impossible(asia):
    engine = compile(asia)
    batch = [{"lung": "yes"}, {"either": "no", "lung": "yes", "smoke": "yes"}]
    with pytest.raises(
        ImpossibleEvidenceError,
        match=r"case 1 has probability zero .*\(observed: smoke, lung, either\)",
    ) as caught:
        engine.posteriors(batch)
    assert caught.value.case == 1
    assert set(caught.value.observed) == {"either", "lung", "smoke"}
    with pytest.raises(ImpossibleEvidenceError, match="case 0"):
        engine.log_evidence([{"either": "no", "tub": "yes"}])
    # Soft evidence that leaves room is fine.
    soft = engine.posteriors([{"either": {"no": 1.0, "yes": 0.01}, "lung": "yes"}])
    np.testing.assert_array_equal(soft["either"][0], [1.0, 0.0])


def test_tiny_probabilities_are_exact_not_zero():
    tiny = 1e-300
    child = np.empty((2, 2, 2))
    child[1] = [[0.5, 0.5], [0.5, 0.9]]
    child[0] = 1.0 - child[1]
    network = DiscreteNetwork(
        variables=("a", "b", "c"),
        states={name: ("off", "on") for name in "abc"},
        parents={"a": (), "b": (), "c": ("a", "b")},
        cpts={"a": [1.0 - tiny, tiny], "b": [1.0 - tiny, tiny], "c": child},
    )
    engine = compile(network)
    case = {"a": "on", "b": "on"}  # P(e) = 1e-600, below double precision
    assert engine.log_evidence([case])[0] == pytest.approx(2 * math.log(tiny), rel=1e-12)
    np.testing.assert_allclose(engine.posteriors([case])["c"][0], [0.1, 0.9], atol=1e-12)
    # Many unlikely observations across the network do not underflow either.
    observed = {f"x{i}": ("on" if i % 2 else "off") for i in range(600)}
    log_p, _ = _forward(600, observed)
    assert log_p < -1000
    assert compile(_long_chain(600)).log_evidence([observed])[0] == pytest.approx(log_p, abs=1e-9)


STEP = np.array([[0.95, 0.2], [0.05, 0.8]])  # P(x_i | x_(i-1)), states (off, on)


def _forward(length: int, observed: dict[str, str]) -> tuple[float, np.ndarray]:
    """Return log P(evidence) and P(x_last | evidence) by the forward recursion."""
    alpha = np.array([0.95, 0.05])
    log_total = 0.0
    for i in range(length):
        if i:
            alpha = STEP @ alpha
        if f"x{i}" in observed:
            alpha = alpha * (np.arange(2) == ("off", "on").index(observed[f"x{i}"]))
        log_total += math.log(alpha.sum())
        alpha = alpha / alpha.sum()
    return log_total, alpha


def _long_chain(length: int) -> DiscreteNetwork:
    names = [f"x{i}" for i in range(length)]
    return DiscreteNetwork(
        variables=tuple(names),
        states={name: ("off", "on") for name in names},
        parents={name: (names[i - 1],) if i else () for i, name in enumerate(names)},
        cpts={name: STEP if i else np.array([0.95, 0.05]) for i, name in enumerate(names)},
    )


def test_a_long_chain_agrees_with_the_forward_recursion():
    chain = _long_chain(300)
    observed = {f"x{i}": ("on" if i % 3 else "off") for i in range(0, 300, 5)}
    engine = compile(chain)
    log_total, alpha = _forward(300, observed)
    assert engine.log_evidence([observed])[0] == pytest.approx(log_total, abs=1e-9)
    np.testing.assert_allclose(engine.posteriors([observed])["x299"][0], alpha, atol=1e-12)


# -- inputs ------------------------------------------------------------------------------


def test_a_dataframe_is_read_like_a_list_of_dicts():
    engine = compile(collider_network())
    frame = pd.DataFrame(
        {"alarm": ["yes", None, "no", np.nan], "quake": [np.nan, "yes", None, "no"]}
    )
    records = [
        {"alarm": "yes"},
        {"quake": "yes"},
        {"alarm": "no", "quake": None},
        {"alarm": float("nan"), "quake": "no"},
    ]
    from_frame = engine.posteriors(frame)
    from_records = engine.posteriors(records)
    for name in engine.variables:
        np.testing.assert_array_equal(from_frame[name], from_records[name])
    soft = pd.DataFrame({"alarm": [{"no": 1.0, "yes": 2.0}, None]})
    np.testing.assert_array_equal(
        engine.posteriors(soft)["burglary"],
        engine.posteriors([{"alarm": {"no": 1.0, "yes": 2.0}}, {}])["burglary"],
    )


def test_the_fast_path_matches_posteriors_and_broadcasts():
    engine = compile(collider_network())
    likelihoods = {"alarm": np.array([[0.0, 1.0], [1.0, 1.0]]), "quake": np.array([0.0, 1.0])}
    posteriors, log_evidence = engine.posteriors_from_likelihoods(
        likelihoods, 2, targets=["burglary"]
    )
    expected = engine.posteriors(
        [{"alarm": "yes", "quake": "yes"}, {"quake": "yes"}], targets=["burglary"]
    )
    np.testing.assert_array_equal(posteriors["burglary"], expected["burglary"])
    np.testing.assert_allclose(log_evidence, [math.log(0.2 * 0.635), math.log(0.2)], atol=1e-15)


def test_no_cases_give_empty_answers():
    engine = compile(rain_network())
    assert engine.posteriors([])["rain"].shape == (0, 2)
    assert engine.log_evidence([]).shape == (0,)


def test_unknown_variables_are_named_with_suggestions():
    engine = compile(collider_network())
    with pytest.raises(UnknownNodeError, match="unknown variable 'alarn'; did you mean 'alarm'"):
        engine.posteriors([{"alarn": "yes"}])
    with pytest.raises(UnknownNodeError, match="unknown variable 'quak'"):
        engine.posteriors([{}], targets=["quak"])
    with pytest.raises(UnknownNodeError, match="unknown variable 'nope'"):
        engine.posteriors_from_likelihoods({"nope": np.ones(2)}, 1)
    with pytest.raises(UnknownNodeError, match="'alarn'"):
        engine.posteriors(pd.DataFrame({"alarn": ["yes"]}))


def test_errors_about_one_case_name_it():
    engine = compile(collider_network())
    for batch, error, message, case in [
        ([{}, {}, {"alarn": "yes"}], UnknownNodeError, "case 2: unknown variable 'alarn'", 2),
        ([{}, {"alarm": "maybe"}], InvalidStateError, "case 1: invalid state 'maybe'", 1),
        ([{"alarm": {"yes": -1.0}}], InvalidStateError, "case 0: soft-evidence weights", 0),
        (
            pd.DataFrame({"alarm": ["yes", None, "maybe"]}),
            InvalidStateError,
            "case 2: invalid state 'maybe'",
            2,
        ),
        (
            pd.DataFrame({"alarm": ["yes", {"yes": -1.0}]}),
            InvalidStateError,
            "case 1: soft-evidence weights",
            1,
        ),
    ]:
        with pytest.raises(error) as caught:
            engine.posteriors(batch)
        assert str(caught.value).startswith(message)
        assert caught.value.case == case


def test_invalid_states_list_the_allowed_ones():
    engine = compile(collider_network())
    with pytest.raises(InvalidStateError, match=r"invalid state 'maybe' for 'alarm'.*'no', 'yes'"):
        engine.posteriors([{"alarm": "maybe"}])
    with pytest.raises(InvalidStateError, match=r"invalid state 'maybe' in soft evidence"):
        engine.posteriors([{"alarm": {"maybe": 1.0}}])
    with pytest.raises(InvalidStateError, match="finite and non-negative"):
        engine.posteriors([{"alarm": {"yes": -1.0}}])
    with pytest.raises(InvalidStateError, match="finite and non-negative"):
        engine.posteriors([{"alarm": {"yes": float("inf")}}])
    with pytest.raises(InvalidStateError, match="all zero"):
        engine.posteriors([{"alarm": {"yes": 0.0, "no": 0.0}}])
    with pytest.raises(InvalidStateError, match="not a number"):
        engine.posteriors([{"alarm": {"yes": "lots"}}])
    with pytest.raises(InvalidStateError, match="invalid state 'maybe'"):
        engine.posteriors(pd.DataFrame({"alarm": ["maybe"]}))
    with pytest.raises(InvalidStateError, match=r"shape \(3,\), expected \(1, 2\)"):
        engine.posteriors_from_likelihoods({"alarm": np.ones(3)}, 1)
    with pytest.raises(InvalidStateError, match="negative or non-finite"):
        engine.posteriors_from_likelihoods({"alarm": np.array([[np.nan, 1.0]])}, 1)
    with pytest.raises(ImpossibleEvidenceError, match="case 1") as caught:
        engine.posteriors_from_likelihoods({"alarm": np.array([[1.0, 0.0], [0.0, 0.0]])}, 2)
    assert caught.value.case == 1


def test_evidence_of_the_wrong_type_is_refused():
    engine = compile(collider_network())
    with pytest.raises(InvalidEvidenceError, match="list of dicts or a pandas DataFrame"):
        engine.posteriors({"alarm": "yes"})
    with pytest.raises(InvalidEvidenceError, match="case 1 must be a mapping"):
        engine.posteriors([{}, "alarm"])
    with pytest.raises(InvalidEvidenceError, match="state name or a mapping"):
        engine.posteriors([{"alarm": ["yes"]}])


def test_sources_of_every_kind_compile(asia, tmp_path):
    from_path = compile("data/networks/asia.bif.gz")
    from_pgmpy = compile(to_pgmpy(asia))

    class Holder:
        discrete_network = asia

    from_model = compile(Holder())
    case = [{"xray": "yes", "smoke": "no"}]
    expected = compile(asia).posteriors(case)
    for engine in (from_path, from_pgmpy, from_model):
        assert isinstance(engine, Engine)
        assert set(engine.variables) == set(asia.variables)
        result = engine.posteriors(case)
        for name in asia.variables:
            np.testing.assert_allclose(result[name], expected[name], atol=1e-15)
    with pytest.raises(UnsupportedSourceError, match="cannot compile a int"):
        compile(42)
    with pytest.raises(TypeError):
        compile([asia])


def test_a_network_too_large_for_the_memory_limit_is_refused(alarm):
    with pytest.raises(
        NetworkTooLargeError, match=r"largest clique has \d+ variables \("
    ) as caught:
        compile(alarm, memory_limit=10_000)
    assert "bytes" in str(caught.value)
    assert isinstance(caught.value, MemoryError) and isinstance(caught.value, BayeslegError)


def test_batches_are_chunked_within_the_memory_limit(alarm):
    roomy = compile(alarm)
    rng = np.random.default_rng(7)
    batch = []
    for _ in range(40):
        sample = forward_sample(alarm, rng)
        batch.append({v: s for v, s in sample.items() if rng.random() < 0.3})
    sizes = roomy.clique_sizes
    # Room for the tables and a few cases' working memory at a time.
    tight = compile(alarm, memory_limit=8 * (5 * sum(sizes)) + 200_000)
    assert tight._chunk < len(batch) <= roomy._chunk
    expected = roomy.posteriors(batch)
    result = tight.posteriors(batch)
    for name in alarm.variables:
        np.testing.assert_array_equal(result[name], expected[name])


def test_impossible_evidence_is_named_by_its_place_in_the_batch(asia):
    limit = 1 << 12
    while True:  # the smallest limit (within 25%) that compiles: a few cases per chunk
        try:
            tight = compile(asia, memory_limit=limit)
            break
        except NetworkTooLargeError:
            limit += limit // 4
    assert tight._chunk < 6
    batch = [{"lung": "yes"}] * 5 + [{"either": "no", "tub": "yes"}, {"either": "no"}]
    for engine in (compile(asia), tight):
        with pytest.raises(
            ImpossibleEvidenceError, match=r"case 5 has .*\(observed: tub, either\)"
        ) as caught:
            engine.posteriors(batch)
        assert caught.value.case == 5
        assert caught.value.observed == ("tub", "either")


def test_one_engine_serves_many_threads(alarm):
    engine = compile(alarm)
    rng = np.random.default_rng(3)
    batches = [
        [{v: s for v, s in forward_sample(alarm, rng).items() if rng.random() < 0.3}]
        for _ in range(8)
    ]
    expected = [engine.posteriors(batch) for batch in batches]
    results: list = [None] * len(batches)

    def work(i: int) -> None:
        for _ in range(20):
            results[i] = engine.posteriors(batches[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected, strict=True):
        for name in alarm.variables:
            np.testing.assert_array_equal(got[name], want[name])


_HEAVY = ("pgmpy", "scipy", "sklearn", "pandas", "networkx")


@pytest.mark.parametrize(
    "code",
    [
        "import bayesleg.inference.engine",
        "import bayesleg; bayesleg.load()",
        "import bayesleg; bayesleg.load().diagnose({'long_session': True, 'heaviness': True})",
        # The CLI's diagnosis, as `bayesleg diagnose ... --json` runs it.
        "import runpy, sys\n"
        "sys.argv = ['bayesleg', 'diagnose', 'fasted', 'weakness', '--json']\n"
        "try:\n"
        "    runpy.run_module('bayesleg', run_name='__main__')\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code",
    ],
    ids=["engine", "load", "diagnose", "cli"],
)
def test_the_hot_path_leaves_heavy_libraries_alone(code):
    check = f"\nimport sys\nprint('imported:', ','.join(m for m in {_HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code + check], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "imported: "


@given(st.data())
def test_targets_select_columns_in_state_order(data):
    network = data.draw(networks())
    targets = data.draw(st.lists(st.sampled_from(network.variables), unique=True, min_size=1))
    case = data.draw(evidence(network, soft=False))
    engine = compile(network)
    assume(brute_log_evidence(network, case) > -math.inf)
    everything = engine.posteriors([case])
    some = engine.posteriors([case], targets=targets)
    assert list(some) == targets
    for name in targets:
        np.testing.assert_array_equal(some[name], everything[name])


# -- Refusing a network too large before the work it would take.

# A random network of 10,000 binary variables: 1,000 roots, 4,000 children of two
# roots, 5,000 children of three of those.  Its treewidth is far beyond any limit.
_RANDOM_10K = """
import numpy as np
from bayesleg.inference.network import DiscreteNetwork
rng = np.random.default_rng(0)
roots = [f"r{i}" for i in range(1000)]
middle = [f"m{i}" for i in range(4000)]
leaves = [f"l{i}" for i in range(5000)]
parents = {name: () for name in roots}
parents.update({name: tuple(rng.choice(roots, 2, replace=False)) for name in middle})
parents.update({name: tuple(rng.choice(middle, 3, replace=False)) for name in leaves})
def table(k):
    first = rng.uniform(0.1, 0.9, size=(2,) * k)
    return np.stack([first, 1 - first])
NETWORK = DiscreteNetwork(
    variables=tuple(roots + middle + leaves),
    states={name: ("no", "yes") for name in parents},
    parents=parents,
    cpts={name: table(len(given)) for name, given in parents.items()},
)
"""


def test_a_network_of_10000_variables_is_refused_in_seconds():
    # Triangulating it to the end took minutes; a bound on its treewidth refuses it at once.
    ended = run_bounded(
        "compile(NETWORK)",
        setup=_RANDOM_10K + "from bayesleg.inference.engine import compile",
        memory_mib=512,
        seconds=60,
    )
    assert ended.error == "NetworkTooLargeError", ended
    assert re.search(
        r"every elimination order tried forms a clique of at least \d+ variables \(.*\) "
        r"and \d+ entries, which needs at least \d+ bytes",
        ended.message,
    )
    assert ended.seconds < 20


def test_a_noisy_or_network_of_10000_variables_is_refused_in_seconds():
    # As above with noisy-OR leaves: too large to search for a chain order.
    noisy = _RANDOM_10K.replace(
        "cpts={name: table(len(given)) for name, given in parents.items()},",
        "cpts={name: noisy_or(len(given)) if name in leaves else table(len(given)) "
        "for name, given in parents.items()},",
    ).replace(
        "NETWORK = DiscreteNetwork(",
        "def noisy_or(k):\n"
        "    absent = np.full((2,) * k, 0.9)\n"
        "    for axis in range(k):\n"
        "        absent = absent * np.array([1.0, 0.5]).reshape((1,) * axis + (2,) + (1,) * (k - axis - 1))\n"
        "    return np.stack([absent, 1 - absent])\n"
        "NETWORK = DiscreteNetwork(",
    )
    ended = run_bounded(
        "compile(NETWORK)",
        setup=noisy + "from bayesleg.inference.engine import compile",
        memory_mib=512,
        seconds=60,
    )
    assert ended.error == "NetworkTooLargeError", ended
    # About 3 s; searching its chains' parent order would add some 15 s.
    assert ended.seconds < 10


def test_triangulation_stops_at_the_first_clique_over_the_limit():
    # Twelve binary variables all joined (one child of eleven parents): a clique of
    # 4096 entries, which needs some 160 KB; the treewidth bound alone cannot tell.
    parents = {f"p{i}": () for i in range(11)}
    parents["c"] = tuple(parents)
    network = DiscreteNetwork(
        variables=tuple(parents),
        states={name: ("no", "yes") for name in parents},
        parents=parents,
        cpts={name: np.full((2,) * (len(given) + 1), 0.5) for name, given in parents.items()},
    )
    with pytest.raises(NetworkTooLargeError, match=r"at least 12 variables .* and 4096 entries"):
        compile(network, memory_limit=100_000, noisy_or=False)
    assert max(compile(network, memory_limit=400_000, noisy_or=False).clique_sizes) == 4096


def test_tables_too_large_are_refused_before_they_are_copied():
    network = DiscreteNetwork(
        variables=("a",), states={"a": ("x", "y")}, parents={"a": ()}, cpts={"a": [0.5, 0.5]}
    )
    with pytest.raises(
        NetworkTooLargeError, match="the tables need 16 bytes, over the memory_limit of 8"
    ):
        compile(network, memory_limit=8)


def _precise_noisy_or(leak: float, weights: list[float]) -> np.ndarray:
    """A noisy-OR table whose present row keeps tiny probabilities exactly."""
    k = len(weights)
    log_absent = np.full((2,) * k, math.log1p(-leak))
    for axis, weight in enumerate(weights):
        log_absent = log_absent + np.array([0.0, math.log1p(-weight)]).reshape(
            (1,) * axis + (2,) + (1,) * (k - axis - 1)
        )
    return np.stack([np.exp(log_absent), -np.expm1(log_absent)])


@pytest.mark.parametrize("noisy_or", [False, True])
def test_noisy_or_chains_keep_tiny_probabilities(noisy_or):
    # P(c present) is about 1e-17: 1 - (1 - 1e-17) would make it zero, and the evidence impossible.
    names = ["f1", "f2", "f3", "c"]
    cpts = {f: np.array([0.5, 0.5]) for f in names[:3]}
    cpts["c"] = _precise_noisy_or(1e-17, [1e-17, 2e-17, 3e-17])
    network = DiscreteNetwork(
        variables=tuple(names),
        states={name: ("absent", "present") for name in names},
        parents={"f1": (), "f2": (), "f3": (), "c": ("f1", "f2", "f3")},
        cpts=cpts,
    )
    engine = compile(network, noisy_or=noisy_or)
    assert any("#" in name for clique in engine.cliques for name in clique) == noisy_or
    log_evidence = engine.log_evidence([{"c": "present"}, {"c": "present", "f3": "present"}])
    # To first order, P(c) = 1e-17 + (1e-17 + 2e-17 + 3e-17) / 2 and
    # P(c, f3) = (1e-17 + 3e-17 + (1e-17 + 2e-17) / 2) / 2.
    np.testing.assert_allclose(np.exp(log_evidence), [4e-17, 2.75e-17], rtol=1e-9)
    posterior = engine.posteriors([{"c": "present"}], targets=["f3"])["f3"]
    np.testing.assert_allclose(posterior, [[1 - 0.6875, 0.6875]], rtol=1e-9)


def _min_fill_reference(cards, parents):
    """Greedy min-fill on sets: least fill, then least clique entries, then least index."""
    adjacency = [set() for _ in cards]
    for child, family in enumerate(parents):
        members = {child, *family}
        for u in members:
            adjacency[u] |= members - {u}
    remaining = set(range(len(cards)))
    total = 0

    def score(v):
        fill = sum(1 for a in adjacency[v] for b in adjacency[v] if a < b and b not in adjacency[a])
        return fill, math.prod(cards[u] for u in adjacency[v] | {v}), v

    while remaining:
        v = min(remaining, key=score)
        total += score(v)[1]
        for a in adjacency[v]:
            adjacency[a] |= adjacency[v] - {a}
            adjacency[a].discard(v)
        remaining.discard(v)
        adjacency[v] = set()
    return total


def test_the_quick_elimination_cost_of_a_small_network():
    from bayesleg.inference._jtree import min_fill_cost

    # Edges 0-1, 0-2, 1-2, 1-3: eliminate 3 (clique {1, 3}, 8 entries), 0 ({0, 1, 2},
    # 32), 1 ({1, 2}, 8) and 2 ({2}, 2).
    assert min_fill_cost([4, 4, 2, 2], [[], [], [1, 0], [1]]) == 50


@given(networks(max_variables=10))
def test_the_quick_elimination_cost_is_the_min_fill_orders(network):
    from bayesleg.inference._jtree import min_fill_cost

    position = {name: i for i, name in enumerate(network.variables)}
    cards = [network.cardinality(name) for name in network.variables]
    parents = [[position[p] for p in network.parents[name]] for name in network.variables]
    assert min_fill_cost(cards, parents) == _min_fill_reference(cards, parents)


@given(noisy_or_networks(), st.data())
def test_noisy_or_chains_in_any_parent_order_give_the_same_answers(network, data):
    from bayesleg.inference._noisy_or_chains import chain_noisy_ors

    ranks = data.draw(st.permutations(range(len(network.variables))))
    chained = chain_noisy_ors(network, dict(zip(network.variables, ranks, strict=True)))
    assume(chained is not None)
    batch = data.draw(cases(network))
    result = compile(chained[0], noisy_or=False).posteriors(batch, targets=network.variables)
    expected = compile(network, noisy_or=False).posteriors(batch)
    for name in network.variables:
        np.testing.assert_allclose(result[name], expected[name], rtol=0, atol=1e-12)


def test_the_chain_order_search_shrinks_the_shipped_model_and_is_repeatable():
    import bayesleg
    from bayesleg.inference._jtree import min_fill_cost
    from bayesleg.inference._noisy_or_chains import _chained_structure, chain_order

    network = bayesleg.load().discrete_network
    engine = compile(network)
    chained = {name.split("#")[0] for clique in engine.cliques for name in clique if "#" in name}
    topological = {name: i for i, name in enumerate(network.variables)}
    searched = chain_order(network, chained)
    assert chain_order(network, chained) == searched
    assert min_fill_cost(*_chained_structure(network, chained, searched)) < min_fill_cost(
        *_chained_structure(network, chained, topological)
    )


@given(
    st.lists(st.integers(2, 4), min_size=1, max_size=5),
    st.integers(16, 40),
    st.randoms(use_true_random=False),
)
def test_likelihoods_stacked_for_many_cases_are_the_same_block(cards, n_cases, rng):
    from bayesleg.errors import ImpossibleEvidenceError
    from bayesleg.inference._cases import stack_likelihoods

    arrays = []
    for card in cards:
        table = np.array(
            [[rng.choice([0.0, 0.5, 1.0, 3.0]) for _ in range(card)] for _ in range(n_cases)]
        )
        arrays.append(table)
    names = [f"v{i}" for i in range(len(cards))]

    def stacked(transposed):
        try:
            block, log_scale = stack_likelihoods(
                [a.copy() for a in arrays], cards, names, n_cases, transposed=transposed
            )
        except ImpossibleEvidenceError as error:
            return str(error), error.case
        return np.ascontiguousarray(block), log_scale

    expected, transposed = stacked(False), stacked(True)
    if isinstance(expected[0], str):
        assert transposed == expected
    else:
        np.testing.assert_array_equal(transposed[0], expected[0])
        np.testing.assert_array_equal(transposed[1], expected[1])
        # Each variable's row scaled to a largest entry of one, the logs of the factors kept.
        for i, table in enumerate(arrays):
            column = sum(cards[:i])
            np.testing.assert_array_equal(
                expected[0][:, column : column + cards[i]], table / table.max(axis=1, keepdims=True)
            )


# A batch of the shipped model twice; whether the heap was kept, and the page faults of the second pass.
_FAULTS = """
import resource, sys
import bayesleg
from bayesleg.inference import _heap
import numpy as np
model = bayesleg.load()
rng = np.random.default_rng(7)
observable = [*model.factors, *model.symptoms]
cases = [
    {node: ("absent", "present")[rng.integers(2)] for node in observable if rng.random() < 0.3}
    for _ in range(5000)
]
model.engine.posteriors(cases, model.conditions)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
model.engine.posteriors(cases, model.conditions)
print(_heap.keep_heap(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _glibc() -> bool:
    import platform

    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def _run_faults(environment: dict[str, str]) -> tuple[bool, int]:
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "BAYESLEG_HEAP")
    }
    env.update(environment)
    result = subprocess.run(
        [sys.executable, "-c", _FAULTS], capture_output=True, text=True, check=True, env=env
    )
    kept, faults = result.stdout.split()
    return kept == "True", int(faults)


@pytest.mark.skipif(not _glibc(), reason="the heap settings apply to glibc only")
def test_a_batch_keeps_the_heap_between_chunks():
    # 5,000 cases are 26 chunks of the shipped model; a heap handed back after
    # each chunk faults in its tables again: about 110,000 pages a pass with
    # BAYESLEG_HEAP=system, against none or a few when the heap is kept.
    kept, faults = _run_faults({})
    assert kept
    assert faults < 2_000


@pytest.mark.parametrize(
    "environment",
    [{"BAYESLEG_HEAP": "system"}, {"MALLOC_TRIM_THRESHOLD_": "131072"}],
    ids=["asked", "already-set"],
)
def test_the_heap_is_left_alone_when_asked_or_already_set(environment):
    kept, _ = _run_faults(environment)
    assert not kept
