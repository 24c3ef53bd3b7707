"""The previous sensitivity method, kept as it was for bench_sensitivity.py to compare against.

Before the exact sensitivity functions and the batched Monte Carlo, every
variation of a number rebuilt the pruned network's tables and recompiled the
engine: one compile and one batched query per end of every number's range,
and one per Monte Carlo draw.  This is that code, unchanged but for this
docstring and its examples (see the git history of
bayesleg/research/sensitivity.py); it is not part of the package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import ImpossibleEvidenceError, InvalidArgumentError, InvalidEvidenceError
from bayesleg.inference.engine import compile as compile_engine
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.knowledge.evidence import normalise_evidence
from bayesleg.knowledge.modelfile import ANCHORS, STATES, ModelSpec, Parameter
from bayesleg.knowledge.noisyor import node_table
from bayesleg.research.simulate import MAX_VALUES, check_count, check_seed

if TYPE_CHECKING:
    from bayesleg.model import Model

__all__ = [
    "CaseSensitivity",
    "CauseInterval",
    "ParameterRange",
    "Sensitivity",
    "TornadoBar",
    "parameter_ranges",
    "sensitivity",
]

#: Percentiles of the Monte Carlo posterior intervals.
INTERVAL = (5.0, 95.0)

_SCALE = sorted(ANCHORS.values())
# Arrays of samples x numbers held at once while drawing the numbers.
_DRAW_COPIES = 8


@dataclass(frozen=True)
class ParameterRange:
    """One hand-set number and the range it is varied over.

    ``name`` is ``node.field`` (``field`` as :meth:`NodeSpec.parameters
    <bayesleg.knowledge.modelfile.NodeSpec.parameters>` names it: ``prior``, ``leak``,
    ``parents.KEY`` for a term or ``prevented_by.FACTOR`` for a preventer);
    ``basis`` says where the range came from:
    ``"model file"``, ``"verbal scale"`` or ``"model file and verbal scale"``
    (one end each).
    """

    node: str
    field: str
    p: float
    verbal: str
    low: float
    high: float
    basis: str

    @property
    def name(self) -> str:
        """``node.field``, e.g. ``"glycogen_depletion.parents.long_session+fasted"``."""
        return f"{self.node}.{self.field}"

    def to_dict(self) -> dict[str, Any]:
        """Return the range as a JSON-serialisable dict."""
        return {
            "name": self.name,
            "node": self.node,
            "field": self.field,
            "p": self.p,
            "verbal": self.verbal,
            "low": self.low,
            "high": self.high,
            "basis": self.basis,
        }


@dataclass(frozen=True)
class TornadoBar:
    """The top cause's posterior with one number at each end of its range."""

    parameter: ParameterRange
    posterior_low: float
    posterior_high: float
    swing: float

    def to_dict(self) -> dict[str, Any]:
        """Return the bar as a JSON-serialisable dict."""
        return {
            **self.parameter.to_dict(),
            "posterior_low": self.posterior_low,
            "posterior_high": self.posterior_high,
            "swing": self.swing,
        }


@dataclass(frozen=True)
class CauseInterval:
    """One condition's posterior over the Monte Carlo draws.

    ``low``, ``median`` and ``high`` are the 5th, 50th and 95th percentiles;
    ``top_share`` is the fraction of draws in which it ranked first.
    """

    id: str
    posterior: float
    low: float
    median: float
    high: float
    top_share: float

    def to_dict(self) -> dict[str, Any]:
        """Return the interval as a JSON-serialisable dict."""
        return {
            "id": self.id,
            "posterior": self.posterior,
            "low": self.low,
            "median": self.median,
            "high": self.high,
            "top_share": self.top_share,
        }


