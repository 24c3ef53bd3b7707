"""Monte Carlo over the hand-set numbers, every draw a member of one batch.

The numbers of every draw are drawn at once (:func:`draw_numbers`), their
tables built together in numpy, and all draws propagated together through
the one compiled structure (:func:`bayesleg.research._parametric.evaluate`).
:func:`summarise` turns the posteriors of the draws into each cause's
interval and how often it ranks first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bayesleg.research._ranges import ParameterRange

__all__ = ["INTERVAL", "draw_numbers", "first_indices", "summarise", "two_sided_triangular"]

#: Percentiles of the Monte Carlo posterior intervals.
INTERVAL = (5.0, 95.0)


def draw_numbers(ranges: Sequence[ParameterRange], samples: int, seed: int | None) -> np.ndarray:
    """Return ``(samples, numbers)`` draws, each number two-sided triangular on its range."""
    return two_sided_triangular(
        np.random.default_rng(seed),
        np.array([r.low for r in ranges]),
        np.array([r.p for r in ranges]),
        np.array([r.high for r in ranges]),
        samples,
    )


def two_sided_triangular(
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
    result: np.ndarray = np.where(below, rising, np.where(high > mode, falling, mode))
    return result


def first_indices(posteriors: np.ndarray, conditions: Sequence[str]) -> np.ndarray:
    """Return each row's first cause: highest posterior to 12 decimals, ties by id."""
    by_id = np.argsort(np.array(conditions))
    rounded = np.round(posteriors[..., by_id], 12)
    result: np.ndarray = by_id[np.argmax(rounded, axis=-1)]
    return result


def summarise(
    drawn: np.ndarray, conditions: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return each cause's 5th, 50th and 95th percentile and share of firsts.

    ``drawn`` is ``(samples, ..., conditions)``, e.g. with an axis of cases
    after the samples; each result is ``drawn.shape[1:]``.
    """
    first = first_indices(drawn, conditions)
    shares = (first[..., None] == np.arange(len(conditions))).mean(axis=0)
    low, median, high = np.percentile(drawn, [INTERVAL[0], 50.0, INTERVAL[1]], axis=0)
    return low, median, high, shares
