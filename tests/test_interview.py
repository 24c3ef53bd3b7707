"""The interview: its state machine, a scripted session, and a real terminal session.

On the tiny model (F -> C -> S <- D, lone T; see test_model.py) the first
question is S or F, and with both answered yes P(C | F, S) = 0.877 (by hand
in test_explain.py), above the default threshold of 0.8.  Its one red flag,
s_with_f (S, and F or T), is settled by S alone answered no.

The warning-sign model (fixtures/warning_signs.toml) has one self-care cause,
so only its red flags raise triage: tingling_persists ((tingling or numbness)
and persistent, see_doctor), tingling_with_pain ((tingling or numbness), and
pain or weakness, see_doctor) and cramps_with_medication (cramps and
medication, urgent).  With ``min_gain`` out of reach the ordinary questions
stop at once, and only the warning-sign questions are left.
"""

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from strategies import answers

import bayesleg
from bayesleg import Interview
from bayesleg.errors import InvalidArgumentError
from bayesleg.knowledge.modelfile import CARE_LEVELS
from bayesleg.reasoning.interview import parse_answer, red_flag_question

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny.toml"
WARNING_SIGNS = FIXTURES / "warning_signs.toml"
# Beyond any question's gain: only warning-sign questions are asked.
OUT_OF_REACH = 100.0


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


@pytest.fixture(scope="module")
def warning_signs():
    return bayesleg.load(WARNING_SIGNS)


def _run(interview, replies):
    """Answer each question with the next reply (then "no"); return (id, flags) asked."""
    asked = []
    replies = list(replies)
    while (question := interview.next_question()) is not None:
        asked.append((question.id, interview.checking_red_flags))
        interview.answer(question.id, replies.pop(0) if replies else "no")
    return asked


def test_answers_are_read_in_long_and_short_forms():
    assert [parse_answer(text) for text in ("yes", "Y", " n ", "SKIP", "s", "quit", "q")] == [
        "yes",
        "yes",
        "no",
        "skip",
        "skip",
        "quit",
        "quit",
    ]
    assert parse_answer("maybe") is None
    assert parse_answer("") is None


def test_stops_at_once_when_the_top_cause_is_already_clear(tiny):
    interview = Interview(tiny, {"f": True, "s": True})
    assert interview.next_question() is None
    assert interview.stop_reason == "threshold"
    assert interview.diagnosis.top.id == "c"


def test_yes_answers_update_the_evidence_until_the_threshold(tiny):
    interview = Interview(tiny)
    asked = []
    while (question := interview.next_question()) is not None:
        asked.append(question.id)
        interview.answer(question.id, "y")
    assert sorted(asked) == ["f", "s"]
    assert interview.evidence == {"f": "present", "s": "present"}
    assert interview.stop_reason == "threshold"
    assert interview.diagnosis.top.posterior == pytest.approx(
        0.575 * 0.7875 / (0.575 * 0.7875 + 0.425 * 0.15), abs=1e-12
    )


def test_skipped_questions_are_not_asked_again_and_questions_run_out(tiny):
    interview = Interview(tiny, threshold=1.0, min_gain=0.0)
    asked = []
    while (question := interview.next_question()) is not None:
        asked.append(question.id)
        interview.answer(question.id, "skip")
    assert sorted(asked) == ["f", "s", "t"]
    assert interview.evidence == {}
    assert interview.stop_reason == "exhausted"
    assert [step.answer for step in interview.steps] == ["skip", "skip", "skip"]


def test_stops_when_nothing_informative_is_left_once_the_red_flag_is_settled(tiny):
    interview = Interview(tiny, min_gain=5.0)
    question = interview.next_question()
    # Nothing is informative enough, but self_care is not concluded before S is asked.
    assert (question.id, interview.checking_red_flags) == ("s", ("s_with_f",))
    assert interview.stop_reason is None
    interview.answer("s", "no")
    assert interview.steps[-1].red_flags == ("s_with_f",)
    assert interview.checking_red_flags == ()
    assert interview.next_question() is None
    assert interview.stop_reason == "uninformative"
    assert interview.evidence == {"s": "absent"}
    assert interview.diagnosis.triage.level == "self_care"


