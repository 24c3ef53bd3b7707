"""Learning from case data: EM on the noisy-OR parameters with the hand-set values as prior.

References are independent of bayesleg's engine: data come from an ancestral
sampler in ``noisy_or_reference``; the full joint of the 7-node test model is
enumerated there from the noisy-OR formula; the MAP estimate is found by
scipy's L-BFGS-B on that enumeration; and the recovery tolerance comes from
the Fisher information computed on it.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from noisy_or_reference import Network, hide

import bayesleg
from bayesleg.errors import (
    ImpossibleEvidenceError,
    InvalidArgumentError,
    InvalidEvidenceError,
    InvalidStateError,
    UnknownNodeError,
)
from bayesleg.research.learn import METHOD, data_sha256, fit

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
NODES = ("f1", "f2", "c1", "c2", "s1", "s2", "s3")
PARENTS = {
    "f1": (),
    "f2": (),
    "c1": ("f1", "f2"),
    "c2": ("f2",),
    "s1": ("c1", "c2"),
    "s2": ("c1",),
    "s3": ("c2", "f1"),
}
KINDS = {"f": "factor", "c": "condition", "s": "symptom"}
REFERENCE = Network(
    NODES, {node: tuple((p,) for p in parents) for node, parents in PARENTS.items() if parents}
)
# Keys: (node, field) as bayesleg.research.learn.Fit.estimates has them.
KEYS = REFERENCE.keys
HAND_SET = dict(
    zip(
        KEYS,
        [0.25, 0.5, 0.15, 0.5, 0.25, 0.15, 0.75, 0.15, 0.75, 0.5, 0.15, 0.85, 0.15, 0.5, 0.25],
        strict=True,
    )
)
TRUE = dict(
    zip(
        KEYS,
        [0.35, 0.4, 0.1, 0.6, 0.35, 0.2, 0.65, 0.05, 0.8, 0.4, 0.1, 0.7, 0.2, 0.6, 0.3],
        strict=True,
    )
)
SOURCE = "'001_a6af47fc61bf8c8f.txt: \"glycogen stores can become depleted\"'"


def _model_file(values: dict[tuple[str, str], float], path: Path) -> bayesleg.Model:
    """Write and load the 7-node test model with the given numbers."""

    def number(key: tuple[str, str]) -> str:
        return (
            f'{{ p = {values[key]!r}, verbal = "fifty-fifty", source = {SOURCE}, note = "test" }}'
        )

    lines = ['[model]\nid = "learn"\ntitle = "Learning test"\nparameterisation = "diez"']
    for node in NODES:
        kind = KINDS[node[0]]
        lines.append(f'[[{kind}]]\nid = "{node}"\nlabel = "{node.upper()}"')
        if kind == "factor":
            lines.append(f"prior = {number((node, 'prior'))}")
            continue
        if kind == "condition":
            lines.append(f'care = "self_care"\nadvice = {{ text = "Rest.", source = {SOURCE} }}')
        lines.append(f"leak = {number((node, 'leak'))}\n[{kind}.parents]")
        lines.extend(f"{p} = {number((node, f'parents.{p}'))}" for p in PARENTS[node])
    lines.append(f"[triage]\ncondition_threshold = {number(('f1', 'prior'))}")
    path.write_text("\n".join(lines) + "\n")
    return bayesleg.load(path)


@pytest.fixture(scope="module")
def hand_set(tmp_path_factory) -> bayesleg.Model:
    return _model_file(HAND_SET, tmp_path_factory.mktemp("learn") / "hand_set.toml")


# -- the tests ---------------------------------------------------------------------


def test_a_fully_observed_factor_follows_the_counting_formula():
    # Worked by hand: prior 0.25 worth 100 cases, then 30 of 100 present.
    model = bayesleg.load(TINY)
    cases = pd.DataFrame({"f": ["yes"] * 30 + ["no"] * 70})
    updated = model.update(cases, strength=100)
    assert updated.node("f").prior.p == pytest.approx((100 * 0.25 + 30) / 200, abs=1e-12)
    assert model.update(cases, strength=0).node("f").prior.p == pytest.approx(0.3, abs=1e-12)


def test_em_reaches_the_map_estimate_found_by_a_generic_optimiser(hand_set):
    rng = np.random.default_rng(2)
    data = hide(
        REFERENCE.sample(TRUE, 3000, rng),
        {"c1": 0.5, "c2": 0.5, **dict.fromkeys(["f1", "f2", "s1", "s2", "s3"], 0.2)},
        rng,
    )
    strength = 5.0
    result = fit(hand_set, data, strength=strength, tolerance=1e-10, max_iterations=5000)
    assert result.converged
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(result.log_posterior))

    prior = np.array([HAND_SET[k] for k in KEYS])
    optimum, best = REFERENCE.map_estimate(data, prior, strength)
    em = np.array([result.estimates[k] for k in KEYS])
    np.testing.assert_allclose(em, optimum, atol=1e-5)
    assert REFERENCE.log_posterior(em, data, prior, strength) >= best - 1e-6


def test_recovers_known_numbers_from_20000_cases_with_missing_values(hand_set):
    """Estimates land within 4.5 standard errors (plus the prior's pull) of the truth.

    The standard errors come from the Fisher information of the observed-data
    likelihood, cells missing at random at rate 0.2, enumerated exactly; the
    prior's pull on an estimate from T trials is at most
    strength * |hand-set - true| / (strength + T).
    """
    n, rate, strength = 20_000, 0.2, 10.0
    rng = np.random.default_rng(1)
    data = hide(REFERENCE.sample(TRUE, n, rng), dict.fromkeys(NODES, rate), rng)
    result = fit(hand_set, data, strength=strength)
    assert result.converged

    truth = np.array([TRUE[k] for k in KEYS])
    standard_error = REFERENCE.standard_errors(TRUE, n, dict.fromkeys(NODES, rate))

    marginal = REFERENCE.states.T @ REFERENCE.joint(TRUE)
    trials = np.array([n if p is None else n * marginal[NODES.index(p)] for p in _trial_parents()])
    hand = np.array([HAND_SET[k] for k in KEYS])
    pull = strength * np.abs(hand - truth) / (strength + trials)
    tolerance = 4.5 * standard_error + pull

    estimate = np.array([result.estimates[k] for k in KEYS])
    assert np.all(np.abs(estimate - truth) <= tolerance), dict(
        zip(KEYS, np.round((estimate - truth) / tolerance, 2), strict=True)
    )
    # The data moved the numbers: closer to the truth than the hand-set values.
    assert np.abs(estimate - truth).sum() < 0.3 * np.abs(hand - truth).sum()


def _trial_parents() -> list[str | None]:
    return [None if field in ("prior", "leak") else field.split(".")[1] for _, field in KEYS]


def test_the_e_step_in_small_batches_gives_the_same_fit(hand_set, monkeypatch):
    rng = np.random.default_rng(5)
    data = hide(REFERENCE.sample(TRUE, 1500, rng), dict.fromkeys(NODES, 0.3), rng)
    whole = fit(hand_set, data, strength=3, tolerance=1e-9)
    monkeypatch.setattr("bayesleg.research.learn._CHUNK", 7)
    batched = fit(hand_set, data, strength=3, tolerance=1e-9)
    assert batched.iterations == whole.iterations
    for key in KEYS:
        assert batched.estimates[key] == pytest.approx(whole.estimates[key], abs=1e-12)
    np.testing.assert_allclose(batched.log_posterior, whole.log_posterior, rtol=1e-12)


def test_squarem_reaches_plain_em_s_fixed_point_in_fewer_steps(hand_set):
    """Conditions hidden, so plain EM creeps; both stop at one EM fixed point."""
    rng = np.random.default_rng(6)
    data = hide(REFERENCE.sample(TRUE, 1500, rng), {"c1": 1.0, "c2": 1.0}, rng)
    plain = fit(hand_set, data, strength=3, tolerance=1e-8, accelerate=False)
    fast = fit(hand_set, data, strength=3, tolerance=1e-8)
    assert plain.converged and fast.converged
    assert fast.iterations < plain.iterations / 2, (fast.iterations, plain.iterations)
    for key in KEYS:
        assert fast.estimates[key] == pytest.approx(plain.estimates[key], abs=1e-7), key
    # Each trace is monotone, and they end at the same log posterior.
    for result in (plain, fast):
        assert all(b >= a - 1e-9 for a, b in itertools.pairwise(result.log_posterior))
    assert fast.log_posterior[-1] == pytest.approx(plain.log_posterior[-1], abs=1e-8)


def test_a_huge_strength_keeps_the_hand_set_numbers(hand_set):
    rng = np.random.default_rng(3)
    data = hide(REFERENCE.sample(TRUE, 2000, rng), {"c1": 1.0, "c2": 1.0}, rng)
    result = fit(hand_set, data, strength=1e9)
    for key in KEYS:
        assert result.estimates[key] == pytest.approx(HAND_SET[key], abs=1e-5)


def test_the_saved_update_loads_with_its_provenance(hand_set, tmp_path):
    rng = np.random.default_rng(4)
    data = hide(REFERENCE.sample(TRUE, 500, rng), {"c1": 1.0, "c2": 1.0}, rng)
    updated = hand_set.update(data, strength=20, data_name="cohort.csv")
    path = updated.save(tmp_path / "updated.toml")
    reloaded = bayesleg.load(path)
    assert reloaded.version == updated.version
    assert {n.id: n for n in reloaded.spec.nodes} == {n.id: n for n in updated.spec.nodes}

    (record,) = reloaded.spec.provenance
    assert record.method == METHOD
    assert record.cases == 500 and record.strength == 20.0 and record.data == "cohort.csv"
    assert record.based_on == hand_set.version
    codes = np.array([[-1 if v is None else int(v) for v in data[c]] for c in data.columns]).T
    header = (",".join(data.columns) + "\n").encode()
    assert (
        record.data_sha256 == hashlib.sha256(header + codes.astype(np.int8).tobytes()).hexdigest()
    )

    before = hand_set.node("s3").parents[0][1]
    after = reloaded.node("s3").parents[0][1]
    assert after.p != before.p
    assert after.source == before.source and after.verbal == before.verbal
    assert after.note.startswith("test -- updated from data sha256:")
    assert f"p was {before.p!r}" in after.note and "which p is now off" in after.note
    # Diagnoses from the saved file equal those of the model in memory.
    evidence = {"s1": True, "f2": False}
    assert (
        reloaded.diagnose(evidence).to_dict()["ranked"]
        == updated.diagnose(evidence).to_dict()["ranked"]
    )


def test_the_data_hash_ignores_how_values_are_spelt():
    columns = ("f1", "s1")
    spelt = pd.DataFrame({"f1": ["yes", "No", None], "s1": [True, False, float("nan")]})
    numeric = pd.DataFrame({"f1": [1, 0, None], "s1": [1.0, 0.0, None]})
    model_ids = NODES
    from bayesleg.research.learn import _encode

    first = _encode(spelt, model_ids)
    second = _encode(numeric, model_ids)
    assert first[0] == second[0] == columns
    assert data_sha256(*first) == data_sha256(*second)
    np.testing.assert_array_equal(first[1], [[1, 1], [0, 0], [-1, -1]])


@pytest.mark.parametrize(
    ("data", "options", "error", "message"),
    [
        ([{"f": True}], {}, InvalidEvidenceError, "must be a pandas DataFrame"),
        (pd.DataFrame({"ff": [True]}), {}, UnknownNodeError, "unknown node 'ff'; did you mean 'f'"),
        (
            pd.DataFrame({"f": ["maybe"]}),
            {},
            InvalidStateError,
            "invalid value 'maybe' in column 'f'",
        ),
        (pd.DataFrame({"f": [2]}), {}, InvalidStateError, "invalid value 2 in column 'f'"),
        (pd.DataFrame({"f": []}), {}, InvalidArgumentError, "the data have no cases"),
        (pd.DataFrame({"f": [True]}), {"strength": -1}, InvalidArgumentError, "from 0 to 1e"),
        (pd.DataFrame({"f": [True]}), {"strength": 1e308}, InvalidArgumentError, "from 0 to 1e"),
        (pd.DataFrame({"f": [True]}), {"strength": math.inf}, InvalidArgumentError, "from 0 to 1e"),
        (pd.DataFrame({"f": [True]}), {"max_iterations": 0}, InvalidArgumentError, "at least 1"),
        (pd.DataFrame({"f": [True]}), {"tolerance": 0}, InvalidArgumentError, "tolerance"),
    ],
)
def test_bad_input_is_refused(data, options, error, message):
    with pytest.raises(error, match=message):
        bayesleg.load(TINY).update(data, **{"strength": 1, **options})


def test_a_case_impossible_under_the_model_is_named():
    # In tiny.toml symptom s has leak 0: s present with c and d absent cannot happen.
    cases = pd.DataFrame({"c": [True, False], "d": [False, False], "s": [True, True]})
    cases.index = ["first", "second"]
    with pytest.raises(ImpossibleEvidenceError, match=r"row 'second'.*never moves"):
        bayesleg.load(TINY).update(cases, strength=1)


# -- the command -------------------------------------------------------------------


def _bayesleg(*args: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "bayesleg", *args], capture_output=True, text=True, check=False
    )


def test_the_command_writes_an_updated_model_file(tmp_path):
    data = tmp_path / "cases.csv"
    data.write_text("f,s\nyes,\nno,\nyes,\n,True\n")
    output = tmp_path / "updated.toml"
    run = _bayesleg("update", str(data), "--strength", "4", "-o", str(output), "--model", str(TINY))
    assert run.returncode == 0, run.stderr
    updated = bayesleg.load(output)
    assert updated.spec.provenance[0].data == "cases.csv"
    assert updated.spec.provenance[0].cases == 4
    assert "Updated tiny from 4 cases in cases.csv (strength 4)" in run.stdout
    assert "f.prior" in run.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.csv", "--strength", "1"], "cannot read cases from 'missing.csv'"),
        (["{data}", "--strength", "-1"], "expected a number from 0 to 1e+12 (cases), got '-1'"),
    ],
)
def test_the_command_refuses_bad_input_on_one_line(arguments, message, tmp_path):
    data = tmp_path / "cases.csv"
    data.write_text("f\nyes\n")
    arguments = [a.format(data=data) for a in arguments]
    run = _bayesleg("update", *arguments, "-o", str(tmp_path / "x.toml"), "--model", str(TINY))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and message in run.stderr


# -- data with nothing observed, and how bad data are named ------------------------


def test_rows_with_nothing_observed_are_left_out_and_not_counted():
    # 30 of 30 observed rows say f is present; 20 rows observe nothing at all.
    # The prior f = 0.25 is worth 100 cases: (100 * 0.25 + 30) / (100 + 30).
    cases = pd.DataFrame({"f": [True] * 30 + [None] * 20, "s": [None] * 50})
    result = fit(bayesleg.load(TINY), cases, strength=100)
    assert result.cases == 30 and result.rows == 50
    assert result.unobserved == ("s",)
    assert result.estimates[("f", "prior")] == pytest.approx(55 / 130, abs=1e-6)
    updated = bayesleg.load(TINY).update(cases, strength=100)
    assert updated.spec.provenance[-1].cases == 30


@pytest.mark.parametrize("rows", [1, 50])
def test_data_with_no_observed_value_are_refused(rows):
    cases = pd.DataFrame({"f": [None] * rows, "s": [float("nan")] * rows})
    with pytest.raises(InvalidArgumentError, match=rf"{rows} rows? but not one observed value"):
        bayesleg.load(TINY).update(cases, strength=1)


def test_a_bad_value_is_named_with_its_row_not_a_good_value_of_its_column():
    # As pandas reads a CSV column holding "False" and "maybe": strings both.
    cases = pd.DataFrame({"f": ["False", "True", "maybe"]}, index=[10, 11, 12])
    with pytest.raises(InvalidStateError, match=r"invalid value 'maybe' in column 'f', row 12;"):
        bayesleg.load(TINY).update(cases, strength=1)


def test_true_and_false_spelt_as_text_are_read():
    spelt = pd.DataFrame({"f": ["True", "false", "TRUE"]})
    assert fit(bayesleg.load(TINY), spelt, strength=0).estimates[("f", "prior")] == pytest.approx(
        2 / 3
    )


def test_read_cases_checks_every_cell_and_counts_lines_as_a_spreadsheet_does(tmp_path):
    from bayesleg.research.learn import read_cases

    path = tmp_path / "cases.csv"
    path.write_text('f,s\n yes ,NA\n\n"no",0\nTrue,\n', encoding="utf-8")
    cases = read_cases(path)
    assert cases.to_dict(orient="list") == {"f": [True, False, True], "s": [None, False, None]}
    assert list(cases.index) == [2, 4, 5]  # line 3 is blank
    path.write_text("f,s\nyes,no\n\nno,Maybe\nmaybe,yes\n", encoding="utf-8")
    with pytest.raises(
        InvalidStateError,
        match=r"line 4 \(the header is line 1\), column 's': invalid value 'Maybe'; expected yes",
    ):
        read_cases(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("f,s,f\nyes,no,no\n", r"line 1: column 'f' appears twice \(columns 1 and 3\)"),
        ("f,s\nyes,no\nyes,no,no\n", r"line 3 \(the header is line 1\): 3 cells, but the header"),
        ("", "is empty; expected a header line"),
        (b"f\n\xff\n", "is not UTF-8 text"),
        # One case a line: a line of a mebibyte and more is refused before it is held.
        ("f\n" + "y" * (1024 * 1024 + 1), "a line longer than 1048576 characters"),
    ],
)
def test_read_cases_refuses_a_malformed_file(text, message, tmp_path):
    from bayesleg.research.learn import read_cases

    path = tmp_path / "cases.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=message):
        read_cases(path)


def test_an_impossible_case_from_a_file_is_named_by_its_line(tmp_path):
    from bayesleg.research.learn import read_cases

    path = tmp_path / "cases.csv"
    path.write_text("c,d,s\nyes,no,yes\nno,no,yes\n", encoding="utf-8")
    with pytest.raises(ImpossibleEvidenceError, match=r"line 3 of the file \(the header is line 1"):
        bayesleg.load(TINY).update(read_cases(path), strength=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (",\n,\n,\n", "3 rows but not one observed value"),
        ("f,s\nyes,no\nno,maybe\n", "line 3 (the header is line 1), column 's': invalid value"),
        ("f,f\nyes,no\n", "column 'f' appears twice"),
    ],
)
def test_the_command_refuses_data_it_cannot_use_on_one_line(text, message, tmp_path):
    data = tmp_path / "cases.csv"
    data.write_text("f,s\n" + text if text.startswith(",") else text, encoding="utf-8")
    output = tmp_path / "x.toml"
    run = _bayesleg("update", str(data), "--strength", "1", "-o", str(output), "--model", str(TINY))
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert message in run.stderr and "Traceback" not in run.stderr
    assert not output.exists()


def test_the_command_reports_the_cases_it_used(tmp_path):
    data = tmp_path / "cases.csv"
    data.write_text("f,s,t\nyes,,\n,,\nno,,\n,,\n", encoding="utf-8")
    output = tmp_path / "updated.toml"
    run = _bayesleg("update", str(data), "--strength", "4", "-o", str(output), "--model", str(TINY))
    assert run.returncode == 0, run.stderr
    assert "Updated tiny from 2 cases in cases.csv" in run.stdout
    assert "warning: 2 of 4 rows have no observed value and were left out" in run.stdout
    assert "warning: columns 's', 't' hold no observed value" in run.stdout
    assert bayesleg.load(output).spec.provenance[-1].cases == 2


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"strength": Fraction(1, 3)}, "got Fraction(1, 3)"),
        ({"strength": 1, "data_name": 5}, "data_name must be printable text"),
        ({"strength": 1, "data_name": "\ud800"}, "data_name must be printable text"),
    ],
)
def test_options_are_checked_before_the_fit(options, words):
    tiny = bayesleg.load(TINY)
    with pytest.raises(InvalidArgumentError, match=re.escape(words)):
        tiny.update(pd.DataFrame({"f": [True, False]}), **options)
