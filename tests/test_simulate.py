"""Synthetic cohorts: frequencies against exact probabilities, seeds, evidence.

Tolerances: a frequency of n independent draws with probability p has
standard deviation sqrt(p (1 - p) / n); every check allows 5 of them, which a
correct sampler exceeds with probability below 6e-7 per check (and the seeds
are fixed, so a pass is repeatable).

The tiny model (tests/fixtures/tiny.toml) is F -> C -> S <- D, plus a lone
symptom T: P(F) = 0.25; P(C | F) = 0.575, P(C | not F) = 0.15; P(D) = 0.25;
P(S | C, D) = 1 - (1 - 0.75)^C (1 - 0.6)^D (no leak); P(T) = 0.1.
"""

import itertools
import math
from pathlib import Path

import numpy as np
import pandas
import pytest
from bounded import run_bounded
from cli_runner import run_cli

import bayesleg
from bayesleg import (
    ImpossibleEvidenceError,
    InvalidArgumentError,
    InvalidStateError,
    UnknownNodeError,
)

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
N = 100_000


def within_5_sigma(frequency, p, n):
    return abs(frequency - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12


def tiny_joint(f, c, d, s, t):
    """P(F, C, D, S, T) of the tiny model, written out by hand."""
    p_c = (0.575 if f else 0.15) if c else (0.425 if f else 0.85)
    p_s_present = 1 - (0.25 if c else 1.0) * (0.4 if d else 1.0)
    return (
        (0.25 if f else 0.75)
        * p_c
        * (0.25 if d else 0.75)
        * (p_s_present if s else 1 - p_s_present)
        * (0.1 if t else 0.9)
    )


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


@pytest.fixture(scope="module")
def shipped():
    return bayesleg.load()


def test_tiny_joint_frequencies_match_the_hand_joint(tiny):
    cohort = tiny.simulate(N, seed=1)
    assert list(cohort.columns) == ["f", "c", "d", "s", "t"]
    assert all(dtype.kind == "b" for dtype in cohort.dtypes)
    counts = cohort.value_counts()
    for states in itertools.product((False, True), repeat=5):
        p = tiny_joint(*states)
        frequency = counts.get(states, 0) / N
        assert within_5_sigma(frequency, p, N), (states, frequency, p)


def test_tiny_conditioned_frequencies_match_the_hand_conditionals(tiny):
    evidence = {"s": True, "t": False}
    cohort = tiny.simulate(N, seed=2, evidence=evidence)
    assert cohort["s"].all() and not cohort["t"].any()
    states = list(itertools.product((False, True), repeat=3))  # F, C, D
    weights = {x: tiny_joint(*x, True, False) for x in states}
    total = sum(weights.values())
    counts = cohort.value_counts(["f", "c", "d"])
    for x in states:
        p = weights[x] / total
        assert within_5_sigma(counts.get(x, 0) / N, p, N), (x, p)
    assert counts.get((False, False, False), 0) == 0  # S cannot happen without C or D


def test_shipped_marginals_match_the_engine(shipped):
    # Ancestral sampling shares no code with the engine's propagation.
    cohort = shipped.simulate(N, seed=3)
    exact = shipped.engine.posteriors([{}])
    for node in shipped.nodes:
        p = float(exact[node.id][0, 1])
        assert within_5_sigma(cohort[node.id].mean(), p, N), (node.id, p)


def test_shipped_conditioned_marginals_match_the_diagnosis(shipped):
    evidence = {"long_session": True, "weakness": True, "tingling": True, "cramps": False}
    cohort = shipped.simulate(N, seed=4, evidence=evidence)
    for node, value in evidence.items():
        assert (cohort[node] == value).all()
    for cause in shipped.diagnose(evidence).ranked:
        assert within_5_sigma(cohort[cause.id].mean(), cause.posterior, N), cause.id
    # An unobserved symptom follows its table given the drawn conditions.
    exact = shipped.engine.posteriors(
        [{k: "present" if v else "absent" for k, v in evidence.items()}]
    )
    p = float(exact["heaviness"][0, 1])
    assert within_5_sigma(cohort["heaviness"].mean(), p, N)


def test_same_seed_same_frame(shipped):
    first = shipped.simulate(500, seed=11, evidence={"numbness": True})
    pandas.testing.assert_frame_equal(
        first, shipped.simulate(500, seed=11, evidence={"numbness": True})
    )
    assert not first.equals(shipped.simulate(500, seed=12, evidence={"numbness": True}))
    generator = shipped.simulate(500, seed=np.random.default_rng(11), evidence={"numbness": True})
    pandas.testing.assert_frame_equal(first, generator)


def test_frames_round_trip_into_diagnosis(shipped):
    cohort = shipped.simulate(20, seed=5)
    symptoms = cohort[list(shipped.symptoms)]
    ranked = shipped.rank_frame(symptoms)
    first = shipped.diagnose(symptoms.iloc[0].to_dict())
    assert ranked["top_cause"].iloc[0] == first.top.id
    assert ranked[first.top.id].iloc[0] == pytest.approx(first.top.posterior, abs=1e-12)


def test_empty_and_bad_requests(tiny):
    assert tiny.simulate(0, seed=0).shape == (0, 5)
    with pytest.raises(InvalidArgumentError, match="whole number >= 0, got -1"):
        tiny.simulate(-1)
    with pytest.raises(InvalidArgumentError, match=r"got 2\.5"):
        tiny.simulate(2.5)
    with pytest.raises(UnknownNodeError, match="unknown node 'g'"):
        tiny.simulate(3, evidence={"g": True})
    with pytest.raises(InvalidStateError, match="invalid value 'maybe'"):
        tiny.simulate(3, evidence={"s": "maybe"})
    with pytest.raises(ImpossibleEvidenceError, match="probability zero"):
        tiny.simulate(3, evidence={"c": False, "d": False, "s": True})
    with pytest.raises(InvalidArgumentError, match=r"seed must be a whole number >= 0.*got -1"):
        tiny.simulate(3, seed=-1)
    with pytest.raises(InvalidArgumentError, match=r"seed must be a whole number >= 0.*got 'a'"):
        tiny.simulate(3, seed="a")


def test_the_number_of_cases_is_capped_before_drawing():
    # Ten billion cases of the shipped model's nodes would need terabytes; refused
    # before anything is allocated, at 2**27 node values a call.
    nodes = len(bayesleg.load().nodes)
    ended = run_bounded("bayesleg.load().simulate(10_000_000_000)", memory_mib=256, seconds=60)
    assert ended.error == "InvalidArgumentError", ended
    assert (
        f"the number of cases must be at most {2**27 // nodes} for a model of {nodes} nodes "
        "(134217728 node values in one call), got 10000000000"
    ) in ended.message


def test_cli_writes_csv_and_parquet(tiny, tmp_path):
    expected = tiny.simulate(200, seed=9, evidence={"s": True})
    for name, read in (("cohort.csv", pandas.read_csv), ("cohort.parquet", pandas.read_parquet)):
        result = run_cli(
            "simulate",
            "200",
            "--seed",
            "9",
            "--evidence",
            "s=yes",
            "-o",
            name,
            "--model",
            str(TINY),
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"wrote 200 cases x 5 nodes to {name} (given s=present;")
        pandas.testing.assert_frame_equal(read(tmp_path / name), expected)


def test_cli_bad_input(tmp_path, monkeypatch, capsys):
    result = run_cli("simulate", "10", "-o", "cohort.xlsx", "--model", str(TINY), cwd=tmp_path)
    assert result.returncode == 2 and "expected .csv or .parquet" in result.stderr
    result = run_cli("simulate", "-5", "-o", "c.csv", cwd=tmp_path)
    assert result.returncode == 2 and "expected a whole number >= 0, got '-5'" in result.stderr
    # Without pyarrow, Parquet is refused on one line, before any work.
    from bayesleg import cli
    from bayesleg.cli import simulate as command

    monkeypatch.setattr(command, "_installed", lambda module: module != "pyarrow")
    assert cli.main(["simulate", "5", "-o", str(tmp_path / "c.parquet"), "--model", str(TINY)]) == 2
    assert (
        capsys.readouterr().err
        == "bayesleg: error: writing Parquet needs pyarrow: pip install 'bayesleg[parquet]'\n"
    )
    assert not (tmp_path / "c.parquet").exists()
