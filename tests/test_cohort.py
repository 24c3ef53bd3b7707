"""Batched scoring (bayesleg.reasoning.cohort): the same answers as case by case.

The triage scores are checked against the definition computed the plain way
-- one engine query for the "yes" answers alone and one more per "no"
answer -- and the batched triage against ``assess_triage`` on the vignettes
and on random cases.
"""

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from brute_force import posteriors as brute_posteriors

import bayesleg
from bayesleg.errors import ConditionColumnWarning, ImpossibleEvidenceError, InvalidStateError
from bayesleg.knowledge.evidence import normalise_evidence
from bayesleg.reasoning.triage import assess_triage
from bayesleg.research.evaluate import read_vignettes

DATA = Path(__file__).resolve().parent.parent / "data"
VIGNETTE_FILES = ("vignettes.jsonl", "vignettes_holdout.jsonl", "vignettes_benign.jsonl")


@pytest.fixture(scope="module")
def shipped():
    return bayesleg.load()


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(Path(__file__).parent / "fixtures" / "tiny.toml")


def _ids(model):
    return tuple(node.id for node in model.nodes)


def _vignette_cases():
    cases = []
    for name in VIGNETTE_FILES:
        cases += [vignette.evidence for vignette in read_vignettes(DATA / name)]
    return cases


def _random_cases(model, n, seed):
    """Cases drawn from the model, each node kept with probability 0.1 to 0.6."""
    rng = np.random.default_rng(seed)
    cohort = model.simulate(n, seed=seed)
    observable = [*model.factors, *model.symptoms]
    cases = []
    for row in cohort[observable].to_dict(orient="records"):
        rate = rng.uniform(0.1, 0.6)
        cases.append({node: bool(value) for node, value in row.items() if rng.random() < rate})
    return cases


def _log_odds(p):
    with np.errstate(divide="ignore"):
        return math.log(p) - math.log1p(-p) if 0 < p < 1 else (math.inf if p >= 1 else -math.inf)


def _reference_scores(model, evidence):
    """The triage score by its definition: one query for "yes" alone, one per "no" added."""
    yes = {node: state for node, state in evidence.items() if state == "present"}
    no = [node for node, state in evidence.items() if state == "absent"]
    queries = [yes] + [{**yes, node: "absent"} for node in no]
    marginals = model.engine.posteriors(queries, targets=model.conditions)
    scores = {}
    for condition in model.conditions:
        column = marginals[condition][:, 1]
        base = _log_odds(float(column[0]))
        total = base
        for answered in column[1:]:
            change = _log_odds(float(answered)) - base if _log_odds(float(answered)) != base else 0
            total += min(0.0, change)
        scores[condition] = (
            1.0 / (1.0 + math.exp(-total)) if math.isfinite(total) else float(total > 0)
        )
    return scores


def _assert_same_triage(model, evidence, diagnosis, scores=None):
    posteriors = {cause.id: cause.posterior for cause in diagnosis.ranked}
    expected = assess_triage(model.spec, evidence, posteriors, scores=scores)
    assert diagnosis.triage == expected


@pytest.mark.parametrize("source", ["vignettes", "random"])
def test_batched_triage_matches_the_definition_and_assess_triage(shipped, source):
    raw = _vignette_cases() if source == "vignettes" else _random_cases(shipped, 150, seed=3)
    cases = [normalise_evidence(case, _ids(shipped)) for case in raw]
    batch = shipped.diagnose_many(cases)
    raised = 0
    for evidence, diagnosis in zip(cases, batch, strict=True):
        _assert_same_triage(shipped, evidence, diagnosis, _reference_scores(shipped, evidence))
        raised += any(reason.kind == "condition" for reason in diagnosis.triage.reasons)
    assert raised > 0  # the comparison covers raised conditions, not only empty reasons


def test_triage_scores_agree_with_the_definition_to_1e_9(shipped):
    scorer = shipped._scorer
    cases = [normalise_evidence(case, _ids(shipped)) for case in _random_cases(shipped, 60, seed=8)]
    from bayesleg.reasoning.cohort import encode_cases

    scored = scorer.score(encode_cases(cases, scorer.node_ids))
    triage = scored.triage
    compared = 0
    for i, evidence in enumerate(cases):
        reference = _reference_scores(shipped, evidence)
        for k, condition in enumerate(scorer.conditions):
            if reference[condition] >= triage.thresholds[i, k] and scorer.rules.judged[k]:
                assert triage.scores[i, k] == pytest.approx(reference[condition], abs=1e-9)
                compared += 1
    assert compared > 0


