"""``bayesleg card``: the model as a document for a clinician reviewing its numbers."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path

from bayesleg.cli._options import UsageError, add_model_option, check_output, writing
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
    parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
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
    check_output(args.output)
    if os.path.lexists(args.output) and not args.force:
        raise UsageError(f"{args.output!r} exists; pass --force to overwrite it")
    spec = load(args.model).spec
    text = card_html(spec) if format == "html" else card_markdown(spec)
    with writing(args.output):
        _replace(Path(args.output), text)
    print(f"wrote {args.output} ({format}, {len(spec.nodes)} nodes)")
    return 0


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a temporary file, then a rename."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
