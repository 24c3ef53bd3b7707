"""Time exact inference: bayesleg's engine against pgmpy and pyAgrum.

Run from the repository root::

    python benchmarks/bench_inference.py [--quick] [--output DIR]

For each network (hepar2, alarm and win95pts from ``data/networks``, and the
shipped leg-symptom model when ``models/leg_symptoms.toml`` exists) it draws
cases by forward sampling, observes a random subset of each (seeded), and
measures the time per case to get the posterior of every target (a fixed
dozen variables spread over each standard network -- pgmpy builds the joint
of its targets, so it cannot be asked for all of them -- and the conditions
of the leg model), the other variables being observable:

* bayesleg, all cases in one ``engine.posteriors`` call ("batch");
* bayesleg, the same cases already encoded as one-hot likelihood arrays, in
  one ``engine.posteriors_from_likelihoods`` call ("arrays"): the batch time
  less the reading of dicts;
* bayesleg, one call per case ("single");
* pgmpy ``VariableElimination``, one ``query(targets, joint=False)`` per case,
  on a subsample -- the fastest way pgmpy offers;
* pgmpy ``VariableElimination``, one ``query([target])`` per target and case,
  on the same subsample -- pgmpy's plain way to get marginals;
* pyAgrum ``LazyPropagation`` (if installed): set the evidence, infer, read
  every target's posterior, per case.

It checks the answers agree, reports peak memory (``tracemalloc``, measured in
a separate untimed run; pyAgrum's C++ heap is invisible to it), the warm
``Model.diagnose`` time on the shipped model, the cohort scoring of the shipped
model (``Model.rank_frame`` of a True/False frame and ``Model.diagnose_many`` of
the same cases as dicts, against ``engine.posteriors`` of the 18 conditions of
the same cases, with the engine rows each needed), and cold-start times of
``python -m bayesleg diagnose ... --json`` and ``import bayesleg.inference.engine``
against ``import pgmpy.models``, and ends with each target and whether it
is met.  The table is
printed to stdout.  Only with ``--output DIR`` is it also written, to
``DIR/bench_inference.md`` with the raw numbers in ``DIR/bench_inference.json``
(``bench_inference_quick.*`` with ``--quick``); ``--output benchmarks/results``
refreshes the committed results.

Times are wall-clock, best of a few repeats, on whatever machine runs this:
on a small shared machine they are noisy, ratios less so.  The methods a
ratio compares take turns, one repeat of each in every round (see
:func:`interleaved_best`), so a stretch in which the machine runs slow falls
on all of them rather than on whichever happened to run then.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _output import add_output_option, write_results  # noqa: E402
from brute_force import forward_sample  # noqa: E402

from bayesleg.inference import _cases  # noqa: E402
from bayesleg.inference.engine import compile  # noqa: E402
from bayesleg.inference.formats import read_network, to_pgmpy  # noqa: E402
from bayesleg.inference.network import DiscreteNetwork  # noqa: E402

NETWORKS = ("hepar2", "alarm", "win95pts")
SHIPPED = ROOT / "models" / "leg_symptoms.toml"
TARGETS = 12
PGMPY = ("pgmpy", "pgmpy_each")  # one query a case, one query a target
CLI_EVIDENCE = ("long_session", "fasted", "heaviness", "weakness")


def draw_cases(
    network: DiscreteNetwork, n: int, seed: int, observable: Sequence[str]
) -> list[dict[str, str]]:
    """Forward-sample ``n`` cases and keep each observable variable with a random probability."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        sample = forward_sample(network, rng)
        rate = rng.uniform(0.1, 0.5)
        cases.append({v: sample[v] for v in observable if rng.random() < rate})
    return cases