def test_warning_signs_are_asked_just_enough_to_rule_every_red_flag_out(warning_signs):
    interview = Interview(warning_signs, {"weakness": True}, min_gain=OUT_OF_REACH)
    # Tingling or numbness, both no, rule out two flags; cramps no the third (medication unasked).
    assert _run(interview, ["no", "no", "no"]) == [
        ("tingling", ("tingling_persists", "tingling_with_pain")),
        ("numbness", ("tingling_persists", "tingling_with_pain")),
        ("cramps", ("cramps_with_medication",)),
    ]
    assert interview.stop_reason == "uninformative"
    assert interview.diagnosis.triage.level == "self_care"
    assert [step.answer for step in interview.steps] == ["no", "no", "no"]


def test_a_single_finding_that_settles_a_flag_comes_first(warning_signs):
    # Tingling is known: persistent alone settles one flag, pain or weakness the other.
    interview = Interview(warning_signs, {"tingling": True, "cramps": False}, min_gain=OUT_OF_REACH)
    assert _run(interview, ["no", "yes"]) == [
        ("persistent", ("tingling_persists",)),
        ("pain", ("tingling_with_pain",)),  # yes: the flag fires; weakness is not asked
    ]
    assert interview.diagnosis.triage.level == "see_doctor"
    assert [reason.id for reason in interview.diagnosis.triage.reasons] == ["tingling_with_pain"]


def test_after_a_red_flag_fires_only_the_flags_above_its_level_are_asked(warning_signs):
    interview = Interview(warning_signs, {"weakness": True}, min_gain=OUT_OF_REACH)
    # Tingling yes fires tingling_with_pain (see_doctor): persistent no longer matters,
    # but the urgent cramps_with_medication still does.
    assert [question for question, _ in _run(interview, ["yes", "yes", "yes"])] == [
        "tingling",
        "cramps",
        "medication",
    ]
    assert interview.diagnosis.triage.level == "urgent"


def test_skipped_warning_signs_are_not_asked_again(warning_signs):
    interview = Interview(warning_signs, {"weakness": True}, min_gain=OUT_OF_REACH)
    asked = _run(interview, ["skip", "skip", "skip"])
    # A group whose unanswered findings were all skipped cannot fire: its flag is settled.
    assert [question for question, _ in asked] == ["tingling", "numbness", "cramps"]
    assert interview.evidence == {"weakness": "present"}
    assert interview.diagnosis.triage.level == "self_care"


def test_quitting_at_a_warning_sign_ends_the_interview(warning_signs):
    interview = Interview(warning_signs, min_gain=OUT_OF_REACH)
    question = interview.next_question()
    assert interview.checking_red_flags
    interview.answer(question.id, "quit")
    assert interview.next_question() is None
    assert (interview.stop_reason, interview.checking_red_flags, interview.steps) == (
        "quit",
        (),
        (),
    )


def test_red_flag_question_counts_only_flags_above_the_level(warning_signs):
    spec = warning_signs.spec
    assert red_flag_question(spec, {}, level="urgent") is None
    assert red_flag_question(spec, {"cramps": "present"}, level="see_doctor") == (
        "medication",
        ("cramps_with_medication",),
    )
    assert red_flag_question(spec, {"cramps": "absent"}, level="see_doctor") is None
    assert red_flag_question(spec, {}, skipped=["cramps"], level="see_doctor") is None


def _settled(flag, evidence, skipped):
    """Whether a flag cannot fire: some group has nothing present and nothing left to ask."""
    groups = [*flag.all, *([flag.any] if flag.any else [])]
    return any(
        all(evidence.get(node) == "absent" or node in skipped for node in group) for group in groups
    )


