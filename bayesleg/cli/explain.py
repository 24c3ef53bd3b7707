"""``bayesleg explain``: which observed findings raise or lower one cause."""

from __future__ import annotations

import argparse
import json

from bayesleg.cli._options import add_model_option, one_case
from bayesleg.cli.diagnose import parse_evidence_arguments
from bayesleg.model import load
from bayesleg.reasoning.explain import Explanation

HELP = "explain which findings raise or lower one cause"
DESCRIPTION = (
    "Split a cause's log posterior odds among the observed findings and factors "
    "(Shapley values), and list the unobserved findings that would lower it most. "
    "Evidence: ID (present) or ID=yes|no."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("cause", metavar="CAUSE", help="a condition id")
    parser.add_argument("evidence", nargs="*", metavar="ID[=yes|no]")
    parser.add_argument("--json", action="store_true", help="print the explanation as JSON")
    add_model_option(parser)


def format_explanation(explanation: Explanation) -> str:
    """Return the explanation as readable lines."""
    change = explanation.log_odds_change  # inf when the evidence makes the cause certain
    lines = [
        f"{explanation.label} ({explanation.cause})",
        f"  posterior {explanation.posterior:.3f}; with no evidence {explanation.baseline:.3f}",
        f"  log odds {explanation.log_baseline_odds:+.2f} -> {explanation.log_posterior_odds:+.2f}"
        f" (change {change:+.2f} = the sum of the shares below)",
    ]
    for title, contributions in (
        ("Supporting", explanation.supporting),
        ("Against", explanation.against),
    ):
        lines.append(f"{title}:")
        lines.extend(
            f"  {c.log_likelihood_ratio:+6.2f}  {c.id}={c.state}  ({c.label})"
            for c in contributions
        )
        if not contributions:
            lines.append("  (none)")
    lines.append("Would lower it most if observed:")
    lines.extend(
        f"  {finding.id}={finding.state} -> {finding.posterior:.3f}  ({finding.label})"
        for finding in explanation.would_lower
    )
    if not explanation.would_lower:
        lines.append("  (nothing left to observe would lower it)")
    items = len(explanation.contributions)
    lines.append(
        f"Shares are {explanation.method} Shapley values over {items} observed "
        f"item{'s' if items != 1 else ''}, in natural-log odds."
    )
    lines.extend(f"Note: {note}." for note in explanation.notes)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Explain the cause given the evidence on the command line."""
    evidence = parse_evidence_arguments(args.evidence)
    model = load(args.model)
    with one_case(evidence):
        explanation = model.explain(evidence, args.cause)
    if args.json:
        payload = {"model": {"id": model.id, "version": model.version}, **explanation.to_dict()}
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        print(format_explanation(explanation))
    return 0
