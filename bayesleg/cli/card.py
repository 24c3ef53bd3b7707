"""``bayesleg card``: the model as a document for a clinician reviewing its numbers."""

from __future__ import annotations

import argparse
from pathlib import Path

from bayesleg.cli._options import (
    UsageError,
    add_force_option,
    add_model_option,
    check_output,
    writing,
)
from bayesleg.knowledge._files import write_text
from bayesleg.knowledge.card import card_html, card_markdown
from bayesleg.model import load

HELP = "write the model card: every number with its quoted passage, for review"
DESCRIPTION = (
    "Render the model as a document for a clinician reviewing its numbers: the protocol "
    "(each wording class and the anchor it sets), every condition with its care level, "
    "advice, base rate, weights, joint causes and preventers, every symptom and factor, "
    "and triage (thresholds and red flags), each number with its quoted passage, cue, "
    "anchor and note.  Without -o, print Markdown; with -o, the suffix picks the format "
    "(.md or .html, a self-contained page)."
)

#: Output formats by file suffix.
FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="the file to write, .md or .html (default: stdout)"
    )
    add_force_option(parser)
    add_model_option(parser)


def format_for_path(path: str) -> str:
    """Return the card format a file name asks for, or fail with a one-line usage error."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(
            f"cannot tell the card format of {path!r}; expected a name ending in .md or .html"
        )
    return FORMATS[suffix]


def run(args: argparse.Namespace) -> int:
    """Render the card to stdout or to a file."""
    if args.output is None:
        print(card_markdown(load(args.model).spec), end="")
        return 0
    format = format_for_path(args.output)
    check_output(args.output, force=args.force)
    spec = load(args.model).spec
    text = card_html(spec) if format == "html" else card_markdown(spec)
    with writing(args.output):
        write_text(args.output, text)
    print(f"wrote {args.output} ({format}, {len(spec.nodes)} nodes)")
    return 0
