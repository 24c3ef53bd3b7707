"""Exact one-way sensitivity functions and admissible deviations.

Every hand-set number of the model enters exactly one table, and every
entry of that table is an affine function of it: a factor's prior ``p``
gives ``(1 - p, p)``; a leak ``l``, a term's weight ``w`` (one parent or a
joint cause) or a preventer's ``q`` enter a noisy-OR entry through one
factor ``(1 - l)``, ``(1 - w)`` or ``(1 - q)`` of a product, so, the other
numbers held, each entry is ``u + v * theta``.  The joint probability is a
product of one entry of each table, so P(e) and P(condition, e) are affine
in the number too, and::

    P(condition | e)(theta) = (a * theta + b) / (c * theta + d)

exactly -- a *sensitivity function* (Castillo, Gutiérrez and Hadi 1997;
Coupé and van der Gaag 2002).  Two values of each affine function determine
it.  :func:`one_way` propagates, in one batch, the model at its hand-set
numbers and each number moved to 0 and to 1, the others held; then::

    P(e)(theta)            = P(e | theta = 0) (1 - theta) + P(e | theta = 1) theta
    P(condition, e)(theta) = likewise

a convex combination of non-negative values on [0, 1], free of
cancellation.  All values are kept relative to P(e) at the hand-set
numbers, so ``c * theta0 + d = 1``.

The *admissible deviation* of a number (van der Gaag and Renooij 2001) is
how far it may move before the most likely cause changes.  The top cause
``k`` stays ahead of ``j`` wherever the affine numerator ``P(k, e) - P(j,
e)`` is non-negative (the common denominator P(e) is positive); that set is
an interval of [0, 1] whose end is the numerator's root, and the
intersection over ``j`` is the interval on which ``k`` stays first, the
cause whose root bounds it taking over beyond each end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayesleg.errors import ImpossibleEvidenceError, InvalidArgumentError, UnknownNodeError
from bayesleg.knowledge.modelfile import ModelSpec
from bayesleg.research._parametric import evaluate, kept_nodes
from bayesleg.research._ranges import ParameterRange, parameter_ranges

__all__ = ["AdmissibleDeviation", "OneWay", "admissible_deviations", "one_way"]

# Posteriors equal to this many decimals are tied; ties go by condition id
# (as in the diagnosis's ranking).
_DECIMALS = 12


@dataclass(frozen=True, eq=False)
class OneWay:
    """One case's sensitivity functions: every condition against every number.

    ``evidence_at[i]`` holds P(e) with number ``i`` at 0 and at 1, and
    ``joint_at[i]`` P(condition, e) likewise, per condition; all relative to
    P(e) at the hand-set numbers.

    Attributes
    ----------
    id : str or None
        The case's id, if it has one.
    evidence : mapping of str to str
        The case's normalised evidence.
    parameters : tuple of ParameterRange
        Every number of the model, in :func:`parameter_ranges` order.
    conditions : tuple of str
        The conditions, in file order.
    posterior : numpy.ndarray
        ``(conditions,)``: P(condition | e) at the hand-set numbers.
    evidence_at : numpy.ndarray
        ``(parameters, 2)``.
    joint_at : numpy.ndarray
        ``(parameters, 2, conditions)``.
    """

    id: str | None
    evidence: Mapping[str, str]
    parameters: tuple[ParameterRange, ...]
    conditions: tuple[str, ...]
    posterior: np.ndarray
    evidence_at: np.ndarray
    joint_at: np.ndarray

    def coefficients(self) -> np.ndarray:
        """Return ``(a, b, c, d)`` of every function, shape ``(parameters, conditions, 4)``.

        P(condition | e) = (a theta + b) / (c theta + d), scaled so that
        ``c * p + d = 1`` at the hand-set value ``p``.
        """
        zero, one = self.joint_at[:, 0], self.joint_at[:, 1]
        e_zero, e_one = self.evidence_at[:, :1], self.evidence_at[:, 1:]
        shape = zero.shape
        return np.stack(
            [
                one - zero,
                zero,
                np.broadcast_to(e_one - e_zero, shape),
                np.broadcast_to(e_zero, shape),
            ],
            axis=-1,
        )

    def index(self, parameter: str) -> int:
        """Return the position of the number named ``node.field``."""
        for i, r in enumerate(self.parameters):
            if r.name == parameter:
                return i
        raise UnknownNodeError(parameter, [r.name for r in self.parameters], what="number")

    def posterior_at(self, parameter: int | str, value: float | np.ndarray) -> np.ndarray:
        """Return every condition's posterior with one number at ``value``.

        Parameters
        ----------
        parameter : int or str
            The number's position, or its name ``node.field``.
        value : float or numpy.ndarray
            Values in [0, 1].

        Returns
        -------
        numpy.ndarray
            ``(conditions,)``, or ``(values, conditions)`` for an array.

        Raises
        ------
        InvalidArgumentError
            If a value is outside [0, 1].
        ImpossibleEvidenceError
            If the evidence has probability zero at a value.
        """
        i = self.index(parameter) if isinstance(parameter, str) else parameter
        theta = np.asarray(value, dtype=float)
        if not np.all((theta >= 0.0) & (theta <= 1.0)):
            raise InvalidArgumentError(f"values must be in [0, 1], got {value!r}")
        t = theta[..., None]
        evidence = self.evidence_at[i, 0] * (1.0 - t) + self.evidence_at[i, 1] * t
        if not np.all(evidence > 0.0):
            bad = float(np.ravel(theta)[np.flatnonzero(np.ravel(evidence) <= 0.0)[0]])
            raise ImpossibleEvidenceError(
                f"the evidence has probability zero with {self.parameters[i].name} at {bad:g}"
            )
        joint = self.joint_at[i, 0] * (1.0 - t) + self.joint_at[i, 1] * t
        result: np.ndarray = joint / evidence
        return result


@dataclass(frozen=True)
class AdmissibleDeviation:
    """Where one number may go while the top cause stays first.

    The top cause is first (ties at the ends) for the number anywhere in
    ``[lower, upper]``, a part of [0, 1]; beyond ``lower`` (if above 0)
    ``lower_taker`` takes over, beyond ``upper`` (if below 1)
    ``upper_taker``.  ``flips_low`` and ``flips_high`` say whether the
    number's plausible range reaches beyond ``lower`` or ``upper``.
    """

    parameter: ParameterRange
    top: str
    lower: float
    upper: float
    lower_taker: str | None
    upper_taker: str | None

    @property
    def flips_low(self) -> bool:
        """Whether the low end of the plausible range puts another cause first."""
        return self.lower_taker is not None and self.parameter.low < self.lower

    @property
    def flips_high(self) -> bool:
        """Whether the high end of the plausible range puts another cause first."""
        return self.upper_taker is not None and self.parameter.high > self.upper

    @property
    def flips(self) -> bool:
        """Whether some value in the plausible range puts another cause first."""
        return self.flips_low or self.flips_high

    def to_dict(self) -> dict[str, Any]:
        """Return the deviation as a JSON-serialisable dict."""
        return {
            "name": self.parameter.name,
            "p": self.parameter.p,
            "low": self.parameter.low,
            "high": self.parameter.high,
            "top": self.top,
            "lower": self.lower,
            "upper": self.upper,
            "lower_taker": self.lower_taker,
            "upper_taker": self.upper_taker,
            "flips_low": self.flips_low,
            "flips_high": self.flips_high,
        }


def one_way(
    spec: ModelSpec,
    evidence: Sequence[Mapping[str, str]],
    ids: Sequence[str | None] | None = None,
) -> tuple[OneWay, ...]:
    """Return every case's sensitivity functions, from one batched propagation.

    Parameters
    ----------
    spec : ModelSpec
        The model file (``model.spec``).
    evidence : sequence of mapping
        Each case's normalised evidence (node id to ``"present"`` or
        ``"absent"``, as :func:`bayesleg.knowledge.evidence.normalise_evidence`
        gives it).
    ids : sequence of str or None, optional
        The cases' ids.

    Returns
    -------
    tuple of OneWay
        One per case, in order.

    Raises
    ------
    ImpossibleEvidenceError
        If a case's evidence has probability zero at the hand-set numbers.

    Examples
    --------
    >>> import bayesleg
    >>> model = bayesleg.load()
    >>> functions = one_way(model.spec, [{"diabetes": "present", "starts_in_feet": "present"}])[0]
    >>> top = functions.conditions.index("peripheral_neuropathy")
    >>> round(float(functions.posterior[top]), 4)
    0.901
    >>> round(float(functions.posterior_at("peripheral_neuropathy.leak", 0.2)[top]), 4)
    0.9439
    """
    ranges = parameter_ranges(spec)
    nominal = np.array([r.p for r in ranges])
    # Numbers of nodes no case reaches (unobserved symptoms) move nothing.
    reached = set().union(*(kept_nodes(spec, set(case)) for case in evidence))
    moving = [i for i, r in enumerate(ranges) if r.node in reached]
    values = np.repeat(nominal[None], 1 + 2 * len(moving), axis=0)
    for row, i in enumerate(moving):
        values[1 + 2 * row, i] = 0.0
        values[2 + 2 * row, i] = 1.0
    log_evidence, posteriors = evaluate(spec, evidence, values)
    conditions = tuple(node.id for node in spec.nodes if node.kind == "condition")
    results = []
    for case, observed in enumerate(evidence):
        base = log_evidence[0, case]
        if not np.isfinite(base):
            raise ImpossibleEvidenceError(
                f"the evidence of case {case} has probability zero under the model"
            )
        evidence_at = np.ones((len(ranges), 2))
        joint_at = np.broadcast_to(posteriors[0, case], (len(ranges), 2, len(conditions))).copy()
        ratio = np.exp(log_evidence[1:, case] - base).reshape(-1, 2)
        evidence_at[moving] = ratio
        joint_at[moving] = ratio[:, :, None] * posteriors[1:, case].reshape(-1, 2, len(conditions))
        results.append(
            OneWay(
                id=None if ids is None else ids[case],
                evidence=dict(observed),
                parameters=ranges,
                conditions=conditions,
                posterior=posteriors[0, case].copy(),
                evidence_at=evidence_at,
                joint_at=joint_at,
            )
        )
    return tuple(results)


def top_index(posterior: np.ndarray, conditions: Sequence[str]) -> int:
    """Return the first cause: highest posterior to 12 decimals, ties by id."""
    rounded = np.round(posterior, _DECIMALS)
    return min(range(len(conditions)), key=lambda i: (-rounded[i], conditions[i]))


def admissible_deviations(functions: OneWay) -> tuple[AdmissibleDeviation, ...]:
    """Return, for every number, the interval over which the case's top cause stays first.

    Parameters
    ----------
    functions : OneWay
        One case's sensitivity functions (from :func:`one_way`).

    Returns
    -------
    tuple of AdmissibleDeviation
        One per number, in :func:`parameter_ranges` order.

    Examples
    --------
    >>> import bayesleg
    >>> functions = one_way(bayesleg.load().spec, [{"diabetes": "present"}])[0]
    >>> deviation = admissible_deviations(functions)[functions.index("peripheral_neuropathy.leak")]
    >>> deviation.top, round(deviation.lower, 4), deviation.lower_taker
    ('peripheral_neuropathy', 0.0, None)
    """
    conditions = functions.conditions
    k = top_index(functions.posterior, conditions)
    # The numerators P(k, e) - P(j, e) at 0 and at 1: (parameters, conditions).
    at_zero = functions.joint_at[:, 0, k : k + 1] - functions.joint_at[:, 0]
    at_one = functions.joint_at[:, 1, k : k + 1] - functions.joint_at[:, 1]
    deviations = []
    for i, parameter in enumerate(functions.parameters):
        lower, upper = 0.0, 1.0
        lower_taker: str | None = None
        upper_taker: str | None = None
        p = parameter.p
        lower_slope = upper_slope = 0.0
        for j, condition in enumerate(conditions):
            zero, one = float(at_zero[i, j]), float(at_one[i, j])
            if j == k or zero == one:
                continue  # the gap does not move with this number
            root = zero / (zero - one)
            slope = one - zero
            if slope < 0.0 and root < 1.0:  # the gap closes as the number rises
                bound = max(root, p)
                if (bound, slope) < (upper, upper_slope):
                    upper, upper_taker, upper_slope = bound, condition, slope
            elif slope > 0.0 and root > 0.0:  # the gap closes as the number falls
                bound = min(root, p)
                if (bound, slope) > (lower, lower_slope):
                    lower, lower_taker, lower_slope = bound, condition, slope
        deviations.append(
            AdmissibleDeviation(
                parameter, conditions[k], float(lower), float(upper), lower_taker, upper_taker
            )
        )
    return tuple(deviations)
