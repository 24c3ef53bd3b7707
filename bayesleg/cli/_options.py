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
    "decimal",
    "one_case",
    "positive_int",
    "positive_seconds",
    "shown_error",
    "shown_evidence",
    "whole_number",
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


# What the command line reads as a number: ASCII digits only, so that "1_0"
# and other scripts' digits, which Python's int() and float() take, are refused.
_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def whole_number(text: str) -> int | None:
    """Return the whole number >= 0 that ``text`` spells in ASCII digits, else None."""
    stripped = text.strip()
    return int(stripped) if _WHOLE.fullmatch(stripped) else None


def decimal(text: str) -> float:
    """Return the number ``text`` spells as a plain ASCII decimal, else NaN (never infinite)."""
    stripped = text.strip()
    if not _DECIMAL.fullmatch(stripped):
        return math.nan
    value = float(stripped)
    return value if math.isfinite(value) else math.nan


def count(text: str) -> int:
    """Parse a whole number >= 0 for argparse."""
    value = whole_number(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """Parse a positive whole number for argparse."""
    value = whole_number(text) or 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """Parse a positive, finite number of seconds for argparse."""
    value = decimal(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--model PATH`` (default: the shipped model)."""
    parser.add_argument(
        "--model", type=_file_name, metavar="PATH", help="a model file (default: the shipped one)"
    )


def _file_name(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got ''")
    return text


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


def shown_error(error: BaseException) -> str:
    """Return an error's message in the command line's words.

    Impossible evidence that the library shows as a Python dict of states
    (``{'cramps': 'present'}``) is shown as it is typed (``cramps=yes``); a
    file that cannot be read or written is named with its reason.
    """
    evidence = getattr(error, "evidence", None)
    if isinstance(error, ImpossibleEvidenceError) and isinstance(evidence, Mapping):
        text = _ECHO.sub("", _CASE_ZERO.sub("", str(error)))
        return f"{text}: {shown_evidence(evidence)}"
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)


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
