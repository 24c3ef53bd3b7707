"""Sensitivity to the hand-set numbers, on the tiny model worked by hand.

The tiny model (tests/fixtures/tiny.toml) is F -> C -> S <- D, plus a lone
symptom T: P(F) = 0.25; P(C | F) = 1 - (1 - leak_C)(1 - w_FC) with leak_C =
0.15 and w_FC = 0.5; P(D) = leak_D = 0.25; P(S | C, D) = 1 - (1 - 0.75)^C
(1 - 0.6)^D; P(T) = 0.1.
"""

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from spec_edits import with_value
from twin_network import Worlds, nodes_from_spec

import bayesleg
from bayesleg import ImpossibleEvidenceError, InvalidArgumentError, UnknownNodeError
from bayesleg.knowledge.modelfile import Parameter, Source
from bayesleg.research._montecarlo import two_sided_triangular as _two_sided_triangular
from bayesleg.research._ranges import _range
from bayesleg.research.evaluate import Vignette
from bayesleg.research.sensitivity import parameter_ranges

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
PRACTICES = Path(__file__).parent / "fixtures" / "practices.toml"
SOURCE = Source("001_a6af47fc61bf8c8f.txt", "quoted")


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


@pytest.mark.parametrize(
    ("p", "verbal", "low", "high"),
    [
        (0.02, "improbable", 0.01, 0.25),  # off its anchor: 0 pulled halfway to the value
        (0.15, "improbable", 0.075, 0.25),
        (0.25, "uncertain", 0.15, 0.5),
        (0.5, "fifty-fifty", 0.25, 0.75),
        (0.6, "fifty-fifty", 0.25, 0.75),
        (0.85, "probable", 0.75, 0.925),  # 1 pulled halfway to the value
        (1.0, "certain", 0.85, 1.0),
        (0.0, "impossible", 0.0, 0.15),
        (0.3, "improbable", 0.15, 0.3),  # above its anchors: widened to contain the value
    ],
)
def test_ranges_follow_the_verbal_scale(p, verbal, low, high):
    found = _range("n", "leak", Parameter(p, verbal, SOURCE, "a note"))
    assert (found.low, found.high) == pytest.approx((low, high))
    assert found.basis == "verbal scale"
    assert found.low <= found.p <= found.high


def test_explicit_bounds_win():
    both = _range("n", "leak", Parameter(0.3, "uncertain", SOURCE, "n", low=0.2, high=0.4))
    assert (both.low, both.high, both.basis) == (0.2, 0.4, "model file")
    one = _range("n", "leak", Parameter(0.25, "uncertain", SOURCE, None, high=0.3))
    assert (one.low, one.high, one.basis) == (0.15, 0.3, "model file and verbal scale")


def test_every_number_of_the_tiny_model_has_a_range(tiny):
    ranges = parameter_ranges(tiny.spec)
    assert [r.name for r in ranges] == [
        "f.prior",
        "c.leak",
        "c.parents.f",
        "d.leak",
        "s.leak",
        "s.parents.c",
        "s.parents.d",
        "t.leak",
    ]
    # s.parents.d is 0.6, noted, on "fifty-fifty": 0.25 to 0.75.
    assert [(r.low, r.high) for r in ranges][6] == (0.25, 0.75)