def best_time(run: Callable[[], Any], repeats: int) -> float:
    """Return the best wall-clock time of ``repeats`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def interleaved_best(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Return each run's best wall-clock time over ``repeats`` rounds, the runs taking turns.

    On a shared machine whose speed drifts from minute to minute, timing one
    method after another can put them in different stretches; taking turns
    puts every method in every stretch, so the ratios between them are fair.
    """
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def peak_memory(run: Callable[[], Any]) -> int:
    """Return the peak bytes allocated (as tracemalloc sees them) during ``run``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def pgmpy_engine(
    network: DiscreteNetwork, *, each: bool = False
) -> Callable[[dict[str, str], list[str]], dict]:
    """One ``query(targets, joint=False)`` per case, or with ``each`` one query per target."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.inference import VariableElimination
    inference = VariableElimination(to_pgmpy(network))

    def ask(case: dict[str, str], targets: list[str]) -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return inference.query(targets, evidence=case or None, joint=False, show_progress=False)

    def query(case: dict[str, str], targets: list[str]) -> dict[str, np.ndarray]:
        result = {t: ask(case, [t])[t] for t in targets} if each else ask(case, targets)
        return {
            t: np.asarray(result[t].values)[
                [result[t].state_names[t].index(s) for s in network.states[t]]
            ]
            for t in targets
        }

    return query


def pyagrum_engine(network: DiscreteNetwork) -> Callable[[dict[str, str], list[str]], dict] | None:
    try:
        import pyagrum as gum
    except ImportError:
        return None
    bn = gum.BayesNet()
    for name in network.variables:
        bn.add(gum.LabelizedVariable(name, name, list(network.states[name])))
    for name in network.variables:
        for parent in network.parents[name]:
            bn.addArc(parent, name)
    for name in network.variables:
        table = bn.cpt(name)
        family = (name, *network.parents[name])
        # pyAgrum's array view lists the table's variables in reverse order.
        order = [family.index(v) for v in reversed(table.names)]
        table[:] = np.ascontiguousarray(np.transpose(network.cpts[name], order))
    inference = gum.LazyPropagation(bn)

    def query(case: dict[str, str], targets: list[str]) -> dict[str, np.ndarray]:
        inference.eraseAllEvidence()
        if case:
            inference.setEvidence(case)
        inference.makeInference()
        return {t: inference.posterior(t).toarray() for t in targets}

    return query


def bench_network(
    label: str,
    network: DiscreteNetwork,
    targets: Sequence[str],
    observable: Sequence[str],
    sizes: dict[str, int],
    repeats: int,
) -> dict[str, Any]:
    """Time every method on one network; return one row of results."""
    compile_time = best_time(lambda: compile(network), 1)
    engine = compile(network)
    cases = draw_cases(network, sizes["batch"], seed=sum(map(ord, label)), observable=observable)
    wanted = [list(t for t in targets if t not in case) for case in cases]
    batch_targets = list(targets)

    state_index = {v: {s: i for i, s in enumerate(states)} for v, states in engine.states.items()}
    likelihoods, _ = _cases.to_likelihoods(cases, state_index, engine.variables)
    singles = cases[: sizes["single"]]
    runs: dict[str, Callable[[], Any]] = {
        "batch": lambda: engine.posteriors(cases, batch_targets),
        "arrays": lambda: engine.posteriors_from_likelihoods(
            likelihoods, len(cases), batch_targets
        ),
        "single": lambda: [engine.posteriors([case], batch_targets) for case in singles],
    }
    queries: dict[str, tuple[Callable[..., Any], int]] = {}
    for method, make, count in (
        ("pgmpy", pgmpy_engine, sizes["pgmpy"]),
        ("pgmpy_each", lambda n: pgmpy_engine(n, each=True), sizes["pgmpy"]),
        ("pyagrum", pyagrum_engine, sizes["pyagrum"]),
    ):
        query = make(network)
        if query is not None:
            queries[method] = (query, count)
            runs[method] = lambda q=query, s=range(count): [q(cases[i], wanted[i]) for i in s]
    times = interleaved_best(runs, repeats)
    batch = times["batch"] / len(cases)
    arrays = times["arrays"] / len(cases)
    single = times["single"] / len(singles)
    answers = engine.posteriors(cases, batch_targets)
    row: dict[str, Any] = {
        "network": label,
        "variables": len(network.variables),
        "cliques": len(engine.clique_sizes),
        "largest_clique": max(engine.clique_sizes),
        "table_entries": sum(engine.clique_sizes),
        "compile_s": compile_time,
        "cases": {"batch": len(cases), "single": len(singles)},
        "bayesleg_batch_s": batch,
        "bayesleg_arrays_s": arrays,
        "bayesleg_single_s": single,
        "bayesleg_batch_peak_bytes": peak_memory(lambda: engine.posteriors(cases, batch_targets)),
    }

    for method in ("pgmpy", "pgmpy_each", "pyagrum"):
        if method not in queries:
            row[f"{method}_s"] = None
            continue
        query, count = queries[method]
        subset = range(count)
        row[f"{method}_s"] = times[method] / count
        row["cases"][method] = count
        worst = 0.0
        for i in subset:
            for target, marginal in query(cases[i], wanted[i]).items():
                worst = max(worst, float(np.abs(marginal - answers[target][i]).max()))
        row[f"{method}_max_abs_difference"] = worst
        if method == "pgmpy":
            few = range(min(count, 5))
            row["pgmpy_peak_bytes"] = peak_memory(
                lambda q=query, s=few: [q(cases[i], wanted[i]) for i in s]
            )
    for method in (*PGMPY, "pyagrum"):
        seconds = row.get(f"{method}_s")
        row[f"{method}_over_batch"] = seconds / batch if seconds else None
        row[f"{method}_over_single"] = seconds / single if seconds else None
    return row


