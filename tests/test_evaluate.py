"""Evaluation on the tiny model, every number worked out by hand.

The tiny model (tests/fixtures/tiny.toml) is F -> C -> S <- D, plus a lone
symptom T.  P(F) = 0.25; P(C | F) = 1 - 0.85 * 0.5 = 0.575, P(C | not F) =
0.15, so P(C) = 0.25 * 0.575 + 0.75 * 0.15 = 0.25625; P(D) = 0.25;
P(S | C, D) = 1 - (1 - 0.75)^C (1 - 0.6)^D (no leak); P(T) = 0.1.  Triage:
red flag "s_with_f" (S with F or T) gives see_doctor; D (care see_doctor)
raises the level once P(D | e) >= 0.2.
"""

import json
import math
import re
from pathlib import Path

import pytest
from cli_runner import run_cli

import bayesleg
from bayesleg import BayeslegError, ImpossibleEvidenceError, InvalidArgumentError
from bayesleg.research.evaluate import Vignette, VignetteFileError, read_vignettes

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"

C = 0.25 * 0.575 + 0.75 * 0.15

# Case A: F and S.  P(C, D, S | F) over (C, D); C0D0 cannot produce S.
A = {"c1d1": 0.575 * 0.25 * 0.9, "c1d0": 0.575 * 0.75 * 0.75, "c0d1": 0.425 * 0.25 * 0.6}
A_TOTAL = sum(A.values())
A_C = (A["c1d1"] + A["c1d0"]) / A_TOTAL  # 0.877
A_D = (A["c1d1"] + A["c0d1"]) / A_TOTAL  # 0.374
# Case B: S absent.  P(C, D, S = 0).
B = {
    "c0d0": (1 - C) * 0.75,
    "c1d0": C * 0.75 * 0.25,
    "c0d1": (1 - C) * 0.25 * 0.4,
    "c1d1": C * 0.25 * 0.25 * 0.4,
}
B_TOTAL = sum(B.values())
B_C = (B["c1d0"] + B["c1d1"]) / B_TOTAL  # 0.079
B_D = (B["c0d1"] + B["c1d1"]) / B_TOTAL  # 0.118

CASES = [
    # C first (0.877 > 0.374); red flag and P(D) >= 0.2: see_doctor, as gold.
    {
        "id": "a",
        "evidence": {"f": True, "s": True},
        "top1": ["c"],
        "top3": ["c", "d"],
        "triage": "see_doctor",
    },
    # D first (0.118 > 0.079): top-1 miss, C at rank 2; nothing raises triage: under-triaged.
    {"id": "b", "evidence": {"s": False}, "top1": ["c"], "top3": ["c"], "triage": "see_doctor"},
    # T says nothing of C or D: C first (0.25625 > 0.25); P(D) = 0.25 >= 0.2: over-triaged.
    {
        "id": "c",
        "evidence": {"t": "yes"},
        "top1": ["d"],
        "top3": ["d"],
        "triage": "self_care",
        "conditions": {"c": 1, "d": 0},
    },
    # No answers to score, only a condition indicator: P(C | F) = 0.575.
    {"id": "d", "evidence": {"f": True}, "conditions": {"c": 1}},
]


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


def test_hand_worked_posteriors_are_what_the_cases_assume(tiny):
    # A guard on the hand arithmetic above, so the metrics below test evaluation.
    by_id = {c.id: c.posterior for c in tiny.diagnose({"s": False}).ranked}
    assert by_id == pytest.approx({"c": B_C, "d": B_D}, abs=1e-12)
    by_id = {c.id: c.posterior for c in tiny.diagnose({"f": True, "s": True}).ranked}
    assert by_id == pytest.approx({"c": A_C, "d": A_D}, abs=1e-12)


