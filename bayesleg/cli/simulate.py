"""``bayesleg simulate``: draw a synthetic cohort to CSV or Parquet."""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from bayesleg.cli._options import (
    UsageError,
    add_force_option,
    add_model_option,
    check_output,
    count,
    one_case,
    writing,
)
from bayesleg.cli.diagnose import parse_evidence_arguments
from bayesleg.knowledge._files import replacing
from bayesleg.model import load

HELP = "draw a synthetic cohort of cases to CSV or Parquet"
DESCRIPTION = (
    "Draw N cases from the model (exactly conditioned on --evidence if given) and write "
    "them to FILE: .csv, or .parquet (needs pyarrow: pip install 'bayesleg[parquet]'). "
    "One column per node, True for present."
)

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("n", type=count, metavar="N", help="number of cases")
    parser.add_argument(
        "--seed", type=count, metavar="S", help="random seed, a whole number >= 0 (default: fresh)"
    )
    parser.add_argument(
        "--evidence",
        nargs="+",
        default=[],
        metavar="ID[=yes|no]",
        help="condition every case on this evidence",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="FILE.csv or FILE.parquet"
    )
    add_force_option(parser)
    add_model_option(parser)


def run(args: argparse.Namespace) -> int:
    """Draw the cohort and write it."""
    output = Path(args.output)
    kind = _FORMATS.get(output.suffix.lower())
    if kind is None:
        raise UsageError(f"cannot tell the format of {args.output!r}; expected .csv or .parquet")
    if kind == "parquet" and not _installed("pyarrow"):
        raise UsageError("writing Parquet needs pyarrow: pip install 'bayesleg[parquet]'")
    check_output(args.output, force=args.force)
    evidence = parse_evidence_arguments(args.evidence)
    model = load(args.model)
    start = time.perf_counter()
    with one_case(evidence):
        cohort = model.simulate(args.n, seed=args.seed, evidence=evidence)
    elapsed = time.perf_counter() - start
    with writing(args.output), replacing(output) as temporary:
        if kind == "csv":
            cohort.to_csv(temporary, index=False)
        else:
            cohort.to_parquet(temporary, index=False)
    given = ", ".join(f"{node}={state}" for node, state in evidence.items())
    print(
        f"wrote {len(cohort)} cases x {cohort.shape[1]} nodes to {args.output}"
        f" ({'given ' + given if given else 'unconditioned'}; drawn in {elapsed:.2f} s)"
    )
    return 0