def test_one_number_at_a_time_worked_by_hand(tiny):
    # Evidence F: the top cause is C with P(C | F) = 1 - (1 - leak)(1 - w) = 0.575.
    case = bayesleg.sensitivity(tiny, {"f": True}, samples=0).cases[0]
    assert (case.top, case.posterior) == ("c", pytest.approx(0.575, abs=1e-12))
    bars = {bar.parameter.name: bar for bar in case.tornado}
    # w_FC over 0.25..0.75: 1 - 0.85 * 0.75 = 0.3625 and 1 - 0.85 * 0.25 = 0.7875.
    weight = bars["c.parents.f"]
    assert (weight.posterior_low, weight.posterior_high) == pytest.approx(
        (0.3625, 0.7875), abs=1e-12
    )
    assert weight.swing == pytest.approx(0.425, abs=1e-12)
    # leak_C over 0.075..0.25: 1 - 0.925 * 0.5 = 0.5375 and 1 - 0.75 * 0.5 = 0.625.
    leak = bars["c.leak"]
    assert (leak.posterior_low, leak.posterior_high) == pytest.approx((0.5375, 0.625), abs=1e-12)
    # F is observed, D is independent of C, S and T are unobserved: no effect.
    for name in ("f.prior", "d.leak", "s.leak", "s.parents.c", "s.parents.d", "t.leak"):
        assert bars[name].swing == pytest.approx(0.0, abs=1e-12)
        assert bars[name].posterior_low == pytest.approx(0.575, abs=1e-12)
    assert [bar.parameter.name for bar in case.tornado[:2]] == ["c.parents.f", "c.leak"]


def c_given_s(c, d):
    """P(C | S) by hand, for P(C) = c and P(D) = d (S has no leak)."""
    with_c = c * ((1 - d) * 0.75 + d * (1 - 0.25 * 0.4))
    without_c = (1 - c) * d * 0.6
    return with_c / (with_c + without_c)


def test_an_explaining_away_number_worked_by_hand(tiny):
    # Evidence S: C and D compete to explain it, so D's leak moves P(C | S).
    c = 0.25 * 0.575 + 0.75 * 0.15
    case = bayesleg.sensitivity(tiny, {"s": True}, samples=0).cases[0]
    assert (case.top, case.posterior) == ("c", pytest.approx(c_given_s(c, 0.25), abs=1e-12))
    bar = next(bar for bar in case.tornado if bar.parameter.name == "d.leak")
    expected = (c_given_s(c, 0.15), c_given_s(c, 0.5))  # 0.747 and 0.487
    assert (bar.posterior_low, bar.posterior_high) == pytest.approx(expected, abs=1e-12)
    # F's prior moves P(C) = P(F) * 0.575 + (1 - P(F)) * 0.15, over P(F) in 0.15..0.5.
    bar = next(bar for bar in case.tornado if bar.parameter.name == "f.prior")
    expected = tuple(c_given_s(f * 0.575 + (1 - f) * 0.15, 0.25) for f in (0.15, 0.5))
    assert (bar.posterior_low, bar.posterior_high) == pytest.approx(expected, abs=1e-12)


def test_every_kind_of_number_has_a_range():
    names = [r.name for r in parameter_ranges(bayesleg.load(PRACTICES).spec)]
    assert names[3:10] == [
        "overtraining.leak",
        "overtraining.parents.high_intensity+insufficient_rest",
        "muscle_fatigue.leak",
        "muscle_fatigue.parents.overtraining",
        "muscle_fatigue.parents.overtraining+high_intensity",
        "muscle_fatigue.prevented_by.insufficient_rest",
        "muscle_fatigue.prevented_by.skipped_warmup",
    ]
    assert len(names) == 18


def test_moving_any_number_matches_the_model_rebuilt_with_it():
    """Every prior, leak, joint weight and preventer of the practices fixture, at both ends:
    the model rebuilt with that value, and brute force over its noise, give the same posterior."""
    model = bayesleg.load(PRACTICES)
    evidence = {"weakness": True, "cramps": True, "skipped_warmup": False}
    case = bayesleg.sensitivity(model, evidence, samples=0).cases[0]
    assert case.top == "dehydration"
    moved = 0
    for bar in case.tornado:
        for value, posterior in (
            (bar.parameter.low, bar.posterior_low),
            (bar.parameter.high, bar.posterior_high),
        ):
            spec = with_value(model.spec, bar.parameter.name, value)
            rebuilt = bayesleg.Model(spec).diagnose(evidence)
            assert posterior == pytest.approx(
                next(c.posterior for c in rebuilt.ranked if c.id == case.top), abs=1e-12
            )
            worlds = Worlds(nodes_from_spec(spec))
            assert posterior == pytest.approx(worlds.posterior(case.top, evidence), abs=1e-12)
        moved += bar.swing > 1e-6
    # Every number reaches the posterior but skipped_warmup's prior (it is observed).
    assert moved == len(case.tornado) - 1