def test_accuracy_worked_by_hand(tiny):
    result = bayesleg.evaluate(tiny, CASES)
    assert result.n_cases == 4
    (scores,) = result.scores
    assert scores.ranking == "posterior"
    assert (scores.n_top1, scores.top1) == (3, pytest.approx(1 / 3))
    assert (scores.n_top3, scores.top3) == (3, 1.0)  # two conditions: all in the first three
    assert scores.top_k == pytest.approx((1 / 3, 1.0))  # gold ranks 1, 2, 2
    assert scores.mean_rank == pytest.approx(5 / 3)
    assert result.ranking("posterior") is scores


def test_triage_worked_by_hand(tiny):
    result = bayesleg.evaluate(tiny, CASES)
    assert result.n_triage == 3  # case d has no gold level
    assert result.safe_triage == pytest.approx(2 / 3)
    assert result.exact_triage == pytest.approx(1 / 3)
    assert result.under_triage == pytest.approx(1 / 3)
    assert result.over_triage == pytest.approx(1 / 3)
    assert result.under_triaged == ("b",)
    assert result.over_triaged == ("c",)
    assert [(case.under_triaged, case.over_triaged) for case in result.cases] == [
        (False, False),
        (True, False),
        (False, True),
        (False, False),  # no gold level: neither
    ]
    # Only case b, where S is absent, brings P(D) below 0.2; case d observes a
    # factor alone, and a factor alone never raises the level.
    assert [case.triage for case in result.cases] == [
        "see_doctor",
        "self_care",
        "see_doctor",
        "self_care",
    ]


# Cases whose gold level is self_care, as in data/vignettes_benign.jsonl; top1
# given as one id alone.  Only T, a symptom, lets D count: P(D | T) = 0.25 >= 0.2.
BENIGN = [
    {"id": "t-alone", "evidence": {"t": True}, "top1": "c", "triage": "self_care"},
    {"id": "no-s", "evidence": {"s": False}, "top1": "d", "triage": "self_care"},
    {"id": "f-alone", "evidence": {"f": True}, "top1": "c", "triage": "self_care"},
]


def test_over_triage_of_benign_cases_worked_by_hand(tiny):
    result = bayesleg.evaluate(tiny, BENIGN)
    assert [case.triage for case in result.cases] == ["see_doctor", "self_care", "self_care"]
    assert result.n_triage == 3
    assert result.over_triage == pytest.approx(1 / 3)
    assert result.exact_triage == pytest.approx(2 / 3)
    assert (result.under_triage, result.safe_triage) == (0.0, 1.0)
    assert (result.over_triaged, result.under_triaged) == (("t-alone",), ())
    # One id alone is a list of one: C first for T alone (0.25625 > 0.25), D for S absent.
    assert [case.gold_top1 for case in result.cases] == [("c",), ("d",), ("c",)]
    assert result.ranking("posterior").top1 == 1.0
    payload = result.to_dict()
    assert payload["triage"] == {
        "n": 3,
        "safe": 1.0,
        "exact": pytest.approx(2 / 3),
        "under": 0.0,
        "over": pytest.approx(1 / 3),
        "under_triaged": [],
        "over_triaged": ["t-alone"],
    }
    assert [case["over_triaged"] for case in payload["cases"]] == [True, False, False]
    assert list(result.to_frame()["over_triaged"]) == [True, False, False]


def test_brier_and_log_loss_worked_by_hand(tiny):
    result = bayesleg.evaluate(tiny, CASES)
    # Case c: P(C) = 0.25625 with C true, P(D) = 0.25 with D false; case d: P(C | F) = 0.575, C true.
    squared = [(1 - C) ** 2, 0.25**2, (1 - 0.575) ** 2]
    losses = [-math.log(C), -math.log(0.75), -math.log(0.575)]
    assert result.n_indicators == 3
    assert result.brier == pytest.approx(sum(squared) / 3, abs=1e-12)
    assert result.log_loss == pytest.approx(sum(losses) / 3, abs=1e-12)
    per_case = {case.id: case for case in result.cases}
    assert per_case["c"].brier == pytest.approx(sum(squared[:2]) / 2, abs=1e-12)
    assert per_case["a"].brier is None and per_case["a"].log_loss is None


