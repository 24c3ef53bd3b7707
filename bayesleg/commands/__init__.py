"""The subcommands of ``bayesleg``, one module each.

A command module defines ``HELP`` (one line), ``DESCRIPTION`` (or None),
``configure(parser)`` to add its arguments and ``run(args) -> int`` that
prints its output and returns the exit code.  Errors it raises
(:class:`~bayesleg.errors.BayeslegError` or :class:`~bayesleg.cli.UsageError`)
become one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse

__all__ = ["COMMANDS", "add_model_option", "positive_int"]

#: Subcommand names, in the order ``bayesleg --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "diagnose",
    "explain",
    "next",
    "interview",
    "nodes",
    "schema",
    "serve",
    "evaluate",
    "sensitivity",
    "simulate",
    "update",
    "export",
    "graph",
)


def positive_int(text: str) -> int:
    """Parse a positive whole number for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--model PATH`` (default: the shipped model)."""
    parser.add_argument("--model", metavar="PATH", help="a model file (default: the shipped one)")