def _assert_ends_match_the_rebuilt_model(model, evidence, bar, top):
    """The bar's posterior at each end of its number's range is the rebuilt model's."""
    name = bar.parameter.name
    for value, posterior in (
        (bar.parameter.low, bar.posterior_low),
        (bar.parameter.high, bar.posterior_high),
    ):
        rebuilt = bayesleg.Model(with_value(model.spec, name, value)).diagnose(evidence)
        expected = next(c.posterior for c in rebuilt.ranked if c.id == top)
        assert posterior == pytest.approx(expected, abs=1e-12)


def test_moving_a_preventer_of_the_shipped_model_matches_the_model_rebuilt_with_it():
    """glycogen_depletion has a joint term with fasted, and fasted absent prevents it."""
    model = bayesleg.load()
    evidence = {"heaviness": True, "soreness": True, "long_session": True, "high_intensity": False}
    case = bayesleg.sensitivity(model, evidence, samples=0).cases[0]
    bars = {bar.parameter.name: bar for bar in case.tornado}
    for name in (
        "glycogen_depletion.prevented_by.fasted",
        "glycogen_depletion.parents.long_session+fasted",
        "muscle_fatigue.prevented_by.high_intensity",
    ):
        bar = bars[name]
        _assert_ends_match_the_rebuilt_model(model, evidence, bar, case.top)
        # Heaviness and soreness are observed, so every one of these numbers reaches the case.
        assert bar.swing > 1e-6


def test_a_finding_observed_absent_is_factorised_exactly(monkeypatch):
    """A noisy-OR finding observed absent enters as one small table per parent
    (research._parametric.structure): its numbers move the case as in the model
    rebuilt with them, and the whole analysis is the one of the network that
    keeps the finding whole."""
    from bayesleg.research import _parametric, oneway

    model = bayesleg.load()
    evidence = {"tingling": True, "numbness": False, "cramps": False, "diabetes": True}
    normalised = {"tingling": "present", "numbness": "absent", "cramps": "absent"}
    normalised["diabetes"] = "present"
    kept, absent = _parametric.structure(model.spec, normalised)
    assert absent == {"numbness", "cramps"} and not absent & kept
    factorised = bayesleg.sensitivity(model, evidence, samples=200, seed=3).cases[0]
    bars = {bar.parameter.name: bar for bar in factorised.tornado}
    for name in ("numbness.leak", "numbness.parents.peripheral_neuropathy", "cramps.leak"):
        _assert_ends_match_the_rebuilt_model(model, evidence, bars[name], factorised.top)
    # A weight of an absent finding moves the case; its leak, a constant factor, does not.
    assert bars["numbness.parents.peripheral_neuropathy"].swing > 1e-6
    assert bars["numbness.leak"].swing < 1e-12
    # The same analysis with every finding kept whole.
    monkeypatch.setattr(_parametric, "_factorable", lambda key: frozenset())
    _parametric._cached.cache_clear()
    oneway._factors.cache_clear()
    try:
        whole = bayesleg.sensitivity(model, evidence, samples=200, seed=3).cases[0]
    finally:
        _parametric._cached.cache_clear()
        oneway._factors.cache_clear()
    assert whole.top == factorised.top
    assert len(whole.tornado) == len(bars)
    for a in whole.tornado:
        b = bars[a.parameter.name]
        assert (a.posterior_low, a.posterior_high) == pytest.approx(
            (b.posterior_low, b.posterior_high), abs=1e-12
        )
    for a, b in zip(whole.intervals, factorised.intervals, strict=True):
        assert (a.id, a.top_share) == (b.id, b.top_share)
        assert (a.low, a.median, a.high) == pytest.approx((b.low, b.median, b.high), abs=1e-12)
    for a, b in zip(whole.deviations, factorised.deviations, strict=True):
        assert (a.lower, a.upper) == pytest.approx((b.lower, b.upper), abs=1e-9)