def test_per_case_results(tiny):
    result = bayesleg.evaluate(tiny, CASES)
    a, b, c, d = result.cases
    assert a.ranked["posterior"] == ("c", "d") and b.ranked["posterior"] == ("d", "c")
    assert (a.top1_hit["posterior"], b.top1_hit["posterior"], c.top1_hit["posterior"]) == (
        True,
        False,
        False,
    )
    assert (b.rank["posterior"], d.rank["posterior"], d.top1_hit["posterior"]) == (2, None, None)
    assert b.under_triaged and not c.under_triaged and not d.under_triaged
    frame = result.to_frame()
    assert list(frame.index) == ["a", "b", "c", "d"]
    assert frame.loc["b", "posterior.first"] == "d"
    assert bool(frame.loc["b", "under_triaged"])


def test_rates_with_nothing_to_count_are_none(tiny):
    result = bayesleg.evaluate(tiny, [{"id": "x", "evidence": {}}])
    assert result.ranking("posterior").top1 is None
    assert result.ranking("posterior").top_k == ()
    assert (result.safe_triage, result.brier, result.log_loss) == (None, None, None)
    json.dumps(result.to_dict(), allow_nan=False)  # None, never NaN


def test_a_file_and_its_records_give_the_same_evaluation(tiny, tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(case) for case in CASES) + "\n\n")
    from_file = bayesleg.evaluate(tiny, path)
    assert from_file.to_dict() == bayesleg.evaluate(tiny, CASES).to_dict()
    vignettes = read_vignettes(path)
    assert [v.id for v in vignettes] == ["a", "b", "c", "d"]
    assert vignettes[0].where == f"{path}: line 1"
    assert bayesleg.evaluate(tiny, vignettes).to_dict() == from_file.to_dict()


def test_rankings_side_by_side(tiny):
    rankings = ("posterior", "expected_disablement", "expected_sufficiency")
    result = bayesleg.evaluate(tiny, CASES, rankings=rankings)
    assert [s.ranking for s in result.scores] == list(rankings)
    assert result.ranking("posterior") == bayesleg.evaluate(tiny, CASES).ranking("posterior")
    for ranking in rankings:
        expected = [
            tuple(c.id for c in d.ranked)
            for d in tiny.diagnose_many([case["evidence"] for case in CASES], ranking=ranking)
        ]
        assert [case.ranked[ranking] for case in result.cases] == expected
    # Triage and calibration rest on the posteriors, whatever the ranking.
    assert result.under_triaged == ("b",)
    assert result.brier == bayesleg.evaluate(tiny, CASES).brier
    with pytest.raises(InvalidArgumentError, match="unknown ranking 'nonsense'"):
        bayesleg.evaluate(tiny, CASES, rankings=("posterior", "nonsense"))


def test_unknown_ranking_in_result(tiny):
    result = bayesleg.evaluate(tiny, CASES)
    with pytest.raises(InvalidArgumentError, match="was not evaluated"):
        result.ranking("expected_sufficiency")