@given(replies=answers())
def test_never_concludes_with_a_red_flag_above_the_level_unsettled(warning_signs, replies):
    for min_gain in (0.01, OUT_OF_REACH):
        interview = Interview(warning_signs, min_gain=min_gain)
        asked = _run(interview, replies)
        assert interview.stop_reason != "quit"
        assert len({question for question, _ in asked}) == len(asked)  # none asked twice
        evidence = interview.evidence
        skipped = {s.question.id for s in interview.steps if s.answer == "skip"}
        level = interview.diagnosis.triage.level
        for flag in warning_signs.spec.red_flags:
            if CARE_LEVELS.index(flag.level) > CARE_LEVELS.index(level):
                assert not flag.fires(evidence)
                assert _settled(flag, evidence, skipped), (flag.id, evidence, skipped)


def test_quit_and_bad_answers(tiny):
    interview = Interview(tiny)
    question = interview.next_question()
    assert interview.next_question() == question  # pending until answered
    with pytest.raises(InvalidArgumentError, match="cannot read the answer 'maybe'"):
        interview.answer(question.id, "maybe")
    with pytest.raises(InvalidArgumentError, match="'t' is not the question asked"):
        interview.answer("t", "yes")
    interview.answer(question.id, "quit")
    assert interview.stop_reason == "quit"
    assert interview.next_question() is None
    with pytest.raises(InvalidArgumentError, match="threshold must be in"):
        Interview(tiny, threshold=0.0)


def _command(*args):
    return [sys.executable, "-m", "bayesleg", "interview", "--model", str(TINY), *args]


def test_scripted_session_reads_stdin_line_by_line_and_summarises_at_eof():
    result = subprocess.run(
        _command(),
        input="maybe\ny\n",  # then end of input: quit
        capture_output=True,
        text=True,
        timeout=60,
        cwd=FIXTURES,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == "bayesleg is a research and triage aid, not a diagnosis."
    assert "Please answer yes, no, skip or quit (y/n/s/q)." in out
    assert out.count("Q1 ") == 2  # asked again after the bad answer
    assert "Q2 " in out
    assert "Stopped: the interview was ended early." in out
    assert "Triage: " in out
    assert "Advice:" in out and "source: " in out


def test_starting_evidence_on_the_command_line():
    result = subprocess.run(
        _command("f", "s=yes"), input="", capture_output=True, text=True, timeout=60, cwd=FIXTURES
    )
    assert result.returncode == 0, result.stderr
    assert "Q1" not in result.stdout
    assert "Stopped: the top cause reached the threshold." in result.stdout
    assert "Evidence: f=present, s=present" in result.stdout


def test_a_scripted_session_asks_the_warning_signs_before_self_care():
    result = subprocess.run(
        _command("--min-gain", "5"),
        input="n\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=FIXTURES,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "bayesleg is a research and triage aid, not a diagnosis.",
        "Tiny test model: answer yes, no, skip or quit (y/n/s/q).",
        "Before concluding, a few questions about warning signs.",
        "Q1 (symptom, warning sign) Symptom S? [y/n/s/q] n",
    ]
    assert "Stopped: no remaining question is informative enough." in lines
    assert "Triage: self_care" in lines


def test_bad_starting_evidence_is_one_line_and_exit_2():
    result = subprocess.run(
        _command("ff"), input="", capture_output=True, text=True, timeout=60, cwd=FIXTURES
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "bayesleg: error: unknown node 'ff'; did you mean 'f'?"
    ]


class _Terminal:
    """A child process on a pseudo-terminal, read and typed into as a person would."""

    def __init__(self, argv):
        self.master, slave = os.openpty()
        env = {**os.environ, "TERM": "dumb"}
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, cwd=FIXTURES, env=env, close_fds=True
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text, timeout=30.0):
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"never saw {text!r}; the terminal shows:\n{self.seen}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"the session ended before {text!r}:\n{self.seen}")
            self.seen += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        found = self.seen.index(text) + len(text)
        self.seen = self.seen[found:]

    def type(self, line):
        os.write(self.master, line.encode() + b"\n")

    def finish(self):
        code = self.process.wait(timeout=30)
        os.close(self.master)
        return code