@dataclass(frozen=True)
class CaseSensitivity:
    """How one case's diagnosis depends on the hand-set numbers.

    ``top`` is the first cause at the hand-set values and ``posterior`` its
    posterior; ``tornado`` holds every number, largest swing first;
    ``stability`` is the fraction of Monte Carlo draws whose first cause is
    ``top``; ``intervals`` holds every condition, in the hand-set ranking.
    """

    id: str | None
    evidence: Mapping[str, str]
    top: str
    posterior: float
    tornado: tuple[TornadoBar, ...]
    stability: float
    intervals: tuple[CauseInterval, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the case's analysis as a JSON-serialisable dict."""
        return {
            "id": self.id,
            "evidence": dict(self.evidence),
            "top": self.top,
            "posterior": self.posterior,
            "stability": self.stability,
            "tornado": [bar.to_dict() for bar in self.tornado],
            "intervals": [interval.to_dict() for interval in self.intervals],
        }


@dataclass(frozen=True)
class Sensitivity:
    """The result of :func:`sensitivity`: one analysis per case.

    ``samples`` and ``seed`` are those of the Monte Carlo draws.
    """

    cases: tuple[CaseSensitivity, ...]
    parameters: tuple[ParameterRange, ...]
    samples: int
    seed: int | None
    model_id: str
    model_version: str

    def mean_swing(self) -> dict[str, float]:
        """Return each number's swing averaged over the cases, largest first."""
        totals = dict.fromkeys((p.name for p in self.parameters), 0.0)
        for case in self.cases:
            for bar in case.tornado:
                totals[bar.parameter.name] += bar.swing / len(self.cases)
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def to_dict(self) -> dict[str, Any]:
        """Return the analysis as a JSON-serialisable dict."""
        return {
            "model": {"id": self.model_id, "version": self.model_version},
            "samples": self.samples,
            "seed": self.seed,
            "distribution": "two-sided triangular on [low, high], mode and median at p",
            "interval_percentiles": list(INTERVAL),
            "cases": [case.to_dict() for case in self.cases],
        }


def parameter_ranges(spec: ModelSpec) -> tuple[ParameterRange, ...]:
    """Return every hand-set number of the model with its plausible range.

    Parameters
    ----------
    spec : ModelSpec
        The validated model file (``model.spec``).

    Returns
    -------
    tuple of ParameterRange
        In file order: node by node, each node's prior or leak, then its
        terms' weights, then its preventers'.  See the module docstring for
        the rule.

    Examples
    --------
    >>> import bayesleg
    >>> ranges = parameter_ranges(bayesleg.load().spec)
    >>> first = ranges[0]
    >>> first.name, first.verbal, first.low, first.high
    ('long_session.prior', 'uncertain', 0.15, 0.5)
    """
    return tuple(
        _range(node.id, field, parameter)
        for node in spec.nodes
        for field, parameter in node.parameters()
    )


def _range(node: str, field: str, parameter: Parameter) -> ParameterRange:
    p = parameter.p
    anchor = ANCHORS[parameter.verbal]
    position = _SCALE.index(anchor)
    below = min(_SCALE[max(position - 1, 0)], p)
    above = max(_SCALE[min(position + 1, len(_SCALE) - 1)], p)
    if below == 0.0 and p > 0.0:
        below = p / 2
    if above == 1.0 and p < 1.0:
        above = (1.0 + p) / 2
    low = parameter.low if parameter.low is not None else below
    high = parameter.high if parameter.high is not None else above
    explicit = (parameter.low is not None) + (parameter.high is not None)
    basis = ("verbal scale", "model file and verbal scale", "model file")[explicit]
    return ParameterRange(node, field, p, parameter.verbal, low, high, basis)


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


def _cases(
    model: Model, evidence_or_cases: Mapping[str, Any] | Iterable[Any]
) -> tuple[list[str | None], list[dict[str, str]]]:
    """Return case ids (None where a case has none) and normalised evidence."""
    ids = [node.id for node in model.nodes]
    if isinstance(evidence_or_cases, Mapping):
        return [None], [normalise_evidence(evidence_or_cases, ids)]
    if isinstance(evidence_or_cases, str | bytes) or not isinstance(evidence_or_cases, Iterable):
        raise InvalidEvidenceError(
            "expected one case's evidence (a mapping) or an iterable of cases, "
            f"got {type(evidence_or_cases).__name__}"
        )
    case_ids: list[str | None] = []
    evidence = []
    for case in evidence_or_cases:
        if isinstance(case, Mapping):
            case_ids.append(None)
            evidence.append(normalise_evidence(case, ids))
        elif isinstance(case_evidence := getattr(case, "evidence", None), Mapping):
            case_ids.append(getattr(case, "id", None))
            evidence.append(normalise_evidence(case_evidence, ids))
        else:
            raise InvalidEvidenceError(
                f"case {len(evidence)} must be a mapping of node id to value or have an "
                f"'evidence' mapping, got {type(case).__name__}"
            )
    if not evidence:
        raise InvalidEvidenceError("no cases given")
    return case_ids, evidence


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
            key=lambda chained: sum(compile_engine(network, noisy_or=chained).clique_sizes),
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
        engine = compile_engine(self.network(values), noisy_or=self._noisy_or)
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


def _top_indices(posteriors: np.ndarray, conditions: Sequence[str]) -> np.ndarray:
    """Return each row's first cause: highest posterior to 12 decimals, ties by id."""
    by_id = np.argsort(np.array(conditions))
    rounded = np.round(posteriors[..., by_id], 12)
    return by_id[np.argmax(rounded, axis=-1)]


def _two_sided_triangular(
    rng: np.random.Generator, low: np.ndarray, mode: np.ndarray, high: np.ndarray, n: int
) -> np.ndarray:
    """Draw ``n`` rows of independent variates, half below ``mode`` and half above.

    Each half is a triangle peaking at ``mode`` and falling to zero at
    ``low`` (or ``high``), drawn by its inverse CDF.  Where one side is
    empty (``mode`` at an end of the range) every draw falls on the other;
    where both are, the draw is ``mode``.
    """
    uniform = rng.random((n, len(mode)))
    share_below = np.where(mode > low, np.where(high > mode, 0.5, 1.0), 0.0)
    below = uniform < share_below
    with np.errstate(divide="ignore", invalid="ignore"):
        # Within each side, P(X <= x) = ((x - low) / (mode - low))^2 below, and
        # P(X > x) = ((high - x) / (high - mode))^2 above.
        rising = low + (mode - low) * np.sqrt(uniform / share_below)
        falling = high - (high - mode) * np.sqrt((1.0 - uniform) / (1.0 - share_below))
    return np.where(below, rising, np.where(high > mode, falling, mode))