def test_monte_carlo_is_seeded(tiny):
    first = bayesleg.sensitivity(tiny, {"s": True}, samples=200, seed=7)
    again = bayesleg.sensitivity(tiny, {"s": True}, samples=200, seed=7)
    other = bayesleg.sensitivity(tiny, {"s": True}, samples=200, seed=8)
    assert first.to_dict() == again.to_dict()
    assert first.cases[0].intervals != other.cases[0].intervals
    assert (first.samples, first.seed) == (200, 7)


def test_monte_carlo_structure(tiny):
    case = bayesleg.sensitivity(tiny, {"s": True}, samples=300, seed=1).cases[0]
    assert [i.id for i in case.intervals] == ["c", "d"]  # the hand-set ranking
    for interval in case.intervals:
        assert 0.0 <= interval.low <= interval.median <= interval.high <= 1.0
    assert sum(i.top_share for i in case.intervals) == pytest.approx(1.0)
    assert case.stability == case.intervals[0].top_share
    # Both compete for S, so neither is first in every draw nor in none.
    assert 0.5 < case.stability < 1.0


def test_without_draws_the_intervals_are_the_posteriors(tiny):
    case = bayesleg.sensitivity(tiny, {"s": True}, samples=0).cases[0]
    assert case.stability == 1.0
    assert all(i.low == i.median == i.high == i.posterior for i in case.intervals)


def test_two_sided_triangular_draws():
    rng = np.random.default_rng(3)
    low = np.array([0.01, 0.5, 0.0, 0.3])
    mode = np.array([0.02, 0.5, 0.0, 0.3])
    high = np.array([0.25, 0.9, 0.15, 0.3])
    draws = _two_sided_triangular(rng, low, mode, high, 20000)
    assert (draws >= low).all() and (draws <= high).all()
    # Half the draws below the mode (binomial sd 0.0035 at n = 20000), none where there is no room.
    assert np.mean(draws[:, 0] < mode[0]) == pytest.approx(0.5, abs=0.02)
    assert np.mean(draws[:, 1] < mode[1]) == 0.0
    assert np.mean(draws[:, 2] > mode[2]) == 1.0
    assert (draws[:, 3] == 0.3).all()  # an empty range gives the value itself
    # Above the mode, P(X > x) = ((high - x) / (high - mode))^2 / 2: at the midpoint, 1/8.
    assert np.mean(draws[:, 0] > (0.02 + 0.25) / 2) == pytest.approx(1 / 8, abs=0.01)


def test_many_cases_match_one_at_a_time(tiny):
    cases = [{"f": True}, Vignette(id="v", evidence={"s": "yes"}), {"t": False}]
    together = bayesleg.sensitivity(tiny, cases, samples=20, seed=0)
    assert [case.id for case in together.cases] == [None, "v", None]
    for case, evidence in zip(
        together.cases, ({"f": True}, {"s": "yes"}, {"t": False}), strict=True
    ):
        alone = bayesleg.sensitivity(tiny, evidence, samples=0).cases[0]
        assert case.top == alone.top and case.posterior == pytest.approx(alone.posterior, abs=1e-12)
        assert [(b.parameter.name, round(b.swing, 9)) for b in case.tornado] == [
            (b.parameter.name, round(b.swing, 9)) for b in alone.tornado
        ]
    assert set(together.mean_swing()) == {r.name for r in together.parameters}


def test_progress_is_reported_per_chunk(tiny, monkeypatch):
    whole = bayesleg.sensitivity(tiny, {"f": True}, samples=5, seed=3)
    # One member of the batch per chunk: the 5 draws of the one case take 5 chunks.
    monkeypatch.setattr("bayesleg.research._parametric._WORK", 1)
    calls = []
    chunked = bayesleg.sensitivity(
        tiny,
        {"f": True},
        samples=5,
        seed=3,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(done, 5) for done in range(1, 6)]
    assert chunked.to_dict() == whole.to_dict()