def bench_diagnose(repeats: int, n: int) -> dict[str, Any] | None:
    """Time warm ``Model.diagnose`` calls on the shipped model."""
    import bayesleg

    model = bayesleg.load()
    network = model.discrete_network
    observable = [*model.factors, *model.symptoms]
    cases = draw_cases(network, n, seed=11, observable=observable)
    evidence = [{k: v == "present" for k, v in case.items()} for case in cases]
    observed = max(len(case) for case in evidence)
    everything = {k: True for k in observable[:observed]}
    # Warm, the twin networks of expected disablement compiled.
    for case in evidence:
        model.diagnose(case)
        model.diagnose(case, ranking="expected_disablement")
    times = interleaved_best(
        {
            "plain": lambda: [model.diagnose(case) for case in evidence],
            "most": lambda: [model.diagnose(everything) for _ in range(50)],
            # The same cases ranked by expected disablement (Richens et al.), for comparison.
            "ranked": lambda: [
                model.diagnose(case, ranking="expected_disablement") for case in evidence
            ],
        },
        repeats,
    )
    # Each case's own best time, for the spread a caller sees from case to case.
    each = sorted(best_time(lambda c=case: model.diagnose(c), repeats) for case in evidence)
    return {
        "cases": n,
        "per_call_s": times["plain"] / n,
        "most_observed_per_call_s": times["most"] / 50,
        "expected_disablement_per_call_s": times["ranked"] / n,
        "case_p95_s": each[min(len(each) - 1, int(0.95 * len(each)))],
        "case_max_s": each[-1],
    }


def bench_cohort(repeats: int, n: int) -> dict[str, Any]:
    """Time cohort scoring on the shipped model against ``engine.posteriors`` of the same cases.

    The cases are drawn as for the networks (a random 10 to 50 % of the
    factors and symptoms observed); their "no" answers make the triage need
    more engine rows (see ``bayesleg.reasoning.cohort``), so the same cases
    with only their "yes" answers are timed too.
    """
    import pandas

    import bayesleg

    model = bayesleg.load()
    observable = [*model.factors, *model.symptoms]
    conditions = list(model.conditions)
    drawn = draw_cases(model.discrete_network, n, seed=13, observable=observable)
    rows: dict[str, Any] = {"cases": n}
    scorer = model._scorer
    counted = scorer._marginals

    def counting(engine: Any, codes: np.ndarray, targets: Sequence[str]) -> Any:
        if engine is model.engine:
            rows["engine_rows"] = rows.get("engine_rows", 0) + len(codes)
        return counted(engine, codes, targets)

    for label, cases in (
        ("all", drawn),
        ("yes_only", [{k: v for k, v in case.items() if v == "present"} for case in drawn]),
    ):
        frame = pandas.DataFrame(
            [{k: v == "present" for k, v in case.items()} for case in cases], columns=observable
        )
        # A diagnosis of a batch builds its ranked causes and its evidence when
        # first read: time that too.
        times = interleaved_best(
            {
                "engine": lambda c=cases: model.engine.posteriors(c, conditions),
                "many": lambda c=cases: model.diagnose_many(c),
                "read": lambda c=cases: [(d.ranked, d.evidence) for d in model.diagnose_many(c)],
                "frame": lambda f=frame: model.rank_frame(f),
            },
            repeats,
        )
        engine_s, many_s, read_s, frame_s = (times[k] for k in ("engine", "many", "read", "frame"))
        # The three agree exactly, case by case.
        expected = model.engine.posteriors(cases, conditions)
        ranked = model.rank_frame(frame)
        for condition in conditions:
            assert np.array_equal(ranked[condition].to_numpy(), expected[condition][:, 1])
        for diagnosis, top in zip(
            model.diagnose_many(cases[:500]), ranked["top_cause"], strict=False
        ):
            assert diagnosis.top.id == top
        rows.pop("engine_rows", None)
        scorer._marginals = counting  # type: ignore[method-assign]
        try:
            model.rank_frame(frame)
        finally:
            del scorer._marginals
        rows[label] = {
            "engine_posteriors_s": engine_s / n,
            "diagnose_many_s": many_s / n,
            "diagnose_many_read_s": read_s / n,
            "rank_frame_s": frame_s / n,
            "diagnose_many_share": engine_s / many_s,
            "rank_frame_share": engine_s / frame_s,
            "engine_rows_per_case": rows.pop("engine_rows") / n,
            "no_answers_per_case": sum(v == "absent" for c in cases for v in c.values()) / n,
        }
    return rows


