"""What the subcommands share: their list, usage errors and common options.

A command module defines ``HELP`` (one line), ``DESCRIPTION`` (or None),
``configure(parser)`` to add its arguments and ``run(args) -> int`` that
prints its output and returns the exit code.  Errors it raises
(:class:`~bayesleg.errors.BayeslegError` or :class:`UsageError`)
become one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
from collections.abc import Iterator, Mapping

from bayesleg.errors import ImpossibleEvidenceError
from bayesleg.knowledge._files import check_file_name

__all__ = [
    "COMMANDS",
    "STATE_WORDS",
    "UsageError",
    "add_force_option",
    "add_model_option",
    "check_output",
    "one_case",
    "positive_int",
    "positive_seconds",
    "shown_evidence",
    "writing",
]

#: Subcommand names, in the order ``bayesleg --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "diagnose",
    "explain",
    "next",
    "interview",
    "nodes",
    "card",
    "schema",
    "serve",
    "fhir",
    "evaluate",
    "sensitivity",
    "simulate",
    "update",
    "export",
    "graph",
)


class UsageError(Exception):
    """A command line that cannot be run; reported on one line."""


def count(text: str) -> int:
    """Parse a whole number >= 0 for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """Parse a positive whole number for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """Parse a positive, finite number of seconds for argparse."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--model PATH`` (default: the shipped model)."""
    parser.add_argument("--model", metavar="PATH", help="a model file (default: the shipped one)")


def add_force_option(parser: argparse.ArgumentParser, what: str = "FILE") -> None:
    """Add ``--force``: overwrite the output file if it exists."""
    parser.add_argument("--force", action="store_true", help=f"overwrite {what} if it exists")


def check_output(path: str, *, force: bool) -> None:
    """Fail with a one-line usage error, before any work, if ``path`` cannot be written.

    Catches a name ending in ``/``, a missing folder, a folder given as the
    file and, unless ``force``, an existing file; what only writing can tell
    (permissions, a full disk) :func:`writing` reports.
    """
    output = check_file_name(path)
    if output.is_dir():
        raise UsageError(f"cannot write {path!r}: it is a folder; expected a file name")
    if not output.parent.is_dir():
        raise UsageError(f"cannot write {path!r}: no folder {str(output.parent)!r}")
    if os.path.lexists(output) and not force:
        raise UsageError(f"{path!r} exists; pass --force to overwrite it")


@contextlib.contextmanager
def writing(path: str) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing ``path`` into a one-line usage error."""
    try:
        yield
    except OSError as error:
        raise UsageError(f"cannot write {path!r}: {error.strerror or error}") from error


#: How the command line names each state in its messages.
STATE_WORDS: dict[str, str] = {"present": "yes", "absent": "no"}


def shown_evidence(evidence: Mapping[str, str]) -> str:
    """Return evidence as the command line takes it: ``ID=yes ID=no``."""
    return " ".join(f"{node}={STATE_WORDS[state]}" for node, state in evidence.items())


# What the library says of the first case of a batch; the command line has one case.
_CASE_ZERO = re.compile(r" (?:of|for) case 0(?=\W|$)")
# The model's echo of the case, in its own vocabulary (present/absent).
_ECHO = re.compile(r": \{.*\}$")


@contextlib.contextmanager
def one_case(evidence: Mapping[str, str]) -> Iterator[None]:
    """Report impossible evidence of the one case given on the command line.

    The library numbers the cases of a batch (``case 0``); the command line
    has a single case, so the number goes, and the evidence is named as it
    was typed (``ID=yes``, ``ID=no``).
    """
    try:
        yield
    except ImpossibleEvidenceError as error:
        text = _ECHO.sub("", _CASE_ZERO.sub("", str(error)))
        raise ImpossibleEvidenceError(f"{text}: {shown_evidence(evidence)}") from error
