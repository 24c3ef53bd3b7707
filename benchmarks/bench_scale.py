"""Score a million synthetic cases with Dask: throughput on 1 and 2 workers.

Draws ``--cases`` cases (1,000,000 by default) from the shipped model with a
seeded numpy ancestral sampler, observes the factors and symptoms (each cell
missing with probability ``--missing``, 0.3 by default; conditions are never
observed), and scores them as a Dask DataFrame on a ``distributed.LocalCluster``
of 1 and then 2 worker processes, one thread each:

* ``rank_frame``: ``Model.rank_frame`` -- every condition's posterior, the top
  cause and the triage level, the product's full answer;
* ``posteriors``: ``Engine.posteriors`` of the 18 conditions only.

Each run computes the whole frame and keeps the result in memory (it is not
written anywhere), so the time is scoring, plus Dask's overhead of shipping
partitions.  Before timing, one partition's Dask result is checked against
pandas.  Progress goes to stderr and the table to stdout; only with
``--output DIR`` is it also written, to ``DIR/bench_scale.md`` with the raw
numbers in ``DIR/bench_scale.json`` (``--output benchmarks/results`` refreshes
the committed results).

Needs the dask extra (``pip install '.[dask]'``).  Run from the repository
root::

    python benchmarks/bench_scale.py
    python benchmarks/bench_scale.py --cases 100000 --workers 1 2
    python benchmarks/bench_scale.py --output benchmarks/results

Timing is wall-clock on a shared machine: other work on it slows a run down.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time

import numpy as np
import pandas as pd
from _output import add_output_option, write_results

import bayesleg


def sample(model: bayesleg.Model, n: int, seed: int) -> pd.DataFrame:
    """Draw ``n`` cases by ancestral sampling from the model's tables (True = present)."""
    rng = np.random.default_rng(seed)
    network = model.discrete_network
    drawn: dict[str, np.ndarray] = {}
    for name in network.variables:  # parents come first
        table = np.asarray(network.cpts[name])
        given = tuple(drawn[parent].astype(np.intp) for parent in network.parents[name])
        present = table[(1, *given)] if given else np.full(n, table[1])
        drawn[name] = rng.random(n) < present
    return pd.DataFrame(drawn)


def observed(model: bayesleg.Model, cases: pd.DataFrame, missing: float, seed: int):
    """The factors and symptoms as nullable booleans, cells blanked at random."""
    rng = np.random.default_rng(seed + 1)
    columns = [*model.factors, *model.symptoms]
    frame = cases[columns].astype("boolean")
    return frame.mask(rng.random(frame.shape) < missing)


def as_states(frame: pd.DataFrame) -> pd.DataFrame:
    """The same findings as the engine's state names ("present"/"absent"), None if missing."""
    named = {}
    for column in frame.columns:
        values = np.where(frame[column].fillna(False).to_numpy(bool), "present", "absent")
        named[column] = pd.Series(values, dtype=object).where(frame[column].notna(), None)
    return pd.DataFrame(named, index=frame.index)


def run(
    what: str, model: bayesleg.Model, frame: pd.DataFrame, workers: int, partitions: int
) -> dict:
    import warnings

    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    # The cases travel to the workers once, in the graph, before the clock starts.
    warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        data = client.persist(dd.from_pandas(frame, npartitions=partitions))
        data.head(1)  # the partitions are on the workers before the clock starts
        if what == "rank_frame":
            lazy = model.rank_frame(data)
        else:
            lazy = model.engine.posteriors(data, list(model.conditions))
        start = time.perf_counter()
        result = lazy.compute()
        seconds = time.perf_counter() - start
    assert len(result) == len(frame)
    return {
        "what": what,
        "workers": workers,
        "cases": len(frame),
        "partitions": partitions,
        "seconds": round(seconds, 2),
        "cases_per_second": round(len(frame) / seconds),
    }


def check(model: bayesleg.Model, frame: pd.DataFrame) -> None:
    """One small Dask frame against pandas, on the local scheduler."""
    import dask.dataframe as dd

    part = frame.iloc[:2000]
    expected = model.rank_frame(part.astype(object).where(part.notna(), None))
    got = model.rank_frame(dd.from_pandas(part, npartitions=1)).compute()
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--partitions", type=int, default=40)
    parser.add_argument("--missing", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--what",
        nargs="+",
        choices=["rank_frame", "posteriors"],
        default=["rank_frame", "posteriors"],
    )
    add_output_option(parser, "bench_scale")
    args = parser.parse_args()

    model = bayesleg.load()
    started = time.perf_counter()
    frame = observed(model, sample(model, args.cases, args.seed), args.missing, args.seed)
    states = as_states(frame) if "posteriors" in args.what else None
    drawn = time.perf_counter() - started
    check(model, frame)
    print(
        f"drew {args.cases} cases in {drawn:.1f} s; Dask matches pandas on 2,000 of them",
        file=sys.stderr,
    )

    rows = []
    for what in args.what:
        for workers in args.workers:
            row = run(
                what, model, frame if what == "rank_frame" else states, workers, args.partitions
            )
            rows.append(row)
            print(
                f"{what:<11} {workers} worker(s): {row['seconds']:8.1f} s, "
                f"{row['cases_per_second']:>8,} cases/s",
                file=sys.stderr,
            )

    import dask
    import distributed

    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "bayesleg": bayesleg.__version__,
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    setup = {
        "cases": args.cases,
        "partitions": args.partitions,
        "missing": args.missing,
        "seed": args.seed,
        "observed": "factors and symptoms (37 columns); conditions hidden",
    }
    lines = [
        f"# Scoring {args.cases:,} synthetic cases with Dask",
        "",
        f"{args.partitions} partitions; factors and symptoms observed, each cell missing "
        f"with probability {args.missing}; LocalCluster of worker processes, one thread each.",
        "",
        "| what | workers | seconds | cases / s | speed-up |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        one = next(r for r in rows if r["what"] == row["what"] and r["workers"] == 1)
        speedup = one["seconds"] / row["seconds"]
        lines.append(
            f"| `{row['what']}` | {row['workers']} | {row['seconds']:.1f} | "
            f"{row['cases_per_second']:,} | {speedup:.2f}x |"
        )
    lines += [
        "",
        f"Python {machine['python']}, {machine['cpus']} CPUs, dask {machine['dask']}, "
        f"distributed {machine['distributed']}; load average at the end "
        f"{machine['load_average_at_end']}.",
        "",
    ]
    table = "\n".join(lines)
    print(table, end="")
    write_results(
        args.output, "bench_scale", table, {"machine": machine, "setup": setup, "runs": rows}
    )


if __name__ == "__main__":
    main()
