"""``bayesleg sensitivity``: how a diagnosis depends on the hand-set numbers."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bayesleg.cli._options import (
    UsageError,
    add_force_option,
    add_model_option,
    count,
    one_case,
    positive_int,
)
from bayesleg.cli.diagnose import parse_evidence_arguments
from bayesleg.cli.graph import check_image, require_matplotlib, save
from bayesleg.errors import ImpossibleEvidenceError
from bayesleg.model import load
from bayesleg.research.sensitivity import CaseSensitivity, Sensitivity, sensitivity

if TYPE_CHECKING:
    from bayesleg.research.evaluate import Vignette

# Chunks of Monte Carlo work from which a progress bar is worth drawing.
_LONG = 8

HELP = "vary the hand-set numbers: tornado, admissible deviations, Monte Carlo stability"
DESCRIPTION = (
    "Vary every hand-set number of the model over its plausible range, one at a time "
    "(exact sensitivity functions: the tornado of the top cause's posterior at each end, and "
    "each number's admissible deviation, the interval over which the top cause stays first) "
    "and all at once (seeded Monte Carlo: how often the top cause stays first, and each "
    "cause's 5-95 %% interval). For one case (evidence: ID (present) or ID=yes|no) or every "
    "case of a vignette file (--vignettes)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("evidence", nargs="*", metavar="ID[=yes|no]")
    parser.add_argument(
        "--vignettes",
        metavar="FILE.jsonl",
        help="analyse every case of a vignette file instead of one case",
    )
    parser.add_argument(
        "--samples", type=count, default=1000, metavar="N", help="Monte Carlo draws (default: 1000)"
    )
    parser.add_argument(
        "--seed", type=count, default=0, metavar="S", help="seed, a whole number >= 0 (default: 0)"
    )
    parser.add_argument(
        "--top", type=positive_int, default=10, metavar="N", help="tornado rows shown (default: 10)"
    )
    parser.add_argument("--json", action="store_true", help="print the analysis as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="draw the tornado diagram to FILE")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (one is drawn on a terminal only when the work is long)",
    )
    add_force_option(parser, "the --plot FILE")
    add_model_option(parser)


@contextmanager
def progress_bar(quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a progress callback drawing a tqdm bar on a terminal, else None."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    try:
        from tqdm import tqdm
    except ModuleNotFoundError:
        yield None
        return
    bars: list[Any] = []

    def update(done: int, total: int) -> None:
        if total < _LONG:  # a few chunks take a moment: no bar
            return
        if not bars:  # the total is known only once the analysis starts
            bars.append(tqdm(total=total, desc="Monte Carlo", unit="chunk", leave=False))
        bars[0].update(done - bars[0].n)

    try:
        yield update
    finally:
        if bars:
            bars[0].close()


# How the library names a case of a batch, which a vignette file names by line and id.
_CASE_NUMBER = re.compile(r" (?:of|for) case \d+(?=\W|$)")


@contextmanager
def _named_vignette(vignettes: Sequence[Vignette]) -> Iterator[None]:
    """Name the vignette whose evidence is impossible by its file, line and id."""
    try:
        yield
    except ImpossibleEvidenceError as error:
        case = getattr(error, "case", None)
        if not (isinstance(case, int) and 0 <= case < len(vignettes)):
            raise
        vignette = vignettes[case]
        text = _CASE_NUMBER.sub("", str(error))
        raise ImpossibleEvidenceError(f"{vignette.where} (id {vignette.id!r}): {text}") from error


def run(args: argparse.Namespace) -> int:
    """Run the analysis and print it."""
    if args.vignettes is not None:
        from bayesleg.research.evaluate import read_vignettes

        if args.evidence:
            raise UsageError("give evidence or --vignettes, not both")
        if args.plot:
            raise UsageError("--plot draws one case's tornado; it does not apply to --vignettes")
        cases: Any = read_vignettes(args.vignettes)
    else:
        cases = parse_evidence_arguments(args.evidence)
    model = load(args.model)
    if args.plot:
        require_matplotlib()
        check_image(args.plot, force=args.force)
    named = _named_vignette(cases) if args.vignettes is not None else one_case(cases)
    with named, progress_bar(args.quiet) as progress:
        result = sensitivity(model, cases, samples=args.samples, seed=args.seed, progress=progress)
    case = result.cases[0]
    if args.plot:
        from bayesleg.research.plots import plot_tornado

        ax = plot_tornado(case, top=args.top)
        save(ax.figure, args.plot, 100)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    elif args.vignettes is not None:
        print(format_cases(result, args.vignettes, args.top))
    else:
        print(format_case(case, result.samples, result.seed, args.top))
    return 0


def format_case(case: CaseSensitivity, samples: int, seed: int | None, top: int) -> str:
    """Return one case's analysis as readable tables."""
    shown = ", ".join(f"{node}={state}" for node, state in case.evidence.items())
    lines = [
        f"Evidence: {shown or '(none)'}",
        f"Top cause: {case.top} (posterior {case.posterior:.3f})",
        "",
        f"One number at a time: P({case.top}) at each end of the number's range",
    ]
    bars = case.tornado[:top]
    width = max(len("number"), *(len(bar.parameter.name) for bar in bars))
    lines.append(f"{'number':<{width}}  value  range            at low  at high  swing")
    for bar in bars:
        r = bar.parameter
        span = f"{r.low:g} to {r.high:g}"
        lines.append(
            f"{r.name:<{width}}  {r.p:<5g}  {span:<15}  {bar.posterior_low:6.3f}"
            f"  {bar.posterior_high:7.3f}  {bar.swing:5.3f}"
        )
    still = sum(bar.swing > 1e-9 for bar in case.tornado)
    lines.append(
        f"({len(bars)} of {len(case.tornado)} numbers shown; {still} move it by more than 1e-9)"
    )
    lines.append("")
    lines.extend(format_deviations(case, top))
    lines.append("")
    if not samples:
        lines.append("All numbers at once: skipped (--samples 0)")
        return "\n".join(lines)
    lines.append(
        f"All numbers at once: {samples} draws (seed {seed}), each number from a two-sided "
        "triangular distribution on its range"
    )
    lines.append(f"{case.top} stays first in {100 * case.stability:.1f} % of draws")
    id_width = max(len("condition"), *(len(i.id) for i in case.intervals))
    lines.append(f"{'condition':<{id_width}}  posterior  5 %    median  95 %   first in")
    for interval in case.intervals:
        if interval.high < 0.01 and interval.top_share == 0:
            continue
        lines.append(
            f"{interval.id:<{id_width}}  {interval.posterior:9.3f}  {interval.low:5.3f}"
            f"  {interval.median:6.3f}  {interval.high:5.3f}  {100 * interval.top_share:6.1f} %"
        )
    hidden = sum(i.high < 0.01 and i.top_share == 0 for i in case.intervals)
    if hidden:
        lines.append(f"({hidden} conditions below 0.01 throughout not shown)")
    return "\n".join(lines)


