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

Probabilities are clipped to ``[1e-12, 1 - 1e-12]`` before taking log odds,
so a finding that makes the cause certain or impossible contributes a large
finite amount (at most about 55 in all) instead of an infinity.

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

from bayesleg.errors import ImpossibleEvidenceError, InvalidArgumentError, UnknownNodeError
from bayesleg.inference._queries import answer_rows
from bayesleg.knowledge.evidence import normalise_evidence
from bayesleg.reasoning.questions import ASKABLE_KINDS

if TYPE_CHECKING:
    from bayesleg.model import Model

__all__ = ["Contribution", "Explanation", "Lowering", "explain"]

_CLIP = 1e-12
# A finding that would lower the posterior by less than this does not lower it.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Contribution:
    """One observed item's share of the cause's log posterior odds.

    ``log_likelihood_ratio`` is the item's Shapley value in natural-log odds:
    positive when the item supports the cause, negative when it argues
    against it.  ``state`` is what was observed.
    """

    id: str
    log_likelihood_ratio: float
    state: str
    label: str

    def to_dict(self) -> dict[str, Any]:
        """Return the contribution as a JSON-serialisable dict, one key per field."""
        return asdict(self)


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
    log_baseline_odds``.  ``posterior`` is P(cause | evidence) and
    ``baseline`` P(cause) with no evidence; the two log odds are theirs,
    with the probabilities clipped to ``[1e-12, 1 - 1e-12]``.
    ``method`` is ``"exact"`` or ``"sampled"`` (see the module's docstring).
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

    def to_dict(self) -> dict[str, Any]:
        """Return the explanation as a JSON-serialisable dict."""
        return {
            "cause": self.cause,
            "label": self.label,
            "posterior": self.posterior,
            "baseline": self.baseline,
            "log_posterior_odds": self.log_posterior_odds,
            "log_baseline_odds": self.log_baseline_odds,
            "method": self.method,
            "contributions": [c.to_dict() for c in self.contributions],
            "would_lower": [finding.to_dict() for finding in self.would_lower],
        }


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
        are explained by sampled orders.
    permutations : int, default 128
        Orders sampled beyond ``max_exact`` (rounded up to an even number).
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
    if cause not in model.conditions:
        raise UnknownNodeError(cause, model.conditions, what="condition")
    for name, value in (("max_exact", max_exact), ("permutations", permutations)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgumentError(f"{name} must be a positive whole number, got {value!r}")
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
        steps = np.diff(_log_odds(posteriors)[position.reshape(prefixes.shape)], axis=1)
        shapley = np.zeros(m)
        for step in range(m):
            np.add.at(shapley, orders[:, step], steps[:, step])
        shapley /= len(orders)
        method = "sampled"
    # masks is sorted and holds the empty set first and the full set last.
    baseline, posterior = float(posteriors[0]), float(posteriors[-1])
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
        log_posterior_odds=float(_log_odds(np.array(posterior))),
        log_baseline_odds=float(_log_odds(np.array(baseline))),
        contributions=tuple(contributions),
        would_lower=_would_lower(model, states, cause, lowering),
        method=method,
    )


def _posteriors(
    model: Model, states: Mapping[str, str], items: list[str], masks: np.ndarray, cause: str
) -> np.ndarray:
    """Return P(cause present | each subset of ``items``), subsets given as bit masks."""
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
    return posteriors[cause][:, 1]


def _log_odds(p: np.ndarray) -> np.ndarray:
    """Return log odds, with probabilities clipped to [1e-12, 1 - 1e-12]."""
    p = np.clip(p, _CLIP, 1.0 - _CLIP)
    return np.log(p) - np.log1p(-p)


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
        shapley[j] = np.sum(weight[sizes[without]] * (values[without | (1 << j)] - values[without]))
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
