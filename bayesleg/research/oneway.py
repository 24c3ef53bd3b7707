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
it, and :func:`one_way` takes those at 0 and at 1::

    P(e)(theta)            = P(e | theta = 0) (1 - theta) + P(e | theta = 1) theta
    P(condition, e)(theta) = likewise

a convex combination of non-negative values on [0, 1], free of
cancellation.  Both come from one propagation per case at the hand-set
numbers (Darwiche's differential approach): P(e) is linear in the entries of
the one table ``T`` a number enters, so with ``T`` moved to ``T'``, ``P'(e) /
P(e)`` is the sum over its entries of ``P(x, u | e) T'(x | u) / T(x | u)``,
the family posteriors read from the clique beliefs; P(condition, e) comes
likewise from the case with the condition also observed.  A number at 0 or 1
(an entry zero at the hand-set value that moves) is solved from two
propagations instead.  All values are kept relative to P(e) at the hand-set
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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from bayesleg.errors import ImpossibleEvidenceError, InvalidArgumentError, UnknownNodeError
from bayesleg.knowledge.modelfile import STATES, ModelSpec
from bayesleg.research._parametric import (
    _WORK,
    ParametricNetwork,
    evaluate,
    parametric_network,
    structure,
)
from bayesleg.research._ranges import ParameterRange, parameter_ranges

__all__ = ["AdmissibleDeviation", "OneWay", "admissible_deviations", "one_way"]

# Posteriors equal to this many decimals are tied; ties go by condition id
# (as in the diagnosis's ranking).
_DECIMALS = 12
# A crossing this close to 0 or 1 is rounding where both posteriors' P(e) vanishes there.
_EDGE = 1e-12


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
    conditions = tuple(node.id for node in spec.nodes if node.kind == "condition")
    n_numbers, n_conditions = len(ranges), len(conditions)
    # Relative to P(e) at the hand-set numbers, at 0 and at 1: P(e) per case and
    # number, P(condition, e) per case, number and condition.
    evidence_at = np.ones((len(evidence), n_numbers, 2))
    joint_at = np.empty((len(evidence), n_numbers, 2, n_conditions))
    posterior = np.empty((len(evidence), n_conditions))
    groups: dict[tuple[frozenset[str], frozenset[str]], list[int]] = {}
    for case, observed in enumerate(evidence):
        groups.setdefault(structure(spec, observed), []).append(case)
    for (kept, absent), cases in groups.items():
        network = parametric_network(spec, kept, absent)
        # Each case, and each case with each condition also observed present.
        per_chunk = max(1, _WORK // (network.entries * (1 + n_conditions)))
        for first in range(0, len(cases), per_chunk):
            part = cases[first : first + per_chunk]
            logs, marginals, families = _families(network, [evidence[c] for c in part], conditions)
            for row, case in enumerate(part):
                if not np.isfinite(logs[row, 0]):
                    impossible = ImpossibleEvidenceError(
                        f"the evidence of case {case} has probability zero under the model"
                    )
                    impossible.case = int(case)
                    raise impossible
            posterior[part] = marginals[:, 0]
            ratios, boundary = _ratios(network, ranges, nominal, families)
            evidence_at[part] = ratios[:, :, :, 0]
            joint_at[part] = marginals[:, 0, None, None, :] * ratios[:, :, :, 1:]
            if boundary:
                _two_points(
                    spec,
                    [evidence[c] for c in part],
                    nominal,
                    boundary,
                    cases=part,
                    evidence_at=evidence_at,
                    joint_at=joint_at,
                )
    return tuple(
        OneWay(
            id=None if ids is None else ids[case],
            evidence=dict(observed),
            parameters=ranges,
            conditions=conditions,
            posterior=posterior[case],
            evidence_at=evidence_at[case],
            joint_at=joint_at[case],
        )
        for case, observed in enumerate(evidence)
    )


def _families(
    network: ParametricNetwork, evidence: Sequence[Mapping[str, str]], conditions: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Propagate each case and each case with each condition present, at the hand-set numbers.

    Returns log P(e) ``(cases, 1 + conditions)``, the posteriors ``(cases, 1 +
    conditions, conditions)`` and the family posteriors ``(cases, 1 +
    conditions, *CPT shape)`` per variable.
    """
    width = 1 + len(conditions)
    evidence = [network.evidence_of(case) for case in evidence]
    nodes = {node for case in evidence for node in case} | set(conditions)
    present = STATES.index("present")
    likelihoods = {}
    for node in nodes:
        table = np.ones((len(evidence), width, len(STATES)))
        for row, case in enumerate(evidence):
            if node in case:
                table[row, :, :] = 0.0
                table[row, :, STATES.index(case[node])] = 1.0
        if node in conditions:
            column = 1 + conditions.index(node)
            table[:, column, 1 - present] = 0.0  # observed present too
        likelihoods[node] = table.reshape(-1, len(STATES))
    nominal = network.nominal
    logs, marginals, families = network.family_posteriors(nominal, likelihoods)
    shape = (len(evidence), width)
    return (
        logs.reshape(shape),
        marginals.reshape(*shape, -1),
        [f.reshape(*shape, *f.shape[1:]) for f in families],
    )


def _ratios(
    network: ParametricNetwork,
    ranges: Sequence[ParameterRange],
    nominal: np.ndarray,
    families: list[np.ndarray],
) -> tuple[np.ndarray, list[int]]:
    """Return P(.)(theta) / P(.)(p) at theta = 0 and 1 for every number, from one propagation.

    P(e) is linear in the entries of the one table ``T`` a number enters, so
    with ``T`` moved to ``T'``, ``P'(e) / P(e)`` is the sum over the table's
    entries of ``P(family configuration | e) * T' / T`` (Darwiche's
    differential approach) -- a sum of non-negative terms, free of
    cancellation.  Shape ``(cases, numbers, 2, 1 + conditions)``: P(e), then
    P(condition, e) for each condition.  The second result lists the numbers
    for which that fails -- an entry that is zero at the hand-set value but
    not when moved -- to be solved from two propagations instead.
    """
    cases, width = families[0].shape[:2]
    ratios = np.ones((cases, len(ranges), 2, width))
    plan, boundary = _factors(network, _NominalKey(nominal))
    for v, numbers, factors in plan:
        family = families[v].reshape(cases * width, -1)
        summed = family @ factors  # (cases * width, numbers * 2)
        ratios[:, numbers] = summed.reshape(cases, width, len(numbers), 2).transpose(0, 2, 3, 1)
    return ratios, list(boundary)


class _NominalKey:
    """The hand-set numbers as a cache key (by value)."""

    def __init__(self, nominal: np.ndarray) -> None:
        self.nominal = nominal
        self._bytes = nominal.tobytes()

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _NominalKey) and other._bytes == self._bytes


@lru_cache(maxsize=64)
def _factors(
    network: ParametricNetwork, key: _NominalKey
) -> tuple[tuple[tuple[int, list[int], np.ndarray], ...], tuple[int, ...]]:
    """For each variable, the numbers its table holds and ``T' / T`` at 0 and 1 of each.

    Returns ``(variable, numbers, factors (entries, numbers * 2))`` per
    variable whose table moves, and the numbers at the edge (see
    :func:`_ratios`); computed once per network.
    """
    nominal = key.nominal
    plan = []
    boundary: list[int] = []
    for node, (first, count) in network.numbers.items():
        if node not in network.variables_of:
            continue
        rows = np.repeat(nominal[None], 1 + 2 * count, axis=0)
        for k in range(count):
            rows[1 + 2 * k, first + k] = 0.0
            rows[2 + 2 * k, first + k] = 1.0
        for v, tables in zip(
            network.variables_of[node], network.tables_of(node, rows), strict=True
        ):
            base = tables[:1]
            moved = tables[1:].reshape(count, 2, *base.shape[1:])
            axes = tuple(range(1, moved.ndim))
            changes = np.flatnonzero(np.any(moved != base[:, None], axis=axes))
            if not len(changes):
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                factors = np.where(base[:, None] > 0.0, moved / base[:, None], 0.0)
            stuck = np.any((moved > 0.0) & (base[:, None] <= 0.0), axis=axes)
            boundary.extend(first + int(k) for k in np.flatnonzero(stuck))
            chosen = factors[changes].reshape(len(changes) * 2, -1).T.copy()
            plan.append((v, [first + int(k) for k in changes], chosen))
        boundary.extend(first + k for k in range(count) if nominal[first + k] in (0.0, 1.0))
    return tuple(plan), tuple(sorted(set(boundary)))


def _two_points(
    spec: ModelSpec,
    evidence: Sequence[Mapping[str, str]],
    nominal: np.ndarray,
    numbers: Sequence[int],
    *,
    cases: Sequence[int],
    evidence_at: np.ndarray,
    joint_at: np.ndarray,
) -> None:
    """Solve the numbers at the edge of [0, 1] from propagations at 0 and at 1."""
    values = np.repeat(nominal[None], 1 + 2 * len(numbers), axis=0)
    for row, i in enumerate(numbers):
        values[1 + 2 * row, i] = 0.0
        values[2 + 2 * row, i] = 1.0
    logs, posteriors = evaluate(spec, evidence, values)
    ratio = np.exp(logs[1:] - logs[0]).reshape(len(numbers), 2, len(evidence))
    joint = ratio[:, :, :, None] * posteriors[1:].reshape(len(numbers), 2, len(evidence), -1)
    for row, case in enumerate(cases):
        evidence_at[case, numbers] = ratio[:, :, row]
        joint_at[case, numbers] = joint[:, :, row]


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
    slope = at_one - at_zero
    with np.errstate(divide="ignore", invalid="ignore"):
        root = at_zero / (at_zero - at_one)
    p = np.array([r.p for r in functions.parameters])[:, None]
    others = np.arange(len(conditions)) != k
    # The gap closes as the number rises (an upper bound), or as it falls (a lower one).
    rising = others & (slope < 0.0) & (root < 1.0 - _EDGE)
    falling = others & (slope > 0.0) & (root > _EDGE)
    upper = np.where(rising, np.maximum(root, p), np.inf)
    lower = np.where(falling, np.minimum(root, p), -np.inf)
    # The nearest crossing; at a tie, the steepest closes first.
    upper_taker = np.lexsort((slope, upper), axis=-1)[:, 0]
    lower_taker = np.lexsort((-slope, -lower), axis=-1)[:, 0]
    rows = np.arange(len(p))
    top = conditions[k]
    return tuple(
        AdmissibleDeviation(
            parameter,
            top,
            max(down, 0.0),
            min(up, 1.0),
            conditions[below] if down != -math.inf else None,
            conditions[above] if up != math.inf else None,
        )
        for parameter, down, up, below, above in zip(
            functions.parameters,
            lower[rows, lower_taker].tolist(),
            upper[rows, upper_taker].tolist(),
            lower_taker.tolist(),
            upper_taker.tolist(),
            strict=True,
        )
    )
