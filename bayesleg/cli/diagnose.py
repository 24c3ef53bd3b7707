"""``bayesleg diagnose``: rank the causes of a case and triage it."""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from collections.abc import Iterator, Mapping, Sequence

from bayesleg.cli._options import STATE_WORDS, add_model_option, count, one_case, positive_int
from bayesleg.errors import InvalidEvidenceError, InvalidStateError
from bayesleg.knowledge.evidence import parse_state
from bayesleg.model import Model, load
from bayesleg.reasoning.counterfactual import RANKINGS
from bayesleg.reasoning.diagnosis import Diagnosis
from bayesleg.research.uncertainty import MAX_UNCERTAINTY
from bayesleg.serving.limits import DEFAULT_MAX_LINE_BYTES, MAX_LINE_BYTES, MAX_REQUEST_UNCERTAINTY

HELP = "rank the causes of a case and triage it"
DESCRIPTION = "Rank every condition and triage. Evidence: ID (present) or ID=yes|no."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("evidence", nargs="*", metavar="ID[=yes|no]")
    parser.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    parser.add_argument("--top", type=positive_int, metavar="N", help="show the first N causes")
    parser.add_argument(
        "--ranking",
        choices=RANKINGS,
        default="posterior",
        help="order the causes by posterior (default) or by a counterfactual score",
    )
    parser.add_argument(
        "--uncertainty",
        type=count,
        default=0,
        metavar="N",
        help="add each cause's 5-95 %% posterior interval over N seeded draws of the model's "
        f"numbers, and how often it is first (default: 0, none; at most {MAX_UNCERTAINTY}, "
        f"or {MAX_REQUEST_UNCERTAINTY} with --jsonl, a request's limit)",
    )
    parser.add_argument(
        "--jsonl",
        action="store_true",
        help="read one JSON request a line on stdin, write one JSON response a line",
    )
    parser.add_argument(
        "--max-line-bytes",
        type=_line_bytes,
        metavar="N",
        help=f"with --jsonl, the longest line answered; a longer one gets an error object "
        f"(default: {DEFAULT_MAX_LINE_BYTES}, at most {MAX_LINE_BYTES})",
    )
    add_model_option(parser)


def _line_bytes(text: str) -> int:
    value = positive_int(text)
    if value > MAX_LINE_BYTES:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_LINE_BYTES} bytes, got {text!r}")
    return value


def parse_evidence_arguments(tokens: Sequence[str]) -> dict[str, str]:
    """Turn ``ID`` and ``ID=value`` tokens into evidence.

    A bare ``ID`` means present.  The same id given twice with different
    values is an error, not a silent override.

    Raises
    ------
    InvalidStateError
        If a value is not yes or no (present and absent are read too).
    InvalidEvidenceError
        If an id is empty or given twice with different values.
    """
    evidence: dict[str, str] = {}
    for token in tokens:
        node, sep, value = token.partition("=")
        node = node.strip()
        if not node:
            raise InvalidEvidenceError(
                f"evidence {token!r} has no node id; expected ID or ID=yes|no"
            )
        state = _state(node, value.strip()) if sep else "present"
        if evidence.get(node, state) != state:
            raise InvalidEvidenceError(f"{node!r} is given as both yes and no; give it once")
        evidence[node] = state
    return evidence


def _state(node: str, value: str) -> str:
    """The state a value typed on the command line stands for: yes or no (any case).

    present and absent, the states' own names, are read too; True and False,
    which JSON and Python callers use, are not command-line words.
    """
    if value.lower() in _WORDS:
        return parse_state(node, value)
    raise InvalidStateError(f"invalid value {value!r} for {node!r}; expected yes or no")


_WORDS = ("yes", "no", "present", "absent")


def format_ratio(ratio: float) -> str:
    """Format a likelihood ratio for a table."""
    if math.isinf(ratio):
        return "inf"
    return f"{ratio:.3g}" if ratio < 1000 else f"{ratio:.3e}"


def evidence_warnings(model: Model, evidence: Mapping[str, str]) -> list[dict[str, str]]:
    """Return the warnings the JSON contract gives for this evidence (its ``warnings``)."""
    from bayesleg.serving.contract import evidence_warnings

    return evidence_warnings(model, evidence)


def format_warnings(model: Model, evidence: Mapping[str, str]) -> list[str]:
    """Return the contract's warnings for this evidence as lines, in yes/no words."""
    from bayesleg.serving.contract import evidence_warnings

    return [
        f"Warning: {warning['message']}"
        for warning in evidence_warnings(model, evidence, words=STATE_WORDS)
    ]