def test_one_case_alone_or_in_a_batch_gives_the_same_diagnosis(shipped):
    cases = _random_cases(shipped, 40, seed=5)
    batch = shipped.diagnose_many(cases)  # large enough for the batch-last layout
    small = shipped.diagnose_many(cases[:3])  # not: the same bits as one case alone
    for case, batched in zip(cases, batch, strict=True):
        alone = shipped.diagnose(case)
        assert [c.id for c in alone.ranked] == [c.id for c in batched.ranked]
        assert alone.triage == batched.triage
        assert alone.advice == batched.advice
        for one, many in zip(alone.ranked, batched.ranked, strict=True):
            assert one.posterior == pytest.approx(many.posterior, rel=1e-12, abs=1e-15)
            assert one.prior == pytest.approx(many.prior, rel=1e-12, abs=1e-15)
    for case, batched in zip(cases, small, strict=False):
        assert shipped.diagnose(case) == batched


def test_rank_frame_matches_diagnose_many_row_by_row(shipped):
    cases = _random_cases(shipped, 80, seed=9)
    frame = pd.DataFrame(cases, columns=[*shipped.factors, *shipped.symptoms])
    ranked = shipped.rank_frame(frame)
    batch = shipped.diagnose_many(cases)
    assert list(ranked.columns) == [*shipped.conditions, "top_cause", "triage"]
    for row, diagnosis in zip(ranked.itertuples(index=False), batch, strict=True):
        values = row._asdict()
        assert values["top_cause"] == diagnosis.top.id
        assert values["triage"] == diagnosis.triage.level
        for cause in diagnosis.ranked:
            assert values[cause.id] == cause.posterior


def test_rank_frame_reads_0_1_true_false_and_missing_values(tiny):
    expected = tiny.rank_frame(
        pd.DataFrame({"f": ["present", "absent", None], "s": ["yes", None, "no"]})
    )
    for f, s in (
        ([1, 0, None], [1, None, 0]),
        ([1.0, 0.0, np.nan], [1.0, np.nan, 0.0]),
        ([True, False, None], [True, None, False]),
        (
            pd.array([True, False, None], dtype="boolean"),
            pd.array([True, None, False], dtype="boolean"),
        ),
    ):
        pd.testing.assert_frame_equal(
            tiny.rank_frame(pd.DataFrame({"f": f, "s": s})), expected, check_exact=True
        )
    with pytest.raises(InvalidStateError, match=r"^case 1: invalid value 2 in column 'f'") as bad:
        tiny.rank_frame(pd.DataFrame({"f": [1, 2]}))
    assert bad.value.case == 1


def test_rank_frame_warns_of_condition_columns(tiny):
    with pytest.warns(ConditionColumnWarning, match=r"observes the condition\(s\) c"):
        ranked = tiny.rank_frame(pd.DataFrame({"c": [True], "s": [True]}))
    assert ranked["c"].iloc[0] == 1.0


def test_rank_frame_of_no_rows_and_of_no_columns(tiny):
    empty = tiny.rank_frame(pd.DataFrame({"s": pd.Series([], dtype=bool)}))
    assert len(empty) == 0
    assert list(empty.columns) == [*tiny.conditions, "top_cause", "triage"]
    nothing = tiny.rank_frame(pd.DataFrame(index=range(2)))
    alone = tiny.diagnose({})
    assert nothing["top_cause"].tolist() == [alone.top.id] * 2


def test_impossible_rows_are_named(tiny):
    # S has leak 0, so S present with both of its causes absent cannot happen.
    frame = pd.DataFrame({"c": [None, False], "d": [None, False], "s": [True, True]})
    with (
        pytest.warns(ConditionColumnWarning),
        pytest.raises(ImpossibleEvidenceError, match="for case 1:") as raised,
    ):
        tiny.rank_frame(frame)
    assert raised.value.case == 1


def test_rank_frame_levels_match_diagnose_many_where_red_flags_settle_them(shipped):
    # rank_frame skips the triage scores of cases whose red flags already set
    # the highest level a condition can raise; the levels stay the same.
    cases = [normalise_evidence(c, _ids(shipped)) for c in _vignette_cases()]
    cases += [normalise_evidence(c, _ids(shipped)) for c in _random_cases(shipped, 200, seed=11)]
    scorer = shipped._scorer
    from bayesleg.reasoning.cohort import encode_cases

    codes = encode_cases(cases, scorer.node_ids)
    present = codes == 1
    settled = (
        (scorer.rules.flag_levels(present) >= scorer.rules.highest_care)
        & scorer.rules.symptom_present(present)
        & (codes == 0).any(axis=1)
    )
    assert settled.sum() > 0 and (~settled).sum() > 0
    frame = pd.DataFrame(cases, columns=[*shipped.factors, *shipped.symptoms])
    ranked = shipped.rank_frame(frame)
    levels = [diagnosis.triage.level for diagnosis in shipped.diagnose_many(cases)]
    assert ranked["triage"].tolist() == levels
    assert "see_doctor" in levels and "self_care" in levels


