"""Fit the shipped model to simulated cases by EM: plain steps against SQUAREM.

Draws ``--cases`` cases from the shipped model (``Model.simulate``, seeded),
hides every condition (as in real data, where nobody records the cause), and
fits every number with ``bayesleg.research.learn.fit`` at prior strength
``--strength``: once with plain EM steps and once accelerated by SQUAREM,
each up to ``--max-iterations`` EM steps with the default tolerance.  For
each it reports the EM steps, whether the fit converged, the CPU seconds and
the final log posterior; then the largest difference between the two fits'
numbers.  Progress goes to stderr and the table to stdout; only with
``--output DIR`` is it also written, to ``DIR/bench_learn.md`` with the raw
numbers in ``DIR/bench_learn.json``.

Run from the repository root::

    python benchmarks/bench_learn.py
    python benchmarks/bench_learn.py --cases 2000 --max-iterations 1000
    python benchmarks/bench_learn.py --output benchmarks/results

Times are CPU seconds of this process on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time

import numpy as np
from _output import add_output_option, write_results

import bayesleg
from bayesleg.research.learn import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="simulated cases (default 300)")
    parser.add_argument("--strength", type=float, default=10.0, help="prior strength (10)")
    parser.add_argument(
        "--max-iterations", type=int, default=1000, help="EM steps at most, each way (1000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="simulation seed (1)")
    add_output_option(parser, "bench_learn")
    args = parser.parse_args()

    model = bayesleg.load()
    data = model.simulate(args.cases, seed=args.seed).drop(columns=list(model.conditions))
    runs = {}
    for name, accelerate in (("plain EM", False), ("SQUAREM", True)):
        print(f"fitting with {name} ...", file=sys.stderr)
        start = time.process_time()
        result = fit(
            model,
            data,
            strength=args.strength,
            max_iterations=args.max_iterations,
            accelerate=accelerate,
        )
        runs[name] = (result, time.process_time() - start)
    plain, fast = runs["plain EM"][0], runs["SQUAREM"][0]
    difference = max(abs(plain.estimates[key] - fast.estimates[key]) for key in plain.estimates)

    lines = [
        f"EM on {args.cases:,} simulated cases of the shipped model, conditions hidden, "
        f"strength {args.strength:g}, at most {args.max_iterations:,} EM steps:",
        "",
        "| method | EM steps | converged | CPU s | final log posterior |",
        "|---|---:|---|---:|---:|",
    ]
    for name, (result, seconds) in runs.items():
        lines.append(
            f"| {name} | {result.iterations:,} | {'yes' if result.converged else 'no'} | "
            f"{seconds:.1f} | {result.log_posterior[-1]:.4f} |"
        )
    plain_seconds, fast_seconds = runs["plain EM"][1], runs["SQUAREM"][1]
    lines += [
        "",
        f"SQUAREM / plain EM: {fast.iterations / plain.iterations:.3f} of the steps, "
        f"{fast_seconds / plain_seconds:.3f} of the CPU time; largest difference between "
        f"the two fits' numbers: {difference:.2e}.",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}. Run "
        f"{datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}: "
        f"`python benchmarks/bench_learn.py {' '.join(sys.argv[1:])}`.",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    write_results(
        args.output,
        "bench_learn",
        markdown,
        {
            "cases": args.cases,
            "strength": args.strength,
            "max_iterations": args.max_iterations,
            "runs": {
                name: {
                    "iterations": result.iterations,
                    "converged": result.converged,
                    "cpu_seconds": seconds,
                    "log_posterior": result.log_posterior[-1],
                }
                for name, (result, seconds) in runs.items()
            },
            "largest_difference": difference,
        },
    )


if __name__ == "__main__":
    main()
