"""Posterior intervals on a diagnosis, over random draws of the hand-set numbers.

:func:`with_uncertainty` draws every number of the model ``samples`` times
from its plausible range (the two-sided triangular distribution of
:mod:`bayesleg.research.sensitivity`, seeded), propagates the case under
every draw in one batch (:mod:`bayesleg.research._parametric`) and gives
each ranked cause the 5th and 95th percentile of its posterior and the
fraction of draws in which it has the highest posterior.  It is what
``model.diagnose(evidence, uncertainty=N)``, ``bayesleg diagnose
--uncertainty N`` and the JSON contract's ``"uncertainty": N`` add.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

import numpy as np

from bayesleg.errors import ImpossibleEvidenceError, InvalidArgumentError, quoted
from bayesleg.knowledge.modelfile import ModelSpec
from bayesleg.reasoning.diagnosis import CauseUncertainty, Diagnosis
from bayesleg.research._montecarlo import INTERVAL, draw_numbers, summarise
from bayesleg.research._parametric import evaluate
from bayesleg.research._ranges import parameter_ranges
from bayesleg.research.simulate import check_count

__all__ = ["MAX_UNCERTAINTY", "check_uncertainty", "with_uncertainty"]

#: Most draws a diagnosis's uncertainty may take.
MAX_UNCERTAINTY = 10_000
#: The seed of the draws: the same diagnosis always gets the same intervals.
SEED = 0


def check_uncertainty(samples: Any) -> int:
    """Return ``samples`` if it is a whole number from 0 to :data:`MAX_UNCERTAINTY`.

    Raises
    ------
    InvalidArgumentError
        Otherwise, naming the value given.
    """
    samples = check_count(samples, "uncertainty", minimum=0)
    if samples > MAX_UNCERTAINTY:
        raise InvalidArgumentError(
            f"uncertainty must be at most {MAX_UNCERTAINTY} draws, got {quoted(samples)}"
        )
    return samples


def with_uncertainty(spec: ModelSpec, diagnosis: Diagnosis, samples: int) -> Diagnosis:
    """Return ``diagnosis`` with each ranked cause's posterior interval over random numbers.

    Parameters
    ----------
    spec : ModelSpec
        The model file the diagnosis came from (``model.spec``).
    diagnosis : Diagnosis
        A diagnosis of that model.
    samples : int
        Draws of all the numbers (seeded with :data:`SEED`).

    Returns
    -------
    Diagnosis
        The same diagnosis, each cause with a :class:`CauseUncertainty` and
        ``uncertainty`` holding ``samples``, ``seed`` and ``percentiles``.

    Raises
    ------
    InvalidArgumentError
        If ``samples`` is not a whole number from 1 to :data:`MAX_UNCERTAINTY`.
    ImpossibleEvidenceError
        If the evidence has probability zero under some draw.

    Examples
    --------
    >>> import bayesleg
    >>> diagnosis = bayesleg.load().diagnose({"diabetes": True, "starts_in_feet": True},
    ...                                      uncertainty=200)
    >>> top = diagnosis.top
    >>> top.id, top.uncertainty.low < top.posterior < top.uncertainty.high
    ('peripheral_neuropathy', True)
    """
    samples = check_uncertainty(samples)
    if samples < 1:
        raise InvalidArgumentError(f"uncertainty must be at least 1 draw, got {samples}")
    logs, drawn = evaluate(spec, [diagnosis.evidence], _draws(spec, samples))
    if not np.all(np.isfinite(logs)):
        sample = int(np.flatnonzero(~np.isfinite(logs[:, 0]))[0])
        raise ImpossibleEvidenceError(f"the evidence has probability zero in draw {sample}")
    conditions = tuple(node.id for node in spec.nodes if node.kind == "condition")
    low, _, high, shares = summarise(drawn[:, 0], conditions)
    where = {condition: i for i, condition in enumerate(conditions)}
    ranked = tuple(
        dataclasses.replace(
            cause,
            uncertainty=CauseUncertainty(
                float(low[where[cause.id]]),
                float(high[where[cause.id]]),
                float(shares[where[cause.id]]),
            ),
        )
        for cause in diagnosis.ranked
    )
    settings = {"samples": samples, "seed": SEED, "percentiles": list(INTERVAL)}
    return dataclasses.replace(diagnosis, ranked=ranked, uncertainty=settings)


def _draws(spec: ModelSpec, samples: int) -> np.ndarray:
    return _cached_draws(_SpecKey(spec), samples)


class _SpecKey:
    """A model file as a cache key, held by identity."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    def __hash__(self) -> int:
        return id(self.spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SpecKey) and other.spec is self.spec


@lru_cache(maxsize=8)
def _cached_draws(key: _SpecKey, samples: int) -> np.ndarray:
    draws = draw_numbers(parameter_ranges(key.spec), samples, SEED)
    draws.setflags(write=False)
    return draws