def test_repeated_cases_give_the_same_bits_as_distinct_ones(shipped):
    cases = _random_cases(shipped, 40, seed=12)
    once = shipped.diagnose_many(cases)
    again = shipped.diagnose_many(cases + cases[::-1] + cases[:7])
    assert again == once + once[::-1] + once[:7]
    frame = pd.DataFrame(cases, columns=[*shipped.factors, *shipped.symptoms])
    doubled = pd.concat([frame, frame], ignore_index=True)
    pd.testing.assert_frame_equal(
        shipped.rank_frame(doubled),
        pd.concat([shipped.rank_frame(frame)] * 2, ignore_index=True),
        check_exact=True,
    )


def test_the_first_impossible_case_is_named_among_repeated_ones(tiny):
    # Enough distinct cases for the repeated ones to be propagated once.
    values = (None, True, False)
    distinct = [{"f": f, "t": t, "d": d} for f in values for t in values for d in values]
    impossible = {"s": True, "c": False, "d": False}
    cases = distinct + distinct[::-1] + [impossible] + distinct + [impossible] * 3
    with pytest.raises(ImpossibleEvidenceError, match="for case 54:") as raised:
        tiny.diagnose_many(cases)
    assert raised.value.case == 54


@pytest.mark.parametrize(
    "case",
    [
        {"fasted": True, "heaviness": "yes", "cramps": None, "diabetes": "no"},
        {"fasted": np.bool_(True), "heaviness": "Present"},
        {"fasted": "absent", "heaviness": False},
        {},
    ],
)
def test_diagnose_many_reads_evidence_as_diagnose_does(shipped, case):
    assert shipped.diagnose_many([case] * 20)[0].evidence == shipped.diagnose(case).evidence


def test_plain_cases_are_encoded_at_once_as_one_at_a_time(shipped):
    """The encoding of a batch of plain dicts, in one pass over all values, is the
    case-by-case one; anything else in the batch sends it case by case."""
    from bayesleg.model import _encode_plain, _encode_strict

    rng = np.random.default_rng(4)
    ids = _ids(shipped)
    words = ["present", "absent", "yes", "no", True, False, None]
    cases = [
        {str(node): words[rng.integers(len(words))] for node in rng.choice(ids, rng.integers(8))}
        for _ in range(300)
    ]
    whole = _encode_strict(cases, shipped._positions)
    assert whole is not None
    one_by_one, others = _encode_plain([*cases, {"fasted": np.bool_(True)}], shipped._positions)
    assert [index for index, _ in others] == [len(cases)]  # the numpy bool, case by case
    assert np.array_equal(whole, one_by_one[:-1])
    assert (whole >= 0).sum() == sum(v is not None for case in cases for v in case.values())
    for odd in ({"fasted": 1}, {"fasted": "Present"}, {"fastd": True}, {"fastd": None}, 5):
        assert _encode_strict([*cases, odd], shipped._positions) is None


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ({"fasted": 1}, InvalidStateError, "case 1: invalid value 1 for 'fasted'"),
        ({"fastd": True}, bayesleg.errors.UnknownNodeError, "case 1: "),
        ([("fasted", True)], bayesleg.errors.InvalidEvidenceError, "case 1: "),
        ({"fastd": None}, bayesleg.errors.UnknownNodeError, "case 1: unknown node 'fastd'"),
    ],
)
def test_diagnose_many_names_the_bad_case(shipped, case, error, message):
    with pytest.raises(error, match=f"^{message}"):
        shipped.diagnose_many([{"fasted": True}, case])


def test_an_unknown_node_is_refused_even_when_unobserved(shipped):
    with pytest.raises(bayesleg.errors.UnknownNodeError, match=r"^unknown node 'fastd'"):
        shipped.diagnose({"fasted": True, "fastd": None})


