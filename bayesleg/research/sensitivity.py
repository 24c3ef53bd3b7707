"""Sensitivity of a diagnosis to the hand-set numbers of the model.

Every number of the model file -- each factor's prior, each leak, each
term's weight (one parent or a joint cause), each preventer's -- is a
judgement mapped onto the Renooij–Witteman verbal scale.  :func:`sensitivity`
asks how much a diagnosis depends on them, in two ways:

* **One at a time (tornado).**  Each number moves to the low end, then the
  high end of its plausible range, all others at their hand-set values, and
  the posterior of the case's top cause (at the hand-set values) is
  recomputed.  A posterior is a ratio of two functions linear in any single
  CPT number (and a prior, leak, weight or preventer enters its table
  linearly), so it moves monotonically across the range and the two ends
  bound it.  ``swing`` is the distance between the two posteriors.
* **All at once (Monte Carlo).**  Every number is drawn independently from
  a two-sided triangular distribution on its range: half the draws fall
  below the hand-set value and half above, each half a triangle peaking at
  the value and falling to zero at the end of the range (all draws on one
  side when the value sits at an end).  The hand-set value is thus both the
  mode and the median, every value in the range can occur
  and none outside it, however lopsided the range (a leak of 0.02 varies
  over 0.01 to 0.25).  Each draw of all the numbers diagnoses the cases
  again.  The
  result says how often the top cause stays first, and gives each cause's
  posterior interval (5th to 95th percentile) over the draws.  The draws
  are seeded.

Plausible ranges
----------------
A number's range is its ``low`` and ``high`` from the model file where
given.  Otherwise it runs between the anchors on either side of its
``verbal`` anchor on the scale (impossible 0, improbable 0.15, uncertain
0.25, fifty-fifty 0.5, expected 0.75, probable 0.85, certain 1), widened if
needed to contain the value itself.  An end that would land on 0 or 1 while
the value does not is pulled to halfway between the value and that bound,
so a number never moves to impossibility or certainty the texts did not
state:

==========================  ==============
value (verbal)              range
==========================  ==============
0.02 (improbable, noted)    0.01 to 0.25
0.15 (improbable)           0.075 to 0.25
0.5 (fifty-fifty)           0.25 to 0.75
0.85 (probable)             0.75 to 0.925
1.0 (certain)               0.85 to 1.0
0.0 (impossible)            0.0 to 0.15
==========================  ==============

Exactness and cost
------------------
Nothing is recomputed number by number.  A posterior is exactly a
linear-fractional function of any one number (see
:mod:`bayesleg.research.oneway`), and the functions of every number and
every condition come from one propagation of each case (and of the case with
each condition observed) at the hand-set values; the tornado's ends and the
*admissible deviations* -- how far each number may move before the top
cause changes, and which cause takes over -- follow from them exactly.  The
Monte Carlo draws are one batch too: the structure is compiled once, the
tables of every draw built together in numpy and propagated together
(:mod:`bayesleg.research._parametric`).  Only the variables that can matter
take part: every factor and condition, and the observed symptoms (an
unobserved symptom is barren; its numbers cannot move a posterior, and their
swing is exactly zero).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import (
    ImpossibleEvidenceError,
    InvalidArgumentError,
    InvalidEvidenceError,
    quoted,
)
from bayesleg.knowledge.evidence import normalise_evidence
from bayesleg.research._montecarlo import INTERVAL, draw_numbers, summarise
from bayesleg.research._parametric import evaluate
from bayesleg.research._ranges import ParameterRange, parameter_ranges
from bayesleg.research.oneway import (
    AdmissibleDeviation,
    OneWay,
    admissible_deviations,
    one_way,
    top_index,
)
from bayesleg.research.simulate import MAX_VALUES, check_count, check_seed

if TYPE_CHECKING:
    from bayesleg.model import Model

__all__ = [
    "INTERVAL",
    "AdmissibleDeviation",
    "CaseSensitivity",
    "CauseInterval",
    "Flip",
    "OneWay",
    "ParameterRange",
    "Sensitivity",
    "TornadoBar",
    "parameter_ranges",
    "sensitivity",
]

# Arrays of samples x numbers held at once while drawing the numbers.
_DRAW_COPIES = 8


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
    ``deviations`` every number's admissible deviation, in
    :func:`parameter_ranges` order; ``stability`` is the fraction of Monte
    Carlo draws whose first cause is ``top``; ``intervals`` holds every
    condition, in the hand-set ranking; ``functions`` are the case's exact
    sensitivity functions.
    """

    id: str | None
    evidence: Mapping[str, str]
    top: str
    posterior: float
    tornado: tuple[TornadoBar, ...]
    stability: float
    intervals: tuple[CauseInterval, ...]
    deviations: tuple[AdmissibleDeviation, ...] = ()
    functions: OneWay | None = None

    def __repr__(self) -> str:
        from bayesleg.research.display import case_sensitivity_text

        return case_sensitivity_text(self)

    def _repr_html_(self) -> str:
        """Show a tornado and the posterior intervals in a notebook."""
        from bayesleg.research.display import case_sensitivity_html

        return case_sensitivity_html(self)

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
            "deviations": [deviation.to_dict() for deviation in self.deviations],
        }


