"""The ``bayesleg`` command.

Bad input is answered with one line on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from bayesleg.errors import BayeslegError, InvalidEvidenceError
from bayesleg.evidence import parse_state
from bayesleg.model import Model, load

__all__ = ["main"]

_EXIT_USAGE = 2


class _UsageError(Exception):
    """A command line that cannot be run; reported on one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _parser() -> _Parser:
    parser = _Parser(
        prog="bayesleg",
        description="Why do legs feel weak, heavy, tingly, numb or crampy after exercise?",
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    diagnose = commands.add_parser(
        "diagnose",
        help="rank the causes of a case and triage it",
        description="Rank every condition and triage. Evidence: ID (present) or ID=yes|no.",
    )
    diagnose.add_argument("evidence", nargs="*", metavar="ID[=yes|no]")
    diagnose.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    diagnose.add_argument("--top", type=_positive_int, metavar="N", help="show the first N causes")
    diagnose.add_argument("--model", metavar="PATH", help="a model file (default: the shipped one)")

    nodes = commands.add_parser("nodes", help="list the vocabulary: factors, conditions, symptoms")
    nodes.add_argument("--json", action="store_true", help="print the vocabulary as JSON")
    nodes.add_argument("--model", metavar="PATH", help="a model file (default: the shipped one)")
    return parser


def _version() -> str:
    from bayesleg import __version__

    return f"bayesleg {__version__}"


def parse_evidence_arguments(tokens: Sequence[str]) -> dict[str, str]:
    """Turn ``ID`` and ``ID=value`` tokens into evidence.

    A bare ``ID`` means present.  The same id given twice with different
    values is an error, not a silent override.

    Raises
    ------
    InvalidStateError
        If a value is not yes/no/present/absent.
    InvalidEvidenceError
        If an id is empty or given twice with different values.
    """
    evidence: dict[str, str] = {}
    for token in tokens:
        node, sep, value = token.partition("=")
        node = node.strip()
        if not node:
            raise InvalidEvidenceError(f"evidence {token!r} has no node id; expected ID or ID=yes|no")
        state = parse_state(node, value.strip()) if sep else "present"
        if evidence.get(node, state) != state:
            raise InvalidEvidenceError(
                f"{node!r} is given as both {evidence[node]!r} and {state!r}; give it once"
            )
        evidence[node] = state
    return evidence


def _format_ratio(ratio: float) -> str:
    if math.isinf(ratio):
        return "inf"
    return f"{ratio:.3g}" if ratio < 1000 else f"{ratio:.3e}"


def _diagnose(model: Model, args: argparse.Namespace) -> str:
    diagnosis = model.diagnose(parse_evidence_arguments(args.evidence))
    ranked = diagnosis.ranked[: args.top] if args.top else diagnosis.ranked
    if args.json:
        payload = diagnosis.to_dict()
        payload["ranked"] = payload["ranked"][: len(ranked)]
        return json.dumps(payload, indent=2)
    lines = []
    shown = ", ".join(f"{node}={state}" for node, state in diagnosis.evidence.items())
    lines.append(f"Evidence: {shown or '(none)'}")
    width = max(len(cause.label) for cause in ranked)
    lines.append(f"{'#':>2}  {'condition':<{width}}  posterior  prior      LR  care")
    for rank, cause in enumerate(ranked, start=1):
        care = model.node(cause.id).care
        lines.append(
            f"{rank:>2}  {cause.label:<{width}}  {cause.posterior:9.3f}  {cause.prior:5.3f}"
            f"  {_format_ratio(cause.likelihood_ratio):>6}  {care}"
        )
    if len(ranked) < len(diagnosis.ranked):
        lines.append(f"    ({len(diagnosis.ranked) - len(ranked)} more below; see --top)")
    lines.append(f"Triage: {diagnosis.triage.level}")
    lines.extend(f"  - {reason}" for reason in diagnosis.triage.reasons)
    if not diagnosis.triage.reasons:
        lines.append("  - no red flag and no condition needing a clinician reached its threshold")
    return "\n".join(lines)


def _nodes(model: Model, args: argparse.Namespace) -> str:
    if args.json:
        return json.dumps(
            {
                "model": {"id": model.id, "version": model.version},
                "nodes": [
                    {"id": node.id, "kind": node.kind, "label": node.label, "states": list(node.states)}
                    for node in model.nodes
                ],
            },
            indent=2,
        )
    lines = []
    for kind in ("factor", "condition", "symptom"):
        lines.append(f"{kind}s:")
        lines.extend(f"  {node.id:<34} {node.label}" for node in model.nodes if node.kind == kind)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    try:
        args = _parser().parse_args(argv)
        model = load(args.model)
        output = {"diagnose": _diagnose, "nodes": _nodes}[args.command](model, args)
    except _UsageError as error:
        print(f"bayesleg: error: {error}", file=sys.stderr)
        return _EXIT_USAGE
    except BayeslegError as error:
        print(f"bayesleg: error: {error}", file=sys.stderr)
        return _EXIT_USAGE
    try:
        print(output)
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