def test_a_person_at_a_terminal_answers_until_the_cause_is_clear():
    terminal = _Terminal(_command())
    try:
        terminal.expect("bayesleg is a research and triage aid, not a diagnosis.\n")
        terminal.expect("answer yes, no, skip or quit (y/n/s/q).")
        terminal.expect("[y/n/s/q] ")
        terminal.type("perhaps")
        terminal.expect("Please answer yes, no, skip or quit (y/n/s/q).")
        terminal.expect("[y/n/s/q] ")
        terminal.type("y")
        terminal.expect("Now: ")
        terminal.expect("Q2 ")
        terminal.expect("[y/n/s/q] ")
        terminal.type("yes")
        terminal.expect("Stopped: the top cause reached the threshold.")
        terminal.expect(" 1  Condition C ")
        terminal.expect("Triage: see_doctor")
        terminal.expect("Advice:")
        terminal.expect('source: 001_a6af47fc61bf8c8f.txt: "rest is the best form of treatment"')
    finally:
        code = terminal.finish()
    assert code == 0


def test_end_of_input_at_a_terminal_quits_with_a_summary():
    terminal = _Terminal(_command("--threshold", "0.99"))
    try:
        terminal.expect("[y/n/s/q] ")
        terminal.type("n")
        terminal.expect("[y/n/s/q] ")
        os.write(terminal.master, b"\x04")  # Ctrl-D
        terminal.expect("Stopped: the interview was ended early.")
        terminal.expect("Triage: ")
    finally:
        code = terminal.finish()
    assert code == 0


def test_an_impossible_answer_leaves_the_interview_as_it_was(tiny):
    # With C and D absent, S (no leak) cannot be present: "yes" to it is refused
    # and nothing of it is recorded.
    interview = Interview(tiny, {"c": False, "d": False}, min_gain=0.0)
    while (question := interview.next_question()).id != "s":
        interview.answer(question.id, "skip")
    assert question.p_yes == 0.0
    before = (interview.evidence, interview.steps, interview.diagnosis)
    with pytest.raises(bayesleg.ImpossibleEvidenceError):
        interview.answer("s", "yes")
    assert (interview.evidence, interview.steps, interview.diagnosis) == before
    assert interview.next_question() == question
    interview.answer("s", "no")
    assert interview.evidence["s"] == "absent"


def test_a_red_flag_finding_the_evidence_rules_out_is_not_asked(tiny):
    # S with F is tiny's red flag; with C and D absent S cannot happen, so the
    # flag cannot fire and its question would have only one possible answer.
    interview = Interview(tiny, {"c": False, "d": False})
    assert interview.next_question() is None
    assert interview.stop_reason == "uninformative"
    assert interview.steps == ()


@pytest.mark.parametrize("answer", [None, True, 1, ["yes"]])
def test_an_answer_that_is_not_text_is_refused_by_name(tiny, answer):
    interview = Interview(tiny)
    question = interview.next_question()
    with pytest.raises(bayesleg.InvalidArgumentError, match="cannot read the answer"):
        interview.answer(question.id, answer)
    assert interview.next_question() == question


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"threshold": "0.5"}, "threshold must be in (0, 1], got '0.5'"),
        ({"threshold": True}, "threshold must be in (0, 1], got True"),
        ({"min_gain": None}, "min_gain must be 0 or more, got None"),
    ],
)
def test_options_must_be_numbers_not_text_or_bools(tiny, options, words):
    with pytest.raises(bayesleg.InvalidArgumentError) as raised:
        Interview(tiny, **options)
    assert str(raised.value) == words


@pytest.mark.parametrize("evidence", [[], "", 0])
def test_evidence_that_is_not_a_mapping_is_refused_not_read_as_none(tiny, evidence):
    with pytest.raises(bayesleg.InvalidEvidenceError, match="must be a mapping"):
        Interview(tiny, evidence)
    with pytest.raises(bayesleg.InvalidEvidenceError, match="must be a mapping"):
        tiny.simulate(2, evidence=evidence)