@dataclass(frozen=True)
class Flip:
    """A number whose plausible range changes a case's first cause.

    ``case`` is the case's id (or its position, when it has none); at the
    ``end`` (``"low"`` or ``"high"``) of the number's range ``taker`` is
    first instead of ``top``, from ``at`` on.
    """

    parameter: str
    case: str | int
    top: str
    end: str
    at: float
    taker: str

    def to_dict(self) -> dict[str, Any]:
        """Return the flip as a JSON-serialisable dict."""
        return {
            "parameter": self.parameter,
            "case": self.case,
            "top": self.top,
            "end": self.end,
            "at": self.at,
            "taker": self.taker,
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

    def __repr__(self) -> str:
        from bayesleg.research.display import sensitivity_text

        return sensitivity_text(self)

    def _repr_html_(self) -> str:
        """Show each case's tornado and intervals in a notebook."""
        from bayesleg.research.display import sensitivity_html

        return sensitivity_html(self)

    def mean_swing(self) -> dict[str, float]:
        """Return each number's swing averaged over the cases, largest first."""
        totals = dict.fromkeys((p.name for p in self.parameters), 0.0)
        for case in self.cases:
            for bar in case.tornado:
                totals[bar.parameter.name] += bar.swing / len(self.cases)
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def flips(self) -> tuple[Flip, ...]:
        """Return every number whose plausible range can change some case's first cause.

        In :func:`parameter_ranges` order, then case by case, low end first.
        """
        found = []
        for i, parameter in enumerate(self.parameters):
            for position, case in enumerate(self.cases):
                if not case.deviations:
                    continue
                deviation = case.deviations[i]
                label = case.id if case.id is not None else position
                if deviation.flips_low and deviation.lower_taker is not None:
                    found.append(
                        Flip(
                            parameter.name,
                            label,
                            case.top,
                            "low",
                            deviation.lower,
                            deviation.lower_taker,
                        )
                    )
                if deviation.flips_high and deviation.upper_taker is not None:
                    found.append(
                        Flip(
                            parameter.name,
                            label,
                            case.top,
                            "high",
                            deviation.upper,
                            deviation.upper_taker,
                        )
                    )
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        """Return the analysis as a JSON-serialisable dict."""
        return {
            "model": {"id": self.model_id, "version": self.model_version},
            "samples": self.samples,
            "seed": self.seed,
            "distribution": "two-sided triangular on [low, high], mode and median at p",
            "interval_percentiles": list(INTERVAL),
            "cases": [case.to_dict() for case in self.cases],
            "flips": [flip.to_dict() for flip in self.flips()],
        }


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
        Called as ``progress(done, total)`` after each chunk of the Monte
        Carlo batch, for a progress bar.

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
    if progress is not None and not callable(progress):
        raise InvalidArgumentError(
            f"progress must be a function of (done, total) or None, got {type(progress).__name__}"
        )
    seed = check_seed(seed, generator=False)
    ids, evidence = _cases(model, evidence_or_cases)
    ranges = parameter_ranges(model.spec)
    conditions = tuple(model.conditions)
    # Drawing takes a few arrays of samples x numbers; the results, samples x cases x conditions.
    most = MAX_VALUES // (_DRAW_COPIES * len(ranges) + len(evidence) * len(conditions))
    if samples > most:
        raise InvalidArgumentError(
            f"samples must be at most {most} for this model and {len(evidence)} case(s), "
            f"to stay within {MAX_VALUES} values of working memory, got {quoted(samples)}"
        )
    functions = one_way(model.spec, evidence, ids)
    if samples:
        draws = draw_numbers(ranges, samples, seed)
        logs, drawn = evaluate(model.spec, evidence, draws, progress=progress)
        impossible = np.argwhere(~np.isfinite(logs))
        if len(impossible):
            sample, case = (int(x) for x in impossible[0])
            error = ImpossibleEvidenceError(
                f"the evidence of case {case} has probability zero in Monte Carlo draw {sample}"
            )
            error.case = case
            raise error
    else:
        drawn = np.empty((0, len(evidence), len(conditions)))
    summaries = summarise(drawn, conditions) if samples else None
    return Sensitivity(
        tuple(
            _case_result(f, None if summaries is None else [a[case] for a in summaries])
            for case, f in enumerate(functions)
        ),
        ranges,
        samples,
        seed,
        model.id,
        model.version,
    )


def _case_result(functions: OneWay, summary: Sequence[np.ndarray] | None) -> CaseSensitivity:
    """Assemble one case's analysis; ``summary`` is its Monte Carlo :func:`summarise`, if any."""
    conditions = functions.conditions
    posterior = functions.posterior
    top = top_index(posterior, conditions)
    bars = []
    ends = np.array([[r.low, r.high] for r in functions.parameters])  # (numbers, 2)
    evidence = functions.evidence_at[:, :1] * (1.0 - ends) + functions.evidence_at[:, 1:] * ends
    joint = (
        functions.joint_at[:, 0, top, None] * (1.0 - ends)
        + functions.joint_at[:, 1, top, None] * ends
    )
    if not np.all(evidence > 0.0):
        i, end = (int(x) for x in np.argwhere(~(evidence > 0.0))[0])
        r = functions.parameters[i]
        raise ImpossibleEvidenceError(
            f"the evidence has probability zero with {r.name} at {ends[i, end]:g}"
        )
    at = joint / evidence
    for r, (at_low, at_high) in zip(functions.parameters, at.tolist(), strict=True):
        bars.append(TornadoBar(r, at_low, at_high, abs(at_high - at_low)))
    tornado = tuple(
        bars[i] for i in sorted(range(len(bars)), key=lambda i: (-round(bars[i].swing, 12), i))
    )
    if summary is not None:
        low, median, high, shares = summary
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
        id=functions.id,
        evidence=MappingProxyType(dict(functions.evidence)),
        top=conditions[top],
        posterior=float(posterior[top]),
        tornado=tornado,
        stability=float(shares[top]),
        intervals=intervals,
        deviations=admissible_deviations(functions),
        functions=functions,
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
