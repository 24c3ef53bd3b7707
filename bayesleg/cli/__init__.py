"""The ``bayesleg`` command.

Each subcommand lives in its own module under :mod:`bayesleg.cli`, listed
in ``bayesleg.cli._options.COMMANDS``.  Bad input is answered with one line on
stderr and exit code 2, never a traceback; Ctrl-C ends a command with exit
code 130, as a shell reports a SIGINT, and no traceback either.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from bayesleg.cli._options import COMMANDS, UsageError, shown_error
from bayesleg.errors import BayeslegError

__all__ = ["UsageError", "main"]

_EXIT_USAGE = 2
_EXIT_INTERRUPTED = 128 + 2  # killed by SIGINT, as shells report it


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> _Parser:
    from bayesleg._version import __version__

    parser = _Parser(
        prog="bayesleg",
        description="Why do legs feel weak, heavy, tingly, numb or crampy after exercise?",
    )
    parser.add_argument("--version", action="version", version=f"bayesleg {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"bayesleg.cli.{name}")
        command = subparsers.add_parser(
            name, help=module.HELP, description=module.DESCRIPTION or module.HELP
        )
        module.configure(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    try:
        args = _parser().parse_args(argv)
        return args.run(args)
    except (UsageError, BayeslegError) as error:
        print(f"bayesleg: error: {shown_error(error)}", file=sys.stderr)
        return _EXIT_USAGE
    except BrokenPipeError:  # the reader went away, as with `| head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:  # Ctrl-C: stop quietly, as a shell command does
        return _EXIT_INTERRUPTED
    except OSError as error:  # a file that cannot be read or written
        print(f"bayesleg: error: {shown_error(error)}", file=sys.stderr)
        return _EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