def test_errors(tiny):
    with pytest.raises(InvalidArgumentError, match="samples must be a whole number >= 0, got -1"):
        bayesleg.sensitivity(tiny, {"f": True}, samples=-1)
    with pytest.raises(InvalidArgumentError, match="seed must be a whole number >= 0 or None"):
        bayesleg.sensitivity(tiny, {"f": True}, seed=-1)
    with pytest.raises(InvalidArgumentError, match="samples must be at most 2033601 for this"):
        bayesleg.sensitivity(tiny, {"f": True}, samples=10**10)
    with pytest.raises(UnknownNodeError, match="unknown node 'g'"):
        bayesleg.sensitivity(tiny, {"g": True})
    with pytest.raises(ImpossibleEvidenceError, match="probability zero"):
        bayesleg.sensitivity(tiny, {"c": False, "d": False, "s": True}, samples=0)
    with pytest.raises(bayesleg.InvalidEvidenceError, match="no cases given"):
        bayesleg.sensitivity(tiny, [])


def test_cli(tiny, tmp_path):
    result = run_cli(
        "sensitivity", "f", "--model", str(TINY), "--samples", "30", "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    payload = json.loads(result.stdout)
    expected = bayesleg.sensitivity(tiny, {"f": True}, samples=30, seed=0).to_dict()
    assert payload == json.loads(json.dumps(expected))
    table = run_cli(
        "sensitivity", "s", "--model", str(TINY), "--samples", "30", "--quiet", cwd=tmp_path
    )
    assert table.returncode == 0, table.stderr
    assert "Top cause: c" in table.stdout
    assert any(line.split()[0] == "d.leak" for line in table.stdout.splitlines() if line.strip())
    assert "stays first in" in table.stdout
    bad = run_cli("sensitivity", "--samples", "-3", "--model", str(TINY), cwd=tmp_path)
    assert bad.returncode == 2 and "expected a whole number >= 0, got '-3'" in bad.stderr


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_cli_progress_bar_only_on_a_terminal(monkeypatch):
    from bayesleg.cli.sensitivity import progress_bar

    with progress_bar(quiet=True) as callback:
        assert callback is None
    with progress_bar(quiet=False) as callback:  # pytest captures stderr: not a terminal
        assert callback is None
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress_bar(quiet=False) as callback:
        callback(1, 4)  # short work: no bar
        callback(4, 4)
    assert terminal.getvalue() == ""
    with progress_bar(quiet=False) as callback:
        callback(1, 40)
        callback(40, 40)
    # Drawn with the total known from the first call (updates are throttled), then cleared.
    assert "Monte Carlo:   0%|" in terminal.getvalue() and "0/40" in terminal.getvalue()


def test_cli_vignette_file(tmp_path):
    from bayesleg.research.evaluate import read_vignettes

    path = Path(__file__).parent.parent / "data" / "vignettes.jsonl"
    result = run_cli(
        "sensitivity", "--vignettes", str(path), "--samples", "0", "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    expected = bayesleg.sensitivity(bayesleg.load(), read_vignettes(path), samples=0).to_dict()
    assert payload == json.loads(json.dumps(expected))
    assert payload["flips"] and all(f["taker"] != f["top"] for f in payload["flips"])
    table = run_cli("sensitivity", "--vignettes", str(path), "--samples", "0", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "v01-glycogen-fasted-long-run" in table.stdout
    assert "Numbers whose plausible range can change a case's first cause" in table.stdout
    both = run_cli("sensitivity", "cramps", "--vignettes", str(path), cwd=tmp_path)
    assert both.returncode == 2 and "give evidence or --vignettes, not both" in both.stderr


def test_a_progress_that_cannot_be_called_is_refused_before_the_work():
    model = bayesleg.load()
    with pytest.raises(InvalidArgumentError, match="progress must be a function"):
        bayesleg.sensitivity(model, {"cramps": True}, samples=10, progress=5)