def bench_single(repeats: int) -> dict[str, float]:
    """Warm ``Model.diagnose`` of the CLI's four "yes" answers, then with four "no"s added."""
    import bayesleg

    model = bayesleg.load()
    yes = dict.fromkeys(CLI_EVIDENCE, True)
    four_no = {**yes, **dict.fromkeys(("cramps", "numbness", "diabetes", "swelling"), False)}
    times = {}
    for label, evidence in (("four_yes", yes), ("four_yes_four_no", four_no)):
        model.diagnose(evidence)
        times[label] = (
            best_time(lambda e=evidence: [model.diagnose(e) for _ in range(200)], repeats) / 200
        )
    return times


def cold_start(arguments: Sequence[str], repeats: int) -> float:
    """Return the best wall-clock time of ``python *arguments`` in a fresh process."""
    best = float("inf")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, *arguments], check=True, env=environment, stdout=subprocess.DEVNULL
        )
        best = min(best, time.perf_counter() - start)
    return best


def targets(results: dict[str, Any]) -> list[str]:
    """One line per target of the benchmark: the figure measured and whether it is met."""

    def verdict(met: bool) -> str:
        return "met" if met else "**not met**"

    rows = results["networks"]
    lines = []
    for method, name, goal in (
        ("pyagrum", "pyAgrum LazyPropagation", 100),
        ("pgmpy", "pgmpy VE (one query a case)", 300),
        ("pgmpy_each", "pgmpy VE (one query a target)", 300),
    ):
        ratios = [row[f"{method}_over_batch"] for row in rows if row[f"{method}_over_batch"]]
        if ratios:
            lines.append(
                f"- batch at least {goal}× faster than {name}: "
                f"{min(ratios):,.0f}× to {max(ratios):,.0f}× — {verdict(min(ratios) >= goal)}"
            )
    cohort = results.get("cohort")
    if cohort:
        row = cohort["all"]
        frame_share, many_share = row["rank_frame_share"], row["diagnose_many_share"]
        read_share = row["engine_posteriors_s"] / row["diagnose_many_read_s"]
        lines.append(
            f"- rank_frame and diagnose_many at least 70 % of engine.posteriors' throughput: "
            f"rank_frame {frame_share:.0%}, diagnose_many {many_share:.0%} "
            f"({read_share:.0%} with every case's causes read) — "
            f"{verdict(min(frame_share, many_share) >= 0.7)}"
        )
    diagnose = results.get("diagnose")
    if diagnose:
        worst = max(
            diagnose["per_call_s"],
            diagnose["most_observed_per_call_s"],
            *results.get("single", {}).values(),
        )
        lines.append(
            f"- warm single diagnosis under 1 ms: {worst * 1e3:.2f} ms at most "
            f"— {verdict(worst < 1e-3)}"
        )
    cold = results["cold_start_s"]
    cli, pgmpy = cold["bayesleg diagnose --json"], cold["pgmpy.models"]
    lines.append(
        f"- cold `bayesleg diagnose ... --json` under 1 s and under a third of "
        f"`import pgmpy.models`: {cli:.2f} s against {pgmpy:.2f} s ({pgmpy / cli:.1f}×) "
        f"— {verdict(cli < 1 and cli < pgmpy / 3)}"
    )
    return lines


