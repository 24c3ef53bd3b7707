"""The previous sensitivity method, kept as it was for bench_sensitivity.py to compare against.

Before the exact sensitivity functions and the batched Monte Carlo, every
variation of a number rebuilt the pruned network's tables and recompiled the
engine: one compile and one batched query per end of every number's range,
and one per Monte Carlo draw.  This is that code (see the git history of
bayesleg/research/sensitivity.py), unchanged but for this docstring and for
taking from the package what is the same in both: the parameter ranges, the
cases, the two-sided triangular draws, the first cause of a draw and the result
classes, and for compiling as the engine compiled then: noisy-OR chains take
their parents in topological order (the chain-order search came later; run in
every recompile, it makes this method about 1.6 times slower than it
was).  It is not part of the package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import ImpossibleEvidenceError, InvalidArgumentError
from bayesleg.inference import _noisy_or_chains
from bayesleg.inference.engine import compile as compile_engine
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.knowledge.modelfile import STATES, ModelSpec
from bayesleg.knowledge.noisyor import node_table
from bayesleg.research._montecarlo import first_indices as _top_indices
from bayesleg.research._montecarlo import two_sided_triangular as _two_sided_triangular
from bayesleg.research.sensitivity import (
    INTERVAL,
    CaseSensitivity,
    CauseInterval,
    ParameterRange,
    Sensitivity,
    TornadoBar,
    _cases,
    parameter_ranges,
)
from bayesleg.research.simulate import MAX_VALUES, check_count, check_seed

if TYPE_CHECKING:
    from bayesleg.model import Model

__all__ = ["sensitivity"]


def _compile_as_then(network: DiscreteNetwork, *, noisy_or: bool) -> Any:
    """Compile ``network`` with its noisy-OR chains in topological order, as before the search."""
    search = _noisy_or_chains.chain_order

    def topological(network: DiscreteNetwork, nodes: Any) -> dict[str, int]:
        return {name: i for i, name in enumerate(network.variables)}

    _noisy_or_chains.chain_order = topological  # type: ignore[assignment]
    try:
        return compile_engine(network, noisy_or=noisy_or)
    finally:
        _noisy_or_chains.chain_order = search


# Arrays of samples x numbers held at once while drawing the numbers.
_DRAW_COPIES = 8


def sensitivity(
    model: Model,
    evidence_or_cases: Mapping[str, Any] | Iterable[Any],
    *,
    samples: int = 1000,
    seed: int | None = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Sensitivity:
    """Measure how a diagnosis depends on the model's hand-set numbers.

    Parameters
    ----------
    model : Model
        The model whose numbers are varied.
    evidence_or_cases : mapping, or iterable of mappings or vignettes
        One case's evidence (as for :meth:`Model.diagnose
        <bayesleg.model.Model.diagnose>`), or several: mappings, or objects
        with an ``evidence`` mapping and an ``id`` such as
        :class:`bayesleg.research.evaluate.Vignette`.
    samples : int, default 1000
        Monte Carlo draws of all numbers at once (0 skips the Monte Carlo;
        stability is then 1 and every interval the hand-set posterior).
    seed : int or None, default 0
        Seed of the draws; the same seed gives the same result.
    progress : callable, optional
        Called as ``progress(done, total)`` after each recomputation, for a
        progress bar.

    Returns
    -------
    Sensitivity
        One :class:`CaseSensitivity` per case, in order.

    Raises
    ------
    UnknownNodeError, InvalidStateError, InvalidEvidenceError
        If a case's evidence is bad.
    InvalidArgumentError
        If ``samples`` is not a whole number >= 0, or so many that the draws
        would exceed :data:`bayesleg.research.simulate.MAX_VALUES` values; or
        if ``seed`` is not a whole number >= 0 or None.
    ImpossibleEvidenceError
        If a case's evidence has probability zero, at the hand-set values or
        at an end of some number's range (the message names the number).

    Examples
    --------
    >>> import bayesleg
    >>> model = bayesleg.load()
    >>> result = sensitivity(model, {"diabetes": True, "starts_in_feet": True}, samples=50)
    >>> case = result.cases[0]
    >>> case.top, case.tornado[0].swing > 0, 0 <= case.stability <= 1
    ('peripheral_neuropathy', True, True)
    """
    samples = check_count(samples, "samples", minimum=0)
    seed = check_seed(seed, generator=False)
    ids, evidence = _cases(model, evidence_or_cases)
    ranges = parameter_ranges(model.spec)
    # Drawing takes a few arrays of samples x numbers; the results, samples x cases x conditions.
    most = MAX_VALUES // (_DRAW_COPIES * len(ranges) + len(evidence) * len(model.conditions))
    if samples > most:
        raise InvalidArgumentError(
            f"samples must be at most {most} for this model and {len(evidence)} case(s), "
            f"to stay within {MAX_VALUES} values of working memory, got {samples}"
        )
    nominal = np.array([r.p for r in ranges])
    analysis = _Analysis(model.spec, evidence, nominal)
    # Only numbers of the variables kept after pruning barren symptoms matter.
    moving = [
        (index, end)
        for index, r in enumerate(ranges)
        if r.node in analysis.kept
        for end in ("low", "high")
        if getattr(r, end) != r.p
    ]
    total = 1 + len(moving) + samples
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    base = analysis.posteriors(nominal, None)
    step()
    top = _top_indices(base, analysis.conditions)
    rows = np.arange(len(evidence))
    # ends[i, 0 or 1, case]: the top cause's posterior with number i at its low or high end.
    ends = np.broadcast_to(base[rows, top], (len(ranges), 2, len(evidence))).copy()
    for index, end in moving:
        values = nominal.copy()
        values[index] = getattr(ranges[index], end)
        ends[index, int(end == "high")] = analysis.posteriors(values, ranges[index])[rows, top]
        step()

    draws = _two_sided_triangular(
        np.random.default_rng(seed),
        np.array([r.low for r in ranges]),
        nominal,
        np.array([r.high for r in ranges]),
        samples,
    )
    drawn = np.empty((samples, len(evidence), len(analysis.conditions)))
    for sample in range(samples):
        drawn[sample] = analysis.posteriors(draws[sample], None)
        step()

    cases = []
    for case in range(len(evidence)):
        low, high = ends[:, 0, case], ends[:, 1, case]
        swing = np.abs(high - low)
        order = sorted(range(len(ranges)), key=lambda i: (-round(swing[i], 12), i))
        tornado = tuple(
            TornadoBar(ranges[i], float(low[i]), float(high[i]), float(swing[i])) for i in order
        )
        cases.append(
            _case_result(
                ids[case],
                evidence[case],
                analysis.conditions,
                base[case],
                int(top[case]),
                tornado,
                drawn[:, case, :],
            )
        )
    return Sensitivity(tuple(cases), ranges, samples, seed, model.id, model.version)


def _case_result(
    case_id: str | None,
    evidence: Mapping[str, str],
    conditions: Sequence[str],
    posterior: np.ndarray,
    top: int,
    tornado: tuple[TornadoBar, ...],
    drawn: np.ndarray,
) -> CaseSensitivity:
    """Assemble one case's analysis; ``drawn`` is (samples, conditions)."""
    if len(drawn):
        firsts = _top_indices(drawn, conditions)
        shares = np.bincount(firsts, minlength=len(conditions)) / len(drawn)
        low, median, high = np.percentile(drawn, [INTERVAL[0], 50.0, INTERVAL[1]], axis=0)
    else:
        shares = np.zeros(len(conditions))
        shares[top] = 1.0
        low = median = high = posterior
    tied = np.round(posterior, 12)
    ranking = sorted(range(len(conditions)), key=lambda i: (-tied[i], conditions[i]))
    intervals = tuple(
        CauseInterval(
            conditions[i],
            float(posterior[i]),
            float(low[i]),
            float(median[i]),
            float(high[i]),
            float(shares[i]),
        )
        for i in ranking
    )
    return CaseSensitivity(
        id=case_id,
        evidence=MappingProxyType(dict(evidence)),
        top=conditions[top],
        posterior=float(posterior[top]),
        tornado=tornado,
        stability=float(shares[top]),
        intervals=intervals,
    )


class _Analysis:
    """The pruned network of a batch of cases, rebuilt for any parameter values."""

    def __init__(
        self, spec: ModelSpec, evidence: Sequence[Mapping[str, str]], nominal: np.ndarray
    ) -> None:
        self.conditions = tuple(node.id for node in spec.nodes if node.kind == "condition")
        observed = {node for case in evidence for node in case}
        by_id = {node.id: node for node in spec.nodes}
        kept = set(self.conditions) | observed
        stack = list(kept)
        while stack:
            for parent in by_id[stack.pop()].parent_ids:
                if parent not in kept:
                    kept.add(parent)
                    stack.append(parent)
        self.kept = frozenset(kept)
        self.nodes = tuple(node for node in spec.nodes if node.id in kept)
        # Where each kept node's numbers sit in the vector of parameter_ranges().
        self.slices = {}
        start = 0
        for node in spec.nodes:
            count = len(node.parameters())
            self.slices[node.id] = slice(start, start + count)
            start += count
        present = STATES.index("present")
        self.likelihoods = {}
        for node_id in sorted(observed):
            table = np.ones((len(evidence), len(STATES)))
            for row, case in enumerate(evidence):
                if node_id in case:
                    table[row] = 0.0
                    table[row, STATES.index(case[node_id])] = 1.0
            self.likelihoods[node_id] = table
        self.n_cases = len(evidence)
        # Compile every variation the same way: with noisy-OR chains or without,
        # whichever gives the hand-set network the smaller tables.  Both are exact.
        network = self.network(nominal)
        self._noisy_or = min(
            (False, True),
            key=lambda chained: sum(_compile_as_then(network, noisy_or=chained).clique_sizes),
        )
        self._present = present

    def network(self, values: np.ndarray) -> DiscreteNetwork:
        """Return the pruned network with the numbers in ``values``."""
        return DiscreteNetwork(
            variables=tuple(node.id for node in self.nodes),
            states={node.id: STATES for node in self.nodes},
            parents={node.id: node.parent_ids for node in self.nodes},
            cpts={
                node.id: node_table(node, values[self.slices[node.id]].tolist())
                for node in self.nodes
            },
        )

    def posteriors(self, values: np.ndarray, moved: ParameterRange | None) -> np.ndarray:
        """Return P(condition present | evidence), shape (cases, conditions)."""
        engine = _compile_as_then(self.network(values), noisy_or=self._noisy_or)
        try:
            marginals, _ = engine.posteriors_from_likelihoods(
                self.likelihoods, self.n_cases, targets=self.conditions
            )
        except ImpossibleEvidenceError as error:
            which = f"case {error.case}" if error.case is not None else "a case"
            detail = f" with {moved.name} at {values[self._index(moved)]:g}" if moved else ""
            raise ImpossibleEvidenceError(
                f"the evidence of {which} has probability zero{detail}"
            ) from error
        return np.stack([marginals[c][:, self._present] for c in self.conditions], axis=1)

    def _index(self, moved: ParameterRange) -> int:
        node = next(node for node in self.nodes if node.id == moved.node)
        fields = [field for field, _ in node.parameters()]
        return self.slices[node.id].start + fields.index(moved.field)
