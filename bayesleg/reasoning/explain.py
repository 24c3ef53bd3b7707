"""Explanations: how much each observed item moved one cause, and what would move it back.

Method
------
Let ``E`` be the observed items of a case (factors, symptoms, and any
conditions given as evidence) and, for a subset ``S`` of them,

    v(S) = log odds P(cause present | S)

so that ``v({})`` is the cause's log odds with no evidence at all and
``v(E)`` its log posterior odds.  Adding the items one at a time in some
order splits ``v(E) - v({})`` into per-item steps (the chain rule of log
odds), but the steps depend on the order: a symptom that two conditions
both explain counts for less once the other is known.  Each item's
contribution is therefore its **Shapley value** in the game ``v``: its step
averaged over every order of the items,

    phi_i = sum over S not holding i of |S|! (m - |S| - 1)! / m! * (v(S + i) - v(S))

which is symmetric in the items and sums exactly to
``v(E) - v({}) = log posterior odds - log odds with no evidence``.  Factors
are items like any other, so the reference point is the cause's population
rate, not its rate given the factors (the ``prior`` of
:class:`~bayesleg.reasoning.diagnosis.RankedCause`).

With ``m`` items up to ``max_exact``, all ``2^m`` subsets go to the engine
as one batch and the values are exact.  Beyond that, ``permutations``
random orders (in antithetic pairs: each order and its reverse, drawn from
``numpy.random.default_rng(seed)``) are averaged; every order's steps still
sum to ``v(E) - v({})``, so the estimate keeps the sum exactly.

Log odds are ``log P(present | S) - log P(absent | S)``, both probabilities
straight from the engine, so they stay exact near 0 and 1.  When evidence
makes the cause certain (or rules it out) its log odds are infinite, and so
they are reported: ``inf`` (or ``-inf``) in Python and in text, ``null`` with
a note in :meth:`Explanation.to_dict`, never a clipped stand-in.  Possible
evidence cannot make the cause both certain and impossible, and once a
subset makes it certain every larger subset does too; a step from an infinite
value to the same one is 0 (nothing is left to move).  So each share is a
finite number, or ``inf`` for the items that, observed with some of the
others, make the cause certain (``-inf``: rule it out).

``would_lower`` lists the unobserved symptoms and factors whose observation
(present or absent, whichever lowers it more) would most lower the cause's
posterior, with that posterior: the findings that would argue against it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import (
    ImpossibleEvidenceError,
    InvalidArgumentError,
    UnknownNodeError,
    quoted,
)
from bayesleg.inference._queries import answer_rows
from bayesleg.knowledge.evidence import normalise_evidence
from bayesleg.reasoning.questions import ASKABLE_KINDS

if TYPE_CHECKING:
    from bayesleg.model import Model

__all__ = ["MAX_EXACT", "MAX_PERMUTATIONS", "Contribution", "Explanation", "Lowering", "explain"]

#: The most observed items explained exactly: ``2**MAX_EXACT`` subsets, about
#: a million rows, go to the engine (some seconds).
MAX_EXACT = 20
#: The most orders sampled beyond ``max_exact``: each is ``m + 1`` rows.
MAX_PERMUTATIONS = 100_000

# A finding that would lower the posterior by less than this does not lower it.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Contribution:
    """One observed item's share of the cause's log posterior odds.

    ``log_likelihood_ratio`` is the item's Shapley value in natural-log odds:
    positive when the item supports the cause, negative when it argues
    against it; ``inf`` (``-inf``) when, observed with some of the other
    items, it makes the cause certain (rules it out).  ``state`` is what was
    observed.
    """

    id: str
    log_likelihood_ratio: float
    state: str
    label: str

    def to_dict(self) -> dict[str, Any]:
        """Return the contribution as a JSON-serialisable dict, one key per field.

        An infinite ``log_likelihood_ratio`` is ``null``, which JSON can hold;
        :meth:`Explanation.to_dict` adds a note saying why.
        """
        return asdict(self) | {"log_likelihood_ratio": _finite_or_none(self.log_likelihood_ratio)}


@dataclass(frozen=True)
class Lowering:
    """An unobserved finding that would lower the cause: observed as ``state``, the
    cause's posterior would be ``posterior``."""

    id: str
    label: str
    state: str
    posterior: float

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as a JSON-serialisable dict, one key per field."""
        return asdict(self)


@dataclass(frozen=True)
class Explanation:
    """Why a cause has the posterior it has.

    ``contributions`` holds one entry per observed item, largest absolute
    value first (ties by id); they sum to ``log_posterior_odds -
    log_baseline_odds`` (when these are finite).  ``posterior`` is
    P(cause | evidence) and ``baseline`` P(cause) with no evidence; the two
    log odds are theirs, ``inf`` for a certain cause and ``-inf`` for one
    ruled out.  ``method`` is ``"exact"`` or ``"sampled"`` (see the module's
    docstring).
    """

    cause: str
    label: str
    posterior: float
    baseline: float
    log_posterior_odds: float
    log_baseline_odds: float
    contributions: tuple[Contribution, ...]
    would_lower: tuple[Lowering, ...]
    method: str

    def __repr__(self) -> str:
        from bayesleg.reasoning.display import explanation_text

        return explanation_text(self)

    def _repr_html_(self) -> str:
        """Show the contributions as a waterfall in a notebook."""
        from bayesleg.reasoning.display import explanation_html

        return explanation_html(self)

    @property
    def supporting(self) -> tuple[Contribution, ...]:
        """The items that raise the cause's odds, largest first."""
        return tuple(c for c in self.contributions if c.log_likelihood_ratio > 0)

    @property
    def against(self) -> tuple[Contribution, ...]:
        """The items that lower the cause's odds, largest effect first."""
        return tuple(c for c in self.contributions if c.log_likelihood_ratio < 0)

    @property
    def log_odds_change(self) -> float:
        """``log_posterior_odds - log_baseline_odds``, the sum of the shares.

        0 when both are the same infinity: a cause certain (or impossible)
        before any evidence stays so, and nothing moved it.
        """
        return float(_step(self.log_baseline_odds, self.log_posterior_odds))

    @property
    def notes(self) -> tuple[str, ...]:
        """Say why each infinite value is infinite; empty when all are finite."""
        notes = []
        for name, value, where in (
            ("log_baseline_odds", self.log_baseline_odds, "with no evidence"),
            ("log_posterior_odds", self.log_posterior_odds, "given the evidence"),
        ):
            if not math.isfinite(value):
                status = "certain" if value > 0 else "impossible"
                notes.append(
                    f"{name} is {_sign(value)}infinite: {where} {self.cause!r} is {status} "
                    f"(probability exactly {int(value > 0)})"
                )
        for contribution in self.contributions:
            value = contribution.log_likelihood_ratio
            if not math.isfinite(value):
                if value > 0:
                    effect = (
                        f"makes {self.cause!r} certain, the evidence being impossible without it"
                    )
                else:
                    effect = f"rules {self.cause!r} out, the evidence being impossible with it"
                notes.append(
                    f"the share of {contribution.id!r} ({contribution.state}) is {_sign(value)}"
                    f"infinite: alone or with some of the other items it {effect}"
                )
        return tuple(notes)

    def to_dict(self) -> dict[str, Any]:
        """Return the explanation as a JSON-serialisable dict.

        JSON has no infinity: an infinite log odds or share is ``null``, and
        ``notes`` (a list of strings, empty when every value is finite) says
        which and why.
        """
        return {
            "cause": self.cause,
            "label": self.label,
            "posterior": self.posterior,
            "baseline": self.baseline,
            "log_posterior_odds": _finite_or_none(self.log_posterior_odds),
            "log_baseline_odds": _finite_or_none(self.log_baseline_odds),
            "method": self.method,
            "contributions": [c.to_dict() for c in self.contributions],
            "would_lower": [finding.to_dict() for finding in self.would_lower],
            "notes": list(self.notes),
        }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _sign(value: float) -> str:
    return "+" if value > 0 else "-"