def test_a_batch_diagnosis_is_the_one_the_constructor_gives(shipped):
    # diagnose_many builds each diagnosis's causes when first read; nothing
    # else tells it from a Diagnosis built whole.
    import copy
    import dataclasses
    import pickle

    from bayesleg.reasoning.diagnosis import Diagnosis, RankedCause

    case = {"fasted": True, "heaviness": True, "cramps": False, "diabetes": False}
    (lazy,) = shipped.diagnose_many([case])
    built = shipped.diagnose_many([case])[0]
    whole = Diagnosis(
        ranked=tuple(
            RankedCause(c.id, c.label, c.posterior, c.prior, c.likelihood_ratio, c.score)
            for c in built.ranked
        ),
        triage=built.triage,
        evidence=built.evidence,
        model_id=built.model_id,
        model_version=built.model_version,
        ranking=built.ranking,
        advice=built.advice,
    )
    fresh = [shipped.diagnose_many([case])[0] for _ in range(5)]
    assert fresh[0] == whole and whole == fresh[1]  # equal before and after building
    for diagnosis in (fresh[2], whole):  # pickled alike, the evidence read-only again
        loaded = pickle.loads(pickle.dumps(diagnosis))
        assert loaded == whole and vars(loaded) == vars(whole)
        with pytest.raises(TypeError):
            loaded.evidence["fasted"] = "absent"  # type: ignore[index]
    assert copy.deepcopy(fresh[2]) == whole
    assert copy.copy(fresh[3]) == whole and vars(copy.copy(fresh[4])) == vars(whole)
    assert lazy.to_dict() == whole.to_dict() and repr(lazy) == repr(whole)
    names = [field.name for field in dataclasses.fields(Diagnosis)]
    assert [getattr(lazy, name) for name in names] == [getattr(whole, name) for name in names]
    assert dataclasses.replace(lazy, ranking="posterior") == whole
    assert vars(lazy) == vars(whole)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        lazy.nothing  # noqa: B018


def test_threads_reading_a_batch_diagnosis_see_the_same_causes(shipped):
    from concurrent.futures import ThreadPoolExecutor

    cases = _random_cases(shipped, 30, seed=14)
    expected = [
        ([c.id for c in d.ranked], normalise_evidence(case, shipped._ids))
        for d, case in zip(shipped.diagnose_many(cases), cases, strict=True)
    ]

    def read(item: tuple[int, Any]) -> tuple[list[str], dict[str, str]]:
        k, diagnosis = item  # half the threads read the evidence first
        if k % 2:
            evidence = dict(diagnosis.evidence)
            return [c.id for c in diagnosis.ranked], evidence
        return [c.id for c in diagnosis.ranked], dict(diagnosis.evidence)

    for _ in range(5):
        batch = shipped.diagnose_many(cases)
        with ThreadPoolExecutor(4) as pool:
            seen = list(pool.map(read, enumerate(batch * 4)))
        assert seen == expected * 4
        # Both built: nothing of the batch is left in a diagnosis's state.
        assert not any({"_batch", "_index"} & vars(d).keys() for d in batch)


def test_yes_rows_taken_from_the_ancestors_match_brute_force():
    """Each "yes" row's P(condition | yes answers), by the scorer's two ways, against enumeration.

    A row observing nothing that descends from a condition's ancestors
    (other than those ancestors) takes the priors' small engine; the others
    the model's engine.  Both must be exact, and both ways must be taken.
    """
    import itertools

    from bayesleg.reasoning.cohort import encode_cases

    model = bayesleg.load(Path(__file__).parent / "fixtures" / "ancestry.toml")
    scorer = model._scorer
    observable = [*model.factors, *model.symptoms]
    cases = [
        {node: "present" for node, kept in zip(observable, chosen, strict=True) if kept}
        for chosen in itertools.product((False, True), repeat=len(observable))
    ]
    yes = encode_cases(cases, scorer.node_ids)
    absent, present = scorer._yes_marginals(yes)
    short = ((yes >= 0) @ scorer._beyond == 0).sum(axis=0)
    assert (short > 0).all() and (short < len(cases)).all()
    network = model.discrete_network
    for row, case in enumerate(cases):
        expected = brute_posteriors(network, {node: "present" for node in case})
        for k, condition in enumerate(scorer._judged):
            assert present[row, k] == pytest.approx(expected[condition][1], abs=1e-12)
            assert absent[row, k] == pytest.approx(expected[condition][0], abs=1e-12)


def test_priors_read_from_tables_match_brute_force():
    """Each condition's prior, read from its table over the factors it descends from.

    Every answer (unobserved, absent, present) to every factor of a fixture
    with a chain of conditions, against enumeration.
    """
    import itertools

    model = bayesleg.load(Path(__file__).parent / "fixtures" / "ancestry.toml")
    scorer = model._scorer
    factors = list(model.factors)
    answers = list(itertools.product((-1, 0, 1), repeat=len(factors)))
    codes = np.full((len(answers), len(scorer.node_ids)), -1, dtype=np.int8)
    columns = [scorer.node_ids.index(f) for f in factors]
    codes[:, columns] = answers
    priors = scorer._priors(codes)
    assert scorer._prior_tables and scorer._untabled.size == 0
    network = model.discrete_network
    for row, answer in enumerate(answers):
        evidence = {
            f: ("present" if a == 1 else "absent")
            for f, a in zip(factors, answer, strict=True)
            if a >= 0
        }
        expected = brute_posteriors(network, evidence)
        for k, condition in enumerate(scorer.conditions):
            assert priors[row, k] == pytest.approx(expected[condition][1], abs=1e-12)