def format_diagnosis(model: Model, diagnosis: Diagnosis, top: int | None = None) -> str:
    """Return the diagnosis as a readable table with its triage.

    Below the evidence come the warnings the JSON contract would give for it
    (nothing observed, a condition given as evidence).
    """
    ranked = diagnosis.ranked[:top] if top else diagnosis.ranked
    shown = ", ".join(f"{node}={state}" for node, state in diagnosis.evidence.items())
    lines = [f"Evidence: {shown or '(none)'}", *format_warnings(model, diagnosis.evidence)]
    width = max(len(cause.label) for cause in ranked)
    scored = diagnosis.ranking != "posterior"
    if scored:
        lines.append(f"Ranked by {diagnosis.ranking.replace('_', ' ')} (score column)")
    score_header = "  score" if scored else ""
    spread = diagnosis.uncertainty is not None
    spread_header = "  5-95 %       first" if spread else ""
    lines.append(
        f"{'#':>2}  {'condition':<{width}}{score_header}  posterior{spread_header}  prior      LR"
        "  care"
    )
    for rank, cause in enumerate(ranked, start=1):
        score = f"  {cause.score:5.3f}" if scored else ""
        interval = ""
        if cause.uncertainty is not None:
            u = cause.uncertainty
            interval = f"  {u.low:.3f}-{u.high:.3f}  {100 * u.first_share:5.1f}%"
        lines.append(
            f"{rank:>2}  {cause.label:<{width}}{score}  {cause.posterior:9.3f}{interval}"
            f"  {cause.prior:5.3f}  {format_ratio(cause.likelihood_ratio):>6}"
            f"  {model.node(cause.id).care}"
        )
    if len(ranked) < len(diagnosis.ranked):
        lines.append(f"    ({len(diagnosis.ranked) - len(ranked)} more below; see --top)")
    if diagnosis.uncertainty is not None:
        lines.append(
            f"(5-95 % and first: over {diagnosis.uncertainty['samples']} draws of the model's "
            f"numbers, seed {diagnosis.uncertainty['seed']})"
        )
    lines.append(f"Triage: {diagnosis.triage.level}")
    lines.extend(f"  - {reason}" for reason in diagnosis.triage.reasons)
    if not diagnosis.triage.reasons:
        lines.append("  - no red flag, and no condition needing a clinician reached its threshold")
    lines.extend(format_advice(diagnosis))
    return "\n".join(lines)


def format_advice(diagnosis: Diagnosis) -> list[str]:
    """Return the diagnosis's advice as lines, each with its source."""
    lines = ["Advice:"] if diagnosis.advice else []
    for advice in diagnosis.advice:
        lines.append(f"  - {advice.label} ({advice.care}): {advice.text}")
        lines.append(f"    source: {advice.source}")
    return lines


def _stdin_lines(max_line_bytes: int) -> Iterator[bytes]:
    from bayesleg.cli._options import UsageError
    from bayesleg.serving.jsonl import read_lines

    try:
        yield from read_lines(sys.stdin.buffer, max_line_bytes=max_line_bytes)
    except (AttributeError, OSError) as error:  # no stdin at all, or it failed
        raise UsageError(f"cannot read standard input: {error}") from None


def run(args: argparse.Namespace) -> int:
    """Diagnose the evidence on the command line and print the result."""
    if args.jsonl:
        from bayesleg.cli._options import UsageError
        from bayesleg.serving.jsonl import serve_lines

        if args.evidence or args.json:
            raise UsageError("--jsonl reads its cases from stdin; give no evidence and no --json")
        if args.uncertainty > MAX_REQUEST_UNCERTAINTY:
            raise UsageError(
                f"--uncertainty with --jsonl: expected at most {MAX_REQUEST_UNCERTAINTY} draws, "
                f"a request's limit, got {args.uncertainty}"
            )
        max_line_bytes = args.max_line_bytes or DEFAULT_MAX_LINE_BYTES
        # Defaults for the requests.
        given = {"top": args.top, "ranking": args.ranking, "uncertainty": args.uncertainty or None}
        defaults = {field: value for field, value in given.items() if value is not None}
        if isinstance(sys.stdout, io.TextIOWrapper):
            # JSON lines are UTF-8 whatever the locale or PYTHONIOENCODING say.
            sys.stdout.reconfigure(encoding="utf-8", errors="strict")
        serve_lines(
            load(args.model),
            _stdin_lines(max_line_bytes),
            sys.stdout,
            defaults=defaults,
            max_line_bytes=max_line_bytes,
        )
        return 0
    if args.max_line_bytes is not None:
        from bayesleg.cli._options import UsageError

        raise UsageError("--max-line-bytes applies only with --jsonl")
    evidence = parse_evidence_arguments(args.evidence)
    model = load(args.model)
    with one_case(evidence):
        diagnosis = model.diagnose(evidence, ranking=args.ranking, uncertainty=args.uncertainty)
    if args.json:
        payload = diagnosis.to_dict()
        if args.top:
            payload["ranked"] = payload["ranked"][: args.top]
        payload["warnings"] = evidence_warnings(model, diagnosis.evidence)
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        print(format_diagnosis(model, diagnosis, args.top))
    return 0
