"""``bayesleg update``: fit the model's numbers to case data and write a new model file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bayesleg.cli._options import (
    UsageError,
    add_force_option,
    add_model_option,
    check_output,
    decimal,
    positive_int,
    writing,
)
from bayesleg.model import Model, load

if TYPE_CHECKING:
    import pandas

HELP = "update the model's numbers from case data (EM) into a new model file"
DESCRIPTION = (
    "Read cases from DATA.csv (one column per node id; yes/no, also true/false, "
    "present/absent or 1/0; empty for missing), treat the model's numbers as a prior "
    "worth --strength cases each, fit leaks, weights and factor priors by EM on the "
    "noisy-OR parameters, and write the updated model, its provenance recorded, to "
    "-o FILE.toml."
)
_SHOWN = 10


def strength(text: str) -> float:
    """Parse a number from 0 to :data:`~bayesleg.research.learn.MAX_STRENGTH` for argparse."""
    from bayesleg.research.learn import MAX_STRENGTH  # only when --strength is given

    value = decimal(text)
    if not 0 <= value <= MAX_STRENGTH:
        raise argparse.ArgumentTypeError(
            f"expected a number from 0 to {MAX_STRENGTH:g} (cases), got {text!r}"
        )
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("data", metavar="DATA.csv", help="the cases, one per row")
    parser.add_argument(
        "--strength",
        type=strength,
        required=True,
        metavar="N",
        help="how many cases each current number is worth (0: the data alone)",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE.toml", help="the updated model file"
    )
    parser.add_argument(
        "--max-iterations", type=positive_int, default=1000, metavar="K", help="EM limit"
    )
    add_force_option(parser, "FILE.toml")
    add_model_option(parser)


def changes(before: Model, after: Model) -> list[tuple[str, float, float]]:
    """Return ``(number, before, after)`` for every number that moved, largest move first."""
    moved = []
    for old, new in zip(before.spec.nodes, after.spec.nodes, strict=True):
        for (field, was), (_, now) in zip(old.parameters(), new.parameters(), strict=True):
            if was.p != now.p:
                moved.append((f"{old.id}.{field}", was.p, now.p))
    moved.sort(key=lambda change: (-abs(change[2] - change[1]), change[0]))
    return moved


def data_warnings(data: pandas.DataFrame, used: int) -> list[str]:
    """Say which rows and columns of the data held no observed value."""
    warnings = []
    skipped = len(data) - used
    if skipped:
        warnings.append(
            f"{skipped} of {len(data)} rows have no observed value and were left out "
            "(they say nothing about any number)"
        )
    empty = [str(column) for column in data.columns if data[column].isna().all()]
    if empty:
        warnings.append(
            f"column{'s' if len(empty) > 1 else ''} {', '.join(map(repr, empty))} "
            "hold no observed value"
        )
    return warnings


def run(args: argparse.Namespace) -> int:
    """Fit, write and summarise the update."""
    from bayesleg.research.learn import read_cases

    path = Path(args.data)
    check_output(args.output, force=args.force)
    try:
        data = read_cases(path)
    except OSError as error:
        reason = error.strerror or error
        raise UsageError(f"cannot read cases from {str(path)!r}: {reason}") from error
    model = load(args.model)
    updated = model.update(
        data, strength=args.strength, max_iterations=args.max_iterations, data_name=path.name
    )
    with writing(args.output):
        written = updated.save(args.output, overwrite=args.force)
    record = updated.spec.provenance[-1]
    state = "converged" if record.converged else "stopped at the iteration limit"
    print(
        f"Updated {model.id} from {record.cases} cases in {path.name} (strength "
        f"{record.strength:g}): {record.iterations} EM iterations, {state}."
    )
    for warning in data_warnings(data, record.cases):
        print(f"warning: {warning}")
    moved = changes(model, updated)
    print(f"{len(moved)} of {sum(len(n.parameters()) for n in model.spec.nodes)} numbers moved.")
    if moved:
        width = max(len(name) for name, _, _ in moved[:_SHOWN])
        print(f"  {'number':<{width}}  before   after")
        for name, was, now in moved[:_SHOWN]:
            print(f"  {name:<{width}}  {was:6.4f}  {now:6.4f}")
        if len(moved) > _SHOWN:
            print(f"  ({len(moved) - _SHOWN} more in the file's notes)")
    print(f"wrote {written} (version {updated.version}, data sha256 {record.data_sha256[:12]}...)")
    return 0
