"""``bayesleg next``: the unobserved findings most worth asking about."""

from __future__ import annotations

import argparse
import json

from bayesleg.cli._options import add_model_option, one_case, positive_int
from bayesleg.cli.diagnose import evidence_warnings, format_warnings, parse_evidence_arguments
from bayesleg.model import load

HELP = "rank the questions worth asking next"
DESCRIPTION = (
    "Rank the unobserved symptoms and factors by expected information gain: the "
    "expected fall, in bits, of the summed entropy of the condition posteriors. "
    "Evidence: ID (present) or ID=yes|no."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("evidence", nargs="*", metavar="ID[=yes|no]")
    parser.add_argument(
        "-k", type=positive_int, default=5, metavar="N", help="how many questions (default 5)"
    )
    parser.add_argument("--json", action="store_true", help="print the questions as JSON")
    add_model_option(parser)


def run(args: argparse.Namespace) -> int:
    """Print the best questions for the evidence on the command line."""
    evidence = parse_evidence_arguments(args.evidence)
    model = load(args.model)
    with one_case(evidence):
        diagnosis = model.diagnose(evidence)
        questions = model.next_questions(evidence, args.k)
    top = diagnosis.top
    if args.json:
        payload = {
            "model": {"id": model.id, "version": model.version},
            "evidence": dict(diagnosis.evidence),
            "top_cause": top.id,
            "questions": [question.to_dict() for question in questions],
            "warnings": evidence_warnings(model, diagnosis.evidence),
        }
        print(json.dumps(payload, indent=2, allow_nan=False))
        return 0
    shown = ", ".join(f"{node}={state}" for node, state in diagnosis.evidence.items())
    print(f"Evidence: {shown or '(none)'}")
    for line in format_warnings(model, diagnosis.evidence):
        print(line)
    print(f"Top cause: {top.label} ({top.id}), posterior {top.posterior:.3f}")
    if not questions:
        print("Nothing is left to ask.")
        return 0
    width = max(len(question.id) for question in questions)
    print(f"{'#':>2}  {'question':<{width}}  kind     gain  P(yes)  top if yes  top if no")
    for rank, question in enumerate(questions, start=1):
        print(
            f"{rank:>2}  {question.id:<{width}}  {question.kind:<7}  {question.expected_gain:4.2f}"
            f"  {question.p_yes:6.3f}  {question.top_if_yes:10.3f}  {question.top_if_no:9.3f}"
        )
    print("gain: expected fall of the summed entropy of the condition posteriors, in bits")
    return 0
