"""``bayesleg graph``: draw the network in three layers to an image."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Any

from bayesleg.cli._options import (
    UsageError,
    add_force_option,
    add_model_option,
    check_output,
    positive_int,
)
from bayesleg.knowledge._files import replacing
from bayesleg.model import load

HELP = "draw the network (factors -> conditions -> symptoms) to an image"
DESCRIPTION = (
    "Draw the network in three layers, factors -> conditions -> symptoms, to FILE "
    "(.png, .svg or .pdf; needs matplotlib: pip install 'bayesleg[plot]')."
)


def positive_float(text: str) -> float:
    """Parse a positive number for argparse."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the image to write")
    parser.add_argument(
        "--size",
        nargs=2,
        type=positive_float,
        default=(14.0, 10.0),
        metavar=("WIDTH", "HEIGHT"),
        help="in inches (default: 14 10)",
    )
    parser.add_argument(
        "--dpi", type=positive_int, default=100, help="dots per inch (default: 100)"
    )
    add_force_option(parser)
    add_model_option(parser)


def save(figure: Any, path: str, dpi: int) -> None:
    """Save a figure whole or not at all, a bad path or format a one-line usage error."""
    try:
        with replacing(path) as temporary:
            figure.savefig(temporary, dpi=dpi)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot write {path!r}: {error}") from error


def check_image(path: str, *, force: bool) -> None:
    """Fail with a one-line usage error, before any work, if ``path`` is no image file name.

    matplotlib would otherwise append ``.png`` to a name without a suffix.
    """
    if not Path(path).suffix:
        raise UsageError(
            f"cannot tell the image format of {path!r}; expected a name ending "
            f"in .png, .svg or .pdf"
        )
    check_output(path, force=force)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require_matplotlib() -> None:
    """Fail with a one-line usage error, before any work, if matplotlib is missing."""
    if not _installed("matplotlib"):
        raise UsageError("drawing needs matplotlib: pip install 'bayesleg[plot]'")


def run(args: argparse.Namespace) -> int:
    """Draw and save the network."""
    require_matplotlib()
    check_image(args.output, force=args.force)
    from bayesleg.research.plots import new_figure, plot_network

    model = load(args.model)
    width, height = args.size
    figure = new_figure(width, height, dpi=args.dpi)
    plot_network(model, figure.add_subplot())
    save(figure, args.output, args.dpi)
    print(
        f"wrote {args.output}: {len(model.nodes)} nodes in three layers "
        f"({round(width * args.dpi)} x {round(height * args.dpi)} px)"
    )
    return 0
