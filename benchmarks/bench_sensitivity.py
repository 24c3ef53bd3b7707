"""Sensitivity analysis at engine speed: the new method against the old one and pyAgrum.

Measured, in one run (each timing the best of ``--repeat`` runs, CPU time of
this process; the machine is shared, so only ratios within a run are quoted):

* **One case, full sensitivity** -- all one-way sensitivity functions (every
  number against every condition), every number's admissible deviation, the
  tornado, and ``--samples`` Monte Carlo draws (1,000 by default):
  ``bayesleg.sensitivity``, against ``Model.diagnose_many`` on 1,000 cases
  (the development vignettes, cycled), against the previous method
  (``benchmarks/_old_sensitivity.py``: tables rebuilt and the engine
  recompiled for each variation), and against pyAgrum re-setting the changed
  CPTs in one ``BayesNet`` and running a new ``LazyPropagation`` (which does
  not see new CPT values) for each variation (both ends of every number the
  case reaches, and every draw).  The posteriors of pyAgrum and of the old
  method are checked against the new ones.
* **The development vignette set** (``data/vignettes.jsonl``): the same
  analysis of every case, old method against new, with the Monte Carlo and
  without it (one-way only).
* The new method compiles one network per set of observed symptoms and keeps
  it (and its one-way factors) in a small cache; "new" rows are warm, "cold"
  rows clear the cache first, so they include compiling.
* **Uncertainty on a diagnosis**: ``model.diagnose(evidence, uncertainty=200)``
  against a plain ``model.diagnose(evidence)``, both warm.

Run from the repository root (pyAgrum is an optional comparison: ``pip install
pyagrum``)::

    python benchmarks/bench_sensitivity.py
    python benchmarks/bench_sensitivity.py --samples 200 --repeat 1
    python benchmarks/bench_sensitivity.py --output benchmarks/results

The table goes to stdout; only with ``--output DIR`` is it also written, to
``DIR/bench_sensitivity.md`` and ``DIR/bench_sensitivity.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import _old_sensitivity as old
import numpy as np
from _output import add_output_option, write_results

import bayesleg
from bayesleg.knowledge.noisyor import node_table
from bayesleg.research import _parametric, oneway
from bayesleg.research._montecarlo import two_sided_triangular
from bayesleg.research.evaluate import read_vignettes
from bayesleg.research.sensitivity import parameter_ranges

CASE = {"cramps": True, "hot_environment": True, "long_session": True}
VIGNETTES = "data/vignettes.jsonl"


def best(work: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Return the least CPU time of ``repeat`` runs of ``work``, and its last result."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.process_time()
        result = work()
        times.append(time.process_time() - start)
    return min(times), result


def cold(work: Callable[[], Any]) -> Callable[[], Any]:
    """Return ``work`` run with the compiled networks forgotten: compiling included."""

    def run() -> Any:
        _parametric._cached.cache_clear()
        oneway._factors.cache_clear()
        return work()

    return run


def per_call(work: Callable[[], Any], calls: int, repeat: int) -> float:
    """Return the least CPU time per call of ``calls`` calls, over ``repeat`` rounds."""
    work()  # warm
    rounds = []
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(calls):
            work()
        rounds.append((time.process_time() - start) / calls)
    return min(rounds)


def pyagrum_sensitivity(
    model: bayesleg.Model, evidence: dict[str, str], samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """One case's tornado ends and Monte Carlo posteriors with pyAgrum, CPT by CPT.

    Returns the top cause's posterior at both ends of every number (the
    numbers of nodes no case reaches are skipped, as the other methods do),
    and every condition's posterior in each draw.
    """
    import pyagrum as gum

    spec = model.spec
    network = model.discrete_network
    bn = gum.BayesNet("leg")
    for name in network.variables:
        bn.add(gum.LabelizedVariable(name, name, list(network.states[name])))
    for name in network.variables:
        for parent in network.parents[name]:
            bn.addArc(parent, name)
    nodes = {node.id: node for node in spec.nodes}

    def set_table(node_id: str, numbers: list[float] | None) -> None:
        table = node_table(nodes[node_id], numbers)
        cpt = bn.cpt(node_id)
        assert cpt.names == (node_id, *network.parents[node_id])
        cpt[:] = np.ascontiguousarray(np.transpose(table))  # pyAgrum: variables last to first

    for node_id in nodes:
        set_table(node_id, None)
    hard = {node: network.states[node].index(state) for node, state in evidence.items()}
    conditions = list(model.conditions)

    def posteriors() -> np.ndarray:
        # LazyPropagation does not see new CPT values: a fresh one per variation.
        inference = gum.LazyPropagation(bn)
        inference.setEvidence(hard)
        inference.makeInference()
        return np.array([inference.posterior(c)[1] for c in conditions])

    base = posteriors()
    ranges = parameter_ranges(spec)
    slices, start = {}, 0
    for node in spec.nodes:
        slices[node.id] = (start, start + len(node.parameters()))
        start += len(node.parameters())
    nominal = np.array([r.p for r in ranges])
    top = int(np.argmax(base))
    observed = set(evidence)
    reached = {node.id for node in spec.nodes if node.kind != "symptom"} | observed
    ends = np.full((len(ranges), 2), base[top])
    for i, r in enumerate(ranges):
        if r.node not in reached:
            continue
        first, last = slices[r.node]
        for column, value in enumerate((r.low, r.high)):
            if value == r.p:
                continue
            numbers = nominal[first:last].copy()
            numbers[i - first] = value
            set_table(r.node, numbers.tolist())
            ends[i, column] = posteriors()[top]
        set_table(r.node, None)
    draws = two_sided_triangular(
        np.random.default_rng(seed),
        np.array([r.low for r in ranges]),
        nominal,
        np.array([r.high for r in ranges]),
        samples,
    )
    drawn = np.empty((samples, len(conditions)))
    for sample, draw in enumerate(draws):
        for node_id in reached:
            first, last = slices[node_id]
            set_table(node_id, draw[first:last].tolist())
        drawn[sample] = posteriors()
    return ends, drawn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="Monte Carlo draws (1000)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each timing (2)")
    parser.add_argument("--seed", type=int, default=0)
    add_output_option(parser, "bench_sensitivity")
    args = parser.parse_args(argv)

    model = bayesleg.load()
    vignettes = read_vignettes(VIGNETTES)
    cohort = [v.evidence for v in itertools.islice(itertools.cycle(vignettes), 1000)]
    print(
        f"bayesleg {bayesleg.__version__}, Python {platform.python_version()}, numpy "
        f"{np.__version__}; {args.samples} Monte Carlo draws, best of {args.repeat}",
        file=sys.stderr,
    )
    rows: list[tuple[str, float]] = []
    data: dict[str, Any] = {"samples": args.samples, "repeat": args.repeat}

    # -- one case ---------------------------------------------------------------
    print("one case ...", file=sys.stderr)
    model.diagnose_many(cohort[:10])
    many, _ = best(lambda: model.diagnose_many(cohort), args.repeat)
    bayesleg.sensitivity(model, CASE, samples=10)  # compile and cache the case's network
    new_case, new = best(
        lambda: bayesleg.sensitivity(model, CASE, samples=args.samples, seed=args.seed),
        args.repeat,
    )
    new_case_cold, _ = best(
        cold(lambda: bayesleg.sensitivity(model, CASE, samples=args.samples, seed=args.seed)),
        args.repeat,
    )
    old_case, before = best(
        lambda: old.sensitivity(model, CASE, samples=args.samples, seed=args.seed), 1
    )
    agreement = {
        "old": _max_difference(new.cases[0], before.cases[0]),
    }
    rows += [
        ("diagnose_many, 1,000 cases", many),
        ("one case, full sensitivity: new", new_case),
        ("one case, full sensitivity: new, cold (compiling included)", new_case_cold),
        ("one case, full sensitivity: old", old_case),
    ]
    state = {node: "present" if value else "absent" for node, value in CASE.items()}
    if importlib.util.find_spec("pyagrum") is not None:
        agrum_case, (ends, drawn) = best(
            lambda: pyagrum_sensitivity(model, state, args.samples, args.seed), 1
        )
        rows.append(("one case, full sensitivity: pyAgrum", agrum_case))
        bars = {bar.parameter.name: bar for bar in new.cases[0].tornado}
        ranges = parameter_ranges(model.spec)
        exact = np.array(
            [[bars[r.name].posterior_low, bars[r.name].posterior_high] for r in ranges]
        )
        agreement["pyagrum_tornado"] = float(np.abs(exact - ends).max())
        ours = np.array([[i.median for i in sorted(new.cases[0].intervals, key=lambda i: i.id)]])
        theirs = np.median(drawn[:, np.argsort(model.conditions)], axis=0)
        agreement["pyagrum_monte_carlo_median"] = float(np.abs(ours - theirs).max())
    else:
        agrum_case = float("nan")
        print("pyagrum is not installed: its row is skipped", file=sys.stderr)

    # -- the development vignette set ---------------------------------------------
    print("vignette set ...", file=sys.stderr)
    bayesleg.sensitivity(model, vignettes, samples=10)  # compile and cache
    new_set, new_result = best(
        lambda: bayesleg.sensitivity(model, vignettes, samples=args.samples, seed=args.seed),
        args.repeat,
    )
    new_set_cold, _ = best(
        cold(lambda: bayesleg.sensitivity(model, vignettes, samples=args.samples, seed=args.seed)),
        args.repeat,
    )
    new_oneway, _ = best(lambda: bayesleg.sensitivity(model, vignettes, samples=0), args.repeat)
    old_set, old_result = best(
        lambda: old.sensitivity(model, vignettes, samples=args.samples, seed=args.seed), 1
    )
    old_oneway, _ = best(lambda: old.sensitivity(model, vignettes, samples=0), 1)
    agreement["old_vignettes"] = max(
        _max_difference(a, b) for a, b in zip(new_result.cases, old_result.cases, strict=True)
    )
    rows += [
        (f"{len(vignettes)} vignettes, full: new", new_set),
        (f"{len(vignettes)} vignettes, full: new, cold (compiling included)", new_set_cold),
        (f"{len(vignettes)} vignettes, full: old", old_set),
        (f"{len(vignettes)} vignettes, one-way only: new", new_oneway),
        (f"{len(vignettes)} vignettes, one-way only: old", old_oneway),
    ]

    # -- uncertainty on a diagnosis ---------------------------------------------
    print("uncertainty ...", file=sys.stderr)
    plain = per_call(lambda: model.diagnose(CASE), 50, args.repeat + 1)
    with_200 = per_call(lambda: model.diagnose(CASE, uncertainty=200), 10, args.repeat + 1)
    rows += [("diagnose, warm", plain), ("diagnose, uncertainty=200, warm", with_200)]

    ratios = [
        ("one case full / diagnose_many 1,000", new_case / many, "<= 2"),
        ("one case full, cold / diagnose_many 1,000", new_case_cold / many, ""),
        ("one case: old / new", old_case / new_case, ""),
        ("one case: pyAgrum / new", agrum_case / new_case, ""),
        ("vignettes full: old / new", old_set / new_set, ">= 100"),
        ("vignettes full: old / new, cold", old_set / new_set_cold, ""),
        ("vignettes one-way: old / new", old_oneway / new_oneway, ">= 100"),
        ("uncertainty=200 / plain diagnose", with_200 / plain, "<= 20"),
    ]
    lines = [
        "| what | CPU seconds |",
        "|---|---:|",
        *(f"| {what} | {seconds:.4f} |" for what, seconds in rows),
        "",
        "| ratio | value | target |",
        "|---|---:|---|",
        *(f"| {what} | {value:.3g} | {target} |" for what, value, target in ratios),
        "",
        "| agreement (largest absolute difference of posteriors) | value |",
        "|---|---:|",
        *(f"| {what} | {value:.2e} |" for what, value in agreement.items()),
    ]
    table = "\n".join(lines)
    print(table)
    data |= {
        "timings": dict(rows),
        "ratios": {what: value for what, value, _ in ratios},
        "agreement": agreement,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "bayesleg": bayesleg.__version__,
    }
    write_results(args.output, "bench_sensitivity", table, data)
    return 0


def _max_difference(new: Any, before: Any) -> float:
    """The largest difference of the tornado ends and the Monte Carlo intervals of one case."""
    ours = {bar.parameter.name: bar for bar in new.tornado}
    theirs = {bar.parameter.name: bar for bar in before.tornado}
    gaps = [
        max(
            abs(ours[n].posterior_low - theirs[n].posterior_low),
            abs(ours[n].posterior_high - theirs[n].posterior_high),
        )
        for n in ours
    ]
    mine = {i.id: i for i in new.intervals}
    gaps += [
        max(
            abs(mine[i.id].low - i.low),
            abs(mine[i.id].high - i.high),
            abs(mine[i.id].median - i.median),
        )
        for i in before.intervals
    ]
    return max(gaps)


if __name__ == "__main__":
    sys.exit(main())