def explain(
    model: Model,
    evidence: Mapping[str, Any],
    cause: str,
    *,
    max_exact: int = 12,
    permutations: int = 128,
    seed: int = 0,
    lowering: int = 5,
) -> Explanation:
    """Split a cause's log posterior odds among the observed items.

    Parameters
    ----------
    model : Model
        The model to explain with.
    evidence : mapping
        Node id to True/False (also "present"/"absent", "yes"/"no").
    cause : str
        A condition id.
    max_exact : int, default 12
        Most observed items for which every subset is enumerated; more items
        are explained by sampled orders.  At most :data:`MAX_EXACT`.
    permutations : int, default 128
        Orders sampled beyond ``max_exact`` (rounded up to an even number).
        At most :data:`MAX_PERMUTATIONS`.
    seed : int, default 0
        Seed of the sampled orders; the same seed gives the same answer.
    lowering : int, default 5
        How many findings ``would_lower`` lists at most.

    Returns
    -------
    Explanation

    Raises
    ------
    UnknownNodeError
        If ``cause`` is not a condition of the model (with did-you-mean
        suggestions among the conditions), or the evidence names an unknown node.
    InvalidArgumentError
        If an option is out of range.
    InvalidStateError, InvalidEvidenceError
        If the evidence gives a bad value or is not a mapping.
    ImpossibleEvidenceError
        If the evidence has probability zero under the model.

    Examples
    --------
    >>> import bayesleg
    >>> explanation = bayesleg.load().explain({"diabetes": True, "starts_in_feet": True},
    ...                                      "peripheral_neuropathy")
    >>> sorted(c.id for c in explanation.supporting)
    ['diabetes', 'starts_in_feet']
    """
    if not isinstance(cause, str) or cause not in model.conditions:
        raise UnknownNodeError(cause, model.conditions, what="condition")
    for name, value, most in (
        ("max_exact", max_exact, MAX_EXACT),
        ("permutations", permutations, MAX_PERMUTATIONS),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            raise InvalidArgumentError(
                f"{name} must be a whole number from 1 to {most}, got {quoted(value)}"
            )
    for name, value in (("lowering", lowering), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidArgumentError(f"{name} must be a whole number >= 0, got {value!r}")
    states = normalise_evidence(evidence, [node.id for node in model.nodes])
    items = list(states)
    m = len(items)
    if m <= max_exact:
        masks = np.arange(1 << m, dtype=np.int64)
        posteriors = _posteriors(model, states, items, masks, cause)
        values = _log_odds(posteriors)
        shapley = _exact_shapley(values, m)
        method = "exact"
    else:
        orders = _orders(m, permutations, np.random.default_rng(seed))
        prefixes = np.zeros((len(orders), m + 1), dtype=np.int64)
        for step in range(m):
            prefixes[:, step + 1] = prefixes[:, step] | (np.int64(1) << orders[:, step])
        masks, position = np.unique(prefixes, return_inverse=True)
        posteriors = _posteriors(model, states, items, masks, cause)
        path = _log_odds(posteriors)[position.reshape(prefixes.shape)]
        steps = _step(path[:, :-1], path[:, 1:])
        shapley = np.zeros(m)
        for step in range(m):
            np.add.at(shapley, orders[:, step], steps[:, step])
        shapley /= len(orders)
        method = "sampled"
    # masks is sorted and holds the empty set first and the full set last.
    baseline, posterior = float(posteriors[0, 1]), float(posteriors[-1, 1])
    contributions = sorted(
        (
            Contribution(item, float(shapley[j]), states[item], model.node(item).label)
            for j, item in enumerate(items)
        ),
        key=lambda c: (-round(abs(c.log_likelihood_ratio), 12), c.id),
    )
    return Explanation(
        cause=cause,
        label=model.node(cause).label,
        posterior=posterior,
        baseline=baseline,
        log_posterior_odds=float(_log_odds(posteriors[-1:])[0]),
        log_baseline_odds=float(_log_odds(posteriors[:1])[0]),
        contributions=tuple(contributions),
        would_lower=_would_lower(model, states, cause, lowering),
        method=method,
    )


def _posteriors(
    model: Model, states: Mapping[str, str], items: list[str], masks: np.ndarray, cause: str
) -> np.ndarray:
    """Return P(cause absent, present | each subset of ``items``), subsets given as bit masks.

    Shape ``(len(masks), 2)``: both columns come from the engine, so neither
    loses its digits to ``1 - p``.
    """
    n = len(masks)
    likelihoods = {}
    for j, item in enumerate(items):
        rows = np.ones((n, 2))
        chosen = ((masks >> j) & 1).astype(bool)
        rows[chosen, 0 if states[item] == "present" else 1] = 0.0
        likelihoods[item] = rows
    try:
        posteriors, _ = model.engine.posteriors_from_likelihoods(likelihoods, n, [cause])
    except ImpossibleEvidenceError as error:
        # Every subset of possible evidence is possible: only the full set can fail.
        raise ImpossibleEvidenceError(
            "the evidence has probability zero under the model"
        ) from error
    return np.asarray(posteriors[cause], dtype=np.float64)


def _log_odds(posteriors: np.ndarray) -> np.ndarray:
    """Return ``log P(present) - log P(absent)`` row by row: ``inf`` or ``-inf`` at 1 or 0.

    Never NaN: possible evidence leaves at least one of the two above 0.
    """
    with np.errstate(divide="ignore"):
        logs = np.log(posteriors)
    return logs[:, 1] - logs[:, 0]


def _step(before: Any, after: Any) -> Any:
    """Return ``after - before``, and 0 where both are the same (so ``inf`` to ``inf`` is 0)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.equal(before, after), 0.0, np.subtract(after, before))[()]


def _exact_shapley(values: np.ndarray, m: int) -> np.ndarray:
    """Return each item's Shapley value from the game's value on every subset."""
    masks = np.arange(1 << m, dtype=np.int64)
    sizes = np.zeros(1 << m, dtype=np.int64)
    for j in range(m):
        sizes += (masks >> j) & 1
    # Weight of a coalition of size s that does not hold the item: s! (m-s-1)! / m!.
    weight = np.array([1.0 / (m * math.comb(m - 1, s)) for s in range(m)]) if m else np.zeros(0)
    shapley = np.zeros(m)
    for j in range(m):
        without = masks[((masks >> j) & 1) == 0]
        steps = _step(values[without], values[without | (1 << j)])
        shapley[j] = np.sum(weight[sizes[without]] * steps)
    return shapley


def _orders(m: int, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Return sampled orders of ``m`` items, each followed by its reverse."""
    pairs = (permutations + 1) // 2
    drawn = np.stack([rng.permutation(m) for _ in range(pairs)])
    return np.concatenate([drawn, drawn[:, ::-1]]).reshape(2 * pairs, m)


def _would_lower(
    model: Model, states: Mapping[str, str], cause: str, limit: int
) -> tuple[Lowering, ...]:
    candidates = [
        node.id for node in model.nodes if node.kind in ASKABLE_KINDS and node.id not in states
    ]
    current, _, if_yes, if_no = answer_rows(model.engine, states, candidates, [cause])
    lowering = []
    for j, candidate in enumerate(candidates):
        state, posterior = min(
            (("present", float(if_yes[j, 0])), ("absent", float(if_no[j, 0]))),
            key=lambda option: option[1],
        )
        if posterior < current[0] - _TOLERANCE:
            lowering.append(Lowering(candidate, model.node(candidate).label, state, posterior))
    lowering.sort(key=lambda finding: (round(finding.posterior, 12), finding.id))
    return tuple(lowering[:limit])
