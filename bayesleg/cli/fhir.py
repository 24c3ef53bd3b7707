"""``bayesleg fhir``: the FHIR R4 Questionnaire, and a RiskAssessment for FHIR input."""

from __future__ import annotations

import argparse
import json
import sys

from bayesleg.cli._options import UsageError, add_model_option, count
from bayesleg.fhir import evaluate, questionnaire
from bayesleg.knowledge._files import MAX_READ_BYTES, read_limited
from bayesleg.model import load
from bayesleg.reasoning.counterfactual import RANKINGS
from bayesleg.serving.contract import parse_json

HELP = "FHIR R4: print the Questionnaire, or evaluate a Bundle/QuestionnaireResponse"
DESCRIPTION = (
    "`bayesleg fhir questionnaire` prints the FHIR R4 Questionnaire that asks the "
    "model's factors and symptoms.  `bayesleg fhir evaluate FILE` reads a Bundle of "
    "Observations, an Observation or a QuestionnaireResponse (JSON; - for standard "
    "input) and prints the RiskAssessment.  See docs/guide/fhir.md."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    form = actions.add_parser("questionnaire", help="print the Questionnaire of the vocabulary")
    add_model_option(form)
    assess = actions.add_parser("evaluate", help="print the RiskAssessment for a FHIR resource")
    assess.add_argument("file", metavar="FILE", help="a FHIR JSON resource; - for standard input")
    assess.add_argument(
        "--conditions",
        type=count,
        default=0,
        metavar="N",
        help="print a Bundle adding a differential Condition for each of the first N causes",
    )
    assess.add_argument("--ranking", choices=RANKINGS, default="posterior")
    add_model_option(assess)


def run(args: argparse.Namespace) -> int:
    """Print the Questionnaire or the RiskAssessment as indented JSON."""
    model = load(args.model)
    if args.action == "questionnaire":
        print(json.dumps(questionnaire(model), indent=2))
        return 0
    if args.file == "-":
        text = sys.stdin.buffer.read(MAX_READ_BYTES + 1)
        if len(text) > MAX_READ_BYTES:
            raise UsageError(
                f"standard input holds more than {MAX_READ_BYTES} bytes, the most read"
            )
    else:
        try:
            text = read_limited(args.file)
        except OSError as error:
            raise UsageError(f"{args.file}: cannot read the file: {error.strerror}") from None
    resource = parse_json(text)
    answer = evaluate(resource, model=model, ranking=args.ranking, conditions=args.conditions)
    print(json.dumps(answer, indent=2))
    return 0