def _microseconds(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1e6:,.0f}"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}×"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| network | bayesleg batch µs/case | bayesleg arrays µs/case | bayesleg single µs/case "
        "| pgmpy VE µs/case | pgmpy VE per target µs/case | pyAgrum LP µs/case "
        "| pgmpy / batch | pgmpy per target / batch | pyAgrum / batch "
        "| pgmpy / single | pyAgrum / single | batch peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["networks"]:
        lines.append(
            f"| {row['network']} | {_microseconds(row['bayesleg_batch_s'])} "
            f"| {_microseconds(row['bayesleg_arrays_s'])} "
            f"| {_microseconds(row['bayesleg_single_s'])} | {_microseconds(row['pgmpy_s'])} "
            f"| {_microseconds(row['pgmpy_each_s'])} "
            f"| {_microseconds(row['pyagrum_s'])} | {_ratio(row['pgmpy_over_batch'])} "
            f"| {_ratio(row['pgmpy_each_over_batch'])} "
            f"| {_ratio(row['pyagrum_over_batch'])} | {_ratio(row['pgmpy_over_single'])} "
            f"| {_ratio(row['pyagrum_over_single'])} "
            f"| {row['bayesleg_batch_peak_bytes'] / 2**20:.1f} |"
        )
    lines.append("")
    lines.append(
        "| network | variables | cliques | largest clique | table entries | compile ms "
        "| cases (batch/single/pgmpy/pyAgrum) | max abs diff pgmpy | max abs diff pyAgrum |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for row in results["networks"]:
        counts = row["cases"]
        lines.append(
            f"| {row['network']} | {row['variables']} | {row['cliques']} "
            f"| {row['largest_clique']} | {row['table_entries']} | {row['compile_s'] * 1e3:.0f} "
            f"| {counts['batch']}/{counts['single']}/{counts.get('pgmpy', '–')}"
            f"/{counts.get('pyagrum', '–')} "
            f"| {max(row.get(f'{m}_max_abs_difference', 0.0) for m in PGMPY):.1e} "
            f"| {row.get('pyagrum_max_abs_difference', float('nan')):.1e} |"
        )
    lines.append("")
    diagnose = results.get("diagnose")
    if diagnose:
        lines.append(
            f"Warm `Model.diagnose` on the shipped model: {diagnose['per_call_s'] * 1e6:,.0f} µs "
            f"per call over {diagnose['cases']} random cases; "
            f"{diagnose['most_observed_per_call_s'] * 1e6:,.0f} µs with the most findings; "
            f"case by case, 95 % of the cases within {diagnose['case_p95_s'] * 1e6:,.0f} µs "
            f"and the slowest {diagnose['case_max_s'] * 1e6:,.0f} µs; "
            f"ranked by expected disablement, "
            f"{diagnose['expected_disablement_per_call_s'] * 1e6:,.0f} µs per call."
        )
    single = results.get("single")
    if single:
        lines.append(
            f"Warm `Model.diagnose` of `{', '.join(CLI_EVIDENCE)}`: "
            f"{single['four_yes'] * 1e6:,.0f} µs; with cramps, numbness, diabetes and swelling "
            f"answered no: {single['four_yes_four_no'] * 1e6:,.0f} µs."
        )
    cohort = results.get("cohort")
    if cohort:
        lines.append("")
        lines.append(
            f"Cohort scoring on the shipped model, {cohort['cases']:,} cases, µs per case "
            "(share = engine.posteriors' time over the method's):"
        )
        lines.append("")
        lines.append(
            "| cases | no answers / case | rank_frame's engine rows / case | engine.posteriors "
            "| diagnose_many | … causes read | rank_frame | diagnose_many share "
            "| … causes read | rank_frame share |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, name in (("all", "as drawn"), ("yes_only", "their yes answers only")):
            row = cohort[label]
            lines.append(
                f"| {name} | {row['no_answers_per_case']:.1f} | {row['engine_rows_per_case']:.2f} "
                f"| {_microseconds(row['engine_posteriors_s'])} "
                f"| {_microseconds(row['diagnose_many_s'])} "
                f"| {_microseconds(row['diagnose_many_read_s'])} "
                f"| {_microseconds(row['rank_frame_s'])} "
                f"| {row['diagnose_many_share']:.0%} "
                f"| {row['engine_posteriors_s'] / row['diagnose_many_read_s']:.0%} "
                f"| {row['rank_frame_share']:.0%} |"
            )
        lines.append("")
        lines.append(
            "A batch's diagnoses build their ranked causes and evidence when first read; "
            "“… causes read” times `diagnose_many` with every case's `ranked` and "
            "`evidence` read."
        )
        lines.append("")
    cold = results["cold_start_s"]
    lines.append(
        f"Cold start, best of several fresh processes: `bayesleg diagnose "
        f"{' '.join(CLI_EVIDENCE)} --json` {cold['bayesleg diagnose --json'] * 1e3:.0f} ms, "
        f"`import bayesleg.inference.engine` {cold['bayesleg.inference.engine'] * 1e3:.0f} ms, "
        f"`import pgmpy.models` {cold['pgmpy.models'] * 1e3:.0f} ms."
    )
    lines.append("")
    lines.append("Targets:")
    lines.append("")
    lines.extend(targets(results))
    lines.append("")
    lines.append(f"Machine: {results['machine']}.")
    lines.append(f"Run {results['date']}: `{results['command']}`.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases, one repeat")
    add_output_option(parser, "bench_inference[_quick]")
    arguments = parser.parse_args(argv)
    quick = arguments.quick
    sizes = (
        {"batch": 300, "single": 50, "pgmpy": 5, "pyagrum": 30}
        if quick
        else {"batch": 3000, "single": 300, "pgmpy": 40, "pyagrum": 300}
    )
    repeats = 1 if quick else 3

    rows = []
    for name in NETWORKS:
        with gzip.open(ROOT / "data" / "networks" / f"{name}.bif.gz", "rt") as stream:
            text = stream.read()
        with tempfile.NamedTemporaryFile("w", suffix=".bif") as handle:
            handle.write(text)
            handle.flush()
            network = read_network(handle.name)
        # pgmpy's query(joint=False) builds the joint of its targets before
        # marginalising, so the targets are a fixed dozen variables spread over
        # the network; the others may be observed.
        rng = np.random.default_rng(sum(map(ord, name)))
        targets = sorted(rng.choice(len(network.variables), size=TARGETS, replace=False).tolist())
        targets = [network.variables[i] for i in targets]
        observable = [v for v in network.variables if v not in targets]
        print(f"{name}: timing ...", file=sys.stderr, flush=True)
        rows.append(bench_network(name, network, targets, observable, sizes, repeats))

    diagnose = cohort = single = None
    if SHIPPED.exists():
        import bayesleg

        model = bayesleg.load()
        print("leg_symptoms: timing ...", file=sys.stderr, flush=True)
        rows.append(
            bench_network(
                "leg_symptoms",
                model.discrete_network,
                model.conditions,
                [*model.factors, *model.symptoms],
                sizes,
                repeats,
            )
        )
        diagnose = bench_diagnose(repeats, 50 if quick else 300)
        print("leg_symptoms: cohort and single diagnosis ...", file=sys.stderr, flush=True)
        # Five rounds: the shares compare methods timed a second apart.
        cohort = bench_cohort(repeats if quick else 5, 500 if quick else 5000)
        single = bench_single(repeats)
    else:
        print(f"skipping the shipped model: {SHIPPED} does not exist", file=sys.stderr)

    cold = {
        "bayesleg diagnose --json": cold_start(
            ["-m", "bayesleg", "diagnose", *CLI_EVIDENCE, "--json"], 3 if quick else 5
        ),
        "bayesleg.inference.engine": cold_start(
            ["-c", "import bayesleg.inference.engine"], 3 if quick else 5
        ),
        "pgmpy.models": cold_start(["-c", "import pgmpy.models"], 2 if quick else 3),
    }
    import numpy

    versions = {"numpy": numpy.__version__}
    for module in ("pgmpy", "pyagrum"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    results = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/bench_inference.py", *(argv or sys.argv[1:])]),
        "quick": quick,
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            + ", ".join(f"{k} {v}" for k, v in versions.items() if v)
        ),
        "networks": rows,
        "diagnose": diagnose,
        "single": single,
        "cohort": cohort,
        "cold_start_s": cold,
    }
    table = markdown(results)
    print(table)
    name = "bench_inference_quick" if quick else "bench_inference"
    write_results(arguments.output, name, table, results)


if __name__ == "__main__":
    main()
