"""``bayesleg graph``: draw the network in three layers to an image."""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any

from bayesleg.cli._options import (
    UsageError,
    add_force_option,
    add_model_option,
    check_output,
    decimal,
    whole_number,
)
from bayesleg.cli.diagnose import parse_evidence_arguments
from bayesleg.knowledge._files import replacing
from bayesleg.model import load

HELP = "draw the network (factors -> conditions -> symptoms) to an image"
DESCRIPTION = (
    "Draw the network in three layers, factors -> conditions -> symptoms, to FILE "
    "(.png, .svg or .pdf; needs matplotlib: pip install 'bayesleg[plot]'). "
    "Given evidence (ID or ID=yes|no), outline it and the top cause."
)


#: The sizes and resolutions the command draws at: matplotlib cannot set its
#: text below about 10 dpi, and the image's pixels are held in memory (4 bytes each).
INCHES = (2.0, 100.0)
DPI = (10, 1200)
MAX_PIXELS = 1 << 26


def inches(text: str) -> float:
    """Parse a width or height in inches, within :data:`INCHES`, for argparse."""
    value = decimal(text)
    if not INCHES[0] <= value <= INCHES[1]:
        raise argparse.ArgumentTypeError(
            f"expected a number of inches from {INCHES[0]:g} to {INCHES[1]:g}, got {text!r}"
        )
    return value


def dots_per_inch(text: str) -> int:
    """Parse a resolution, a whole number within :data:`DPI`, for argparse."""
    value = whole_number(text) or 0
    if not DPI[0] <= value <= DPI[1]:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of dots per inch from {DPI[0]} to {DPI[1]}, got {text!r}"
        )
    return value


def check_pixels(width: float, height: float, dpi: int) -> None:
    """Fail with a one-line usage error if the image would exceed :data:`MAX_PIXELS`."""
    pixels = round(width * dpi) * round(height * dpi)
    if pixels > MAX_PIXELS:
        raise UsageError(
            f"an image of {round(width * dpi)} x {round(height * dpi)} px is too large; "
            f"expected at most {MAX_PIXELS} px in all: lower --size or --dpi"
        )


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("evidence", nargs="*", metavar="ID[=yes|no]")
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the image (.png, .svg or .pdf)"
    )
    parser.add_argument(
        "--size",
        nargs=2,
        type=inches,
        default=(14.0, 10.0),
        metavar=("WIDTH", "HEIGHT"),
        help=f"in inches, each {INCHES[0]:g} to {INCHES[1]:g} (default: 14 10)",
    )
    parser.add_argument(
        "--dpi",
        type=dots_per_inch,
        default=100,
        help=f"dots per inch, {DPI[0]} to {DPI[1]}, at most {MAX_PIXELS} px in all (default: 100)",
    )
    add_force_option(parser)
    add_model_option(parser)


def save(figure: Any, path: str, dpi: int) -> None:
    """Save a figure whole or not at all, a bad path or format a one-line usage error."""
    from bayesleg.research.plots import save_figure

    try:
        with replacing(path) as temporary:
            save_figure(figure, temporary, dpi=dpi)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot write {path!r}: {error}") from error


def check_image(path: str, *, force: bool) -> None:
    """Fail, before any work, if ``path`` is no image file name or cannot be written.

    Raises
    ------
    InvalidArgumentError
        If the name does not end in .png, .svg or .pdf.
    UsageError
        If the file cannot be written.
    """
    from bayesleg.research.plots import check_image_name

    check_image_name(path)
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
    width, height = args.size
    check_pixels(width, height, args.dpi)
    from bayesleg.research.plots import new_figure, plot_network

    model = load(args.model)
    evidence = parse_evidence_arguments(args.evidence) if args.evidence else None
    figure = new_figure(width, height, dpi=args.dpi)
    plot_network(model, figure.add_subplot(), evidence=evidence)
    save(figure, args.output, args.dpi)
    print(
        f"wrote {args.output}: {len(model.nodes)} nodes in three layers "
        f"({round(width * args.dpi)} x {round(height * args.dpi)} px)"
    )
    if evidence is not None:
        top = model.diagnose(evidence).top
        print(f"outlined the evidence and the top cause, {top.id} ({top.posterior:.2f})")
    return 0