def format_deviations(case: CaseSensitivity, top: int) -> list[str]:
    """Return the numbers whose plausible range can change the top cause, as lines."""
    flips = [d for d in case.deviations if d.flips]
    lines = [f"Admissible deviations: {case.top} stays first while a number stays in its interval"]
    if not flips:
        lines.append("no number's plausible range changes the top cause")
        return lines
    # Closest to flipping first: the smallest move from the hand-set value.
    flips.sort(key=lambda d: min(d.parameter.p - d.lower, d.upper - d.parameter.p))
    width = max(len("number"), *(len(d.parameter.name) for d in flips[:top]))
    lines.append(f"{'number':<{width}}  value  range            stays first on   then first")
    for d in flips[:top]:
        r = d.parameter
        span = f"{r.low:g} to {r.high:g}"
        interval = f"{d.lower:.4g} to {d.upper:.4g}"
        takers = [
            f"{taker} {side}"
            for taker, side, flips_here in (
                (d.lower_taker, "below", d.flips_low),
                (d.upper_taker, "above", d.flips_high),
            )
            if flips_here
        ]
        lines.append(
            f"{r.name:<{width}}  {r.p:<5g}  {span:<15}  {interval:<15}  {', '.join(takers)}"
        )
    lines.append(f"({min(top, len(flips))} of {len(flips)} such numbers shown)")
    return lines


def format_cases(result: Sensitivity, path: str, top: int) -> str:
    """Return a vignette file's analysis: one line a case, then the numbers that flip any."""
    lines = [f"Vignettes: {path} ({len(result.cases)} cases)"]
    if result.samples:
        lines.append(f"Monte Carlo: {result.samples} draws (seed {result.seed})")
    flips = result.flips()
    counts: dict[str, int] = {}
    for flip in flips:
        counts[str(flip.case)] = counts.get(str(flip.case), 0) + 1
    labels = [str(case.id) for case in result.cases]
    id_width = max(len("case"), *(len(label) for label in labels))
    top_width = max(len("top cause"), *(len(case.top) for case in result.cases))
    lines.append(
        f"{'case':<{id_width}}  {'top cause':<{top_width}}  posterior  stays first  flipped by"
    )
    for label, case in zip(labels, result.cases, strict=True):
        stays = f"{100 * case.stability:5.1f} %" if result.samples else "    -  "
        lines.append(
            f"{label:<{id_width}}  {case.top:<{top_width}}  {case.posterior:9.3f}  {stays:>11}"
            f"  {counts.get(label, 0)} number(s)"
        )
    lines.append("")
    by_number: dict[str, list[str]] = {}
    for flip in flips:
        by_number.setdefault(flip.parameter, []).append(f"{flip.case} ({flip.end}: {flip.taker})")
    if not by_number:
        lines.append("No number's plausible range changes any case's first cause.")
        return "\n".join(lines)
    ranked = sorted(by_number.items(), key=lambda item: -len(item[1]))
    lines.append(f"Numbers whose plausible range can change a case's first cause ({len(ranked)}):")
    for name, cases in ranked[:top]:
        lines.append(f"  {name}: {len(cases)} case(s): {', '.join(cases)}")
    if len(ranked) > top:
        lines.append(f"  ({len(ranked) - top} more; see --top or --json)")
    return "\n".join(lines)
