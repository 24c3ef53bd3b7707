"""``bayesleg interview``: ask the next-best question until the picture is clear.

Interactive on a terminal; when standard input is not a terminal, answers
are read one a line (so a session can be scripted), and the end of input
means quit.  The session opens by saying that it is not a diagnosis, asks about
the model's warning signs (red flags) before it concludes, and ends with the
differential, triage, reasons and advice with sources.
"""

from __future__ import annotations

import argparse
import sys

from bayesleg.cli._options import add_model_option, decimal, one_case, positive_int
from bayesleg.cli.diagnose import format_diagnosis, parse_evidence_arguments
from bayesleg.model import load
from bayesleg.reasoning.diagnosis import Diagnosis
from bayesleg.reasoning.interview import STOP_REASONS, Interview, parse_answer

HELP = "answer questions one at a time until the likely cause is clear"
DESCRIPTION = (
    "Ask the most informative question, update the differential after each answer "
    "(yes, no, skip or quit; also y/n/s/q), and stop when the top cause reaches the "
    "threshold or nothing informative is left; before concluding, ask about the warning "
    "signs (red flags) still unanswered, just enough to know whether one applies; then "
    "print triage and advice. "
    "Starting evidence: ID (present) or ID=yes|no. Reads answers line by line when "
    "stdin is not a terminal."
)
_HINT = "Please answer yes, no, skip or quit (y/n/s/q)."
_NOT_A_DIAGNOSIS = "bayesleg is a research and triage aid, not a diagnosis."
_WARNING_SIGNS = "Before concluding, a few questions about warning signs."


def _probability(text: str) -> float:
    value = decimal(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in (0, 1], got {text!r}")
    return value


def _bits(text: str) -> float:
    value = decimal(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"expected a number of bits >= 0, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("evidence", nargs="*", metavar="ID[=yes|no]")
    parser.add_argument(
        "--threshold",
        type=_probability,
        default=0.8,
        metavar="P",
        help="stop once the top cause's posterior reaches P (default 0.8)",
    )
    parser.add_argument(
        "--min-gain",
        type=_bits,
        default=0.01,
        metavar="BITS",
        help="stop once no question's expected gain reaches BITS (default 0.01)",
    )
    parser.add_argument(
        "--top", type=positive_int, default=5, metavar="N", help="causes in the summary (default 5)"
    )
    add_model_option(parser)


def _read_answer(prompt: str, interactive: bool) -> str | None:
    """Return one line typed after ``prompt``, or None at the end of input."""
    try:
        if interactive:
            return input(prompt)
        print(prompt, end="", flush=True)
        line = sys.stdin.readline()
    except (EOFError, KeyboardInterrupt):
        print()
        return None
    if not line:
        print()
        return None
    print(line.strip())  # echo, so a scripted transcript reads as a conversation
    return line


def _leading(diagnosis: Diagnosis, count: int = 3) -> str:
    return "; ".join(f"{c.label} {c.posterior:.2f}" for c in diagnosis.ranked[:count])


def run(args: argparse.Namespace) -> int:
    """Run one interview on the terminal (or on lines of stdin) and print the summary."""
    evidence = parse_evidence_arguments(args.evidence)
    model = load(args.model)
    with one_case(evidence):
        interview = Interview(model, evidence, threshold=args.threshold, min_gain=args.min_gain)
    interactive = sys.stdin.isatty()
    print(_NOT_A_DIAGNOSIS)
    print(f"{model.spec.title}: answer yes, no, skip or quit (y/n/s/q).")
    if evidence:
        print(f"  Now: {_leading(interview.diagnosis)}")
    number = 0
    warned = False
    while (question := interview.next_question()) is not None:
        number += 1
        kind = question.kind
        if interview.checking_red_flags:
            kind += ", warning sign"
            if not warned:
                print(_WARNING_SIGNS)
                warned = True
        prompt = f"Q{number} ({kind}) {question.label}? [y/n/s/q] "
        while True:
            line = _read_answer(prompt, interactive)
            if line is None:
                interview.quit()
                break
            answer = parse_answer(line)
            if answer is not None:
                interview.answer(question.id, answer)
                break
            print(_HINT)
        if interview.stop_reason == "quit":
            break
        if interview.steps and interview.steps[-1].answer != "skip":
            print(f"  Now: {_leading(interview.diagnosis)}")
    print()
    print(f"Stopped: {STOP_REASONS[interview.stop_reason or 'quit']}.")
    print(format_diagnosis(model, interview.diagnosis, args.top))
    return 0
