"""The interview: its state machine, a scripted session, and a real terminal session.

On the tiny model (F -> C -> S <- D, lone T; see test_model.py) the first
question is S or F, and with both answered yes P(C | F, S) = 0.877 (by hand
in test_explain.py), above the default threshold of 0.8.
"""

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bayesleg
from bayesleg import Interview
from bayesleg.errors import InvalidArgumentError
from bayesleg.reasoning.interview import parse_answer

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny.toml"


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


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


def test_stops_when_nothing_informative_is_left(tiny):
    interview = Interview(tiny, min_gain=5.0)
    assert interview.next_question() is None
    assert interview.stop_reason == "uninformative"


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