BAD_LINES = [
    ("{not json", "line 2: not valid JSON"),
    ("[1, 2]", "line 2: expected a JSON object, got an array"),
    ('{"id": "x", "evidence": {}, "top_1": ["c"]}', "line 2, field 'top_1': unknown field"),
    ('{"evidence": {}}', "line 2, field 'id': missing"),
    ('{"id": "", "evidence": {}}', "line 2, field 'id': expected a non-empty string"),
    ('{"id": "x"}', "line 2, field 'evidence': missing"),
    ('{"id": "x", "evidence": ["f"]}', "line 2, field 'evidence': expected an object"),
    ('{"id": "x", "evidence": {"f": 1}}', "line 2, field 'evidence.f': invalid value 1 for 'f'"),
    (
        '{"id": "x", "evidence": {}, "top1": 3}',
        "line 2, field 'top1': expected a condition id or a list of condition ids",
    ),
    (
        '{"id": "x", "evidence": {}, "top3": ["c", 3]}',
        "line 2, field 'top3': expected a condition id or a list of condition ids",
    ),
    (
        '{"id": "x", "evidence": {}, "top3": ["c", "c"]}',
        "line 2, field 'top3': a condition is listed twice",
    ),
    (
        '{"id": "x", "evidence": {}, "top3": ["a", "b", "c", "d"]}',
        "line 2, field 'top3': at most three",
    ),
    (
        '{"id": "x", "evidence": {}, "triage": "soon"}',
        "line 2, field 'triage': unknown level 'soon'",
    ),
    (
        '{"id": "x", "evidence": {}, "conditions": {"c": 2}}',
        "line 2, field 'conditions.c': expected 0 or 1",
    ),
    ('{"id": "x", "evidence": {}, "text": 3}', "line 2, field 'text': expected a string"),
    (
        '{"id": "ok", "evidence": {}}',
        "line 2, field 'id': duplicate id 'ok' \\(first at .*line 1\\)",
    ),
    # Checks against the model, still naming the line and the field.
    (
        '{"id": "x", "evidence": {"fever": true}}',
        "line 2, field 'evidence.fever': unknown node 'fever'",
    ),
    ('{"id": "x", "evidence": {"ff": true}}', "did you mean 'f'"),
    # JSON as JSON defines it, whatever Python's reader would take.
    ("[" * 100_000 + "]" * 100_000, "line 2: not valid JSON: it nests too deeply to read"),
    ('{"id": "x", "evidence": {}, "conditions": {"c": ' + "1" * 5000 + "}}", "too long to read"),
    ('{"id": "x", "evidence": {}, "conditions": {"c": NaN}}', "NaN is not a JSON value"),
    ('{"id": "x", "evidence": {}, "conditions": {"c": 1e400}}', "the number 1e400 is too large"),
    # A form feed ends no line, so what follows it is not a second vignette.
    ('{"id": "x", "evidence": {}}\f{"id": "y", "evidence": {}}', "line 2: not valid JSON"),
    ('{"id": "x", "evidence": {}, "top1": ["s"]}', "line 2, field 'top1': unknown condition 's'"),
    (
        '{"id": "x", "evidence": {}, "conditions": {"e": 1}}',
        "line 2, field 'conditions': unknown condition 'e'",
    ),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_bad_lines_name_the_line_and_field(tiny, tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "evidence": {}}\n' + line + "\n")
    with pytest.raises(VignetteFileError, match=message) as caught:
        bayesleg.evaluate(tiny, path)
    assert isinstance(caught.value, BayeslegError) and isinstance(caught.value, ValueError)


def test_bad_files_and_cases(tiny, tmp_path):
    with pytest.raises(VignetteFileError, match="cannot read the file"):
        bayesleg.evaluate(tiny, tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(VignetteFileError, match="no vignettes"):
        bayesleg.evaluate(tiny, tmp_path / "empty.jsonl")
    with pytest.raises(VignetteFileError, match="case 1, field 'evidence': missing"):
        bayesleg.evaluate(tiny, [{"id": "a", "evidence": {}}, {"id": "b"}])
    with pytest.raises(VignetteFileError, match="expected a file path or an iterable"):
        bayesleg.evaluate(tiny, {"id": "a", "evidence": {}})
    with pytest.raises(InvalidArgumentError, match="no ranking method"):
        bayesleg.evaluate(tiny, CASES, rankings=())


def test_impossible_evidence_names_the_vignette(tiny):
    cases = [CASES[0], Vignette(id="never", evidence={"c": False, "d": False, "s": True})]
    with pytest.raises(
        ImpossibleEvidenceError, match="case 1 \\(id 'never'\\): the evidence has probability zero"
    ):
        bayesleg.evaluate(tiny, cases)


def test_cli_json_matches_the_api(tiny, tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(case) for case in CASES))
    result = run_cli("evaluate", str(path), "--model", str(TINY), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(
        json.dumps(bayesleg.evaluate(tiny, path).to_dict())
    )
    table = run_cli("evaluate", str(path), "--model", str(TINY), cwd=tmp_path).stdout
    assert "under-triaged: b" in table
    assert "over-triaged: c" in table
    assert (
        "triage: exact 33.3 % (1/3), under 33.3 % (1/3), over 33.3 % (1/3); safe 66.7 % (2/3)"
        in table.splitlines()
    )
    assert any(line.split()[:2] == ["posterior", "33.3"] for line in table.splitlines())
    assert any(line.startswith("b ") and "UNDER-TRIAGED" in line for line in table.splitlines())
    assert any(line.startswith("c ") and "OVER-TRIAGED" in line for line in table.splitlines())


def test_cli_scores_the_benign_vignettes_for_over_triage(tmp_path):
    # The shipped model is being re-tuned: check the shape of the result, not its numbers.
    benign = Path(__file__).resolve().parent.parent / "data" / "vignettes_benign.jsonl"
    lines = [line for line in benign.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = run_cli("evaluate", str(benign), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    triage = json.loads(result.stdout)["triage"]
    assert triage["n"] == len(lines)
    # Every gold level is self_care, the lowest: no case can be under-triaged.
    assert (triage["under"], triage["under_triaged"], triage["safe"]) == (0.0, [], 1.0)
    assert triage["exact"] + triage["over"] == pytest.approx(1.0)
    assert len(triage["over_triaged"]) == round(triage["over"] * len(lines))
    table = run_cli("evaluate", str(benign), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert any(line.startswith("triage: exact ") for line in table.stdout.splitlines())
    assert any(line.startswith("over-triaged: ") for line in table.stdout.splitlines())


def test_cli_bad_line_is_one_line_on_stderr(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x", "evidence": {}, "top3": 3}\n')
    result = run_cli("evaluate", str(path), "--model", str(TINY), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "line 1, field 'top3'" in result.stderr


def test_a_line_ends_at_a_newline_alone(tiny, tmp_path):
    # JSON lines end at "\n": U+2028, U+0085 and a carriage return inside a
    # string are part of it.
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"id": "a", "text": "one\u2028two\u0085three\\r", "evidence": {}}\r\n',
        encoding="utf-8",
    )
    (vignette,) = read_vignettes(path)
    assert vignette.text == "one\u2028two\u0085three\r"


def test_a_file_too_large_to_read_whole_is_refused_before_it_is_held(tmp_path):
    from bayesleg.knowledge._files import read_limited

    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * 101)
    assert read_limited(path, 101) == b"x" * 101
    with pytest.raises(OSError, match="more than 100 bytes") as caught:
        read_limited(path, 100)
    assert caught.value.filename == str(path)
    if Path("/dev/zero").exists():  # endless: only the limit stops the read
        with pytest.raises(VignetteFileError, match="/dev/zero: cannot read the file: it holds"):
            read_vignettes("/dev/zero")


@pytest.mark.parametrize(
    ("vignette", "words"),
    [
        (Vignette("v", {}, triage="asap"), "case 0, field 'triage': unknown level 'asap'"),
        (Vignette("v", {}, conditions={"c": 2}), "field 'conditions.c': expected 0 or 1, got 2"),
        (Vignette("v", {}, top3=("c", "d", "c")), "field 'top3': a condition is listed twice"),
    ],
)
def test_vignette_objects_are_checked_as_their_lines_would_be(tiny, vignette, words):
    with pytest.raises(VignetteFileError, match=re.escape(words)):
        bayesleg.evaluate(tiny, [vignette])


def test_a_condition_indicator_that_is_an_array_is_refused(tiny):
    import numpy as np

    case = {"id": "a", "evidence": {}, "conditions": {"c": np.array([1, 0])}}
    with pytest.raises(VignetteFileError, match=re.escape("field 'conditions.c': expected 0 or 1")):
        bayesleg.evaluate(tiny, [case])
