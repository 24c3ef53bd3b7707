"""The result of a diagnosis: a ranked differential with triage."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from bayesleg.knowledge.modelfile import STATES, Source
from bayesleg.reasoning.triage import Triage

__all__ = ["CauseAdvice", "CauseUncertainty", "Diagnosis", "RankedCause", "likelihood_ratio"]


def likelihood_ratio(posterior: float, prior: float) -> float:
    """Return posterior odds over prior odds.

    ``inf`` when the evidence makes a possible condition certain, ``0.0`` when
    it rules a possible condition out, and ``1.0`` when the prior is already
    0 or 1 (no evidence can move it).  Never NaN.

    Examples
    --------
    >>> likelihood_ratio(0.5, 0.2)
    4.0
    """
    if prior <= 0.0 or prior >= 1.0:
        return 1.0
    if posterior >= 1.0:
        return math.inf
    return (posterior / (1.0 - posterior)) / (prior / (1.0 - prior))


@dataclass(frozen=True)
class CauseUncertainty:
    """How a cause's posterior varies when the model's hand-set numbers are drawn at random.

    ``low`` and ``high`` are the 5th and 95th percentiles of the posterior
    over the draws; ``first_share`` is the fraction of draws in which the
    cause has the highest posterior (see :func:`bayesleg.research.uncertainty.with_uncertainty`).
    """

    low: float
    high: float
    first_share: float

    def to_dict(self) -> dict[str, float]:
        """Return the interval and share as a JSON-serialisable dict."""
        return {"low": self.low, "high": self.high, "first_share": self.first_share}


@dataclass(frozen=True, slots=True)
class RankedCause:
    """One condition of the differential.

    ``prior`` is P(condition | factor evidence only), ``posterior`` is
    P(condition | all evidence), and ``likelihood_ratio`` is posterior odds
    over prior odds: how much the findings beyond the factors moved it.
    ``score`` is what the diagnosis's ranking sorts by: the posterior for
    posterior ranking (and when left out), else the counterfactual score of
    :mod:`bayesleg.reasoning.counterfactual`.

    Its fields are slots, with no ``__dict__``: a batch of 5,000 diagnoses
    holds 100,000 of them once every cause is read.
    """

    id: str
    label: str
    posterior: float
    prior: float
    likelihood_ratio: float
    score: float | None = None
    uncertainty: CauseUncertainty | None = None

    def __post_init__(self) -> None:
        if self.score is None:
            object.__setattr__(self, "score", self.posterior)

    def to_dict(self) -> dict[str, Any]:
        """Return the cause as a JSON-serialisable dict (an infinite ratio is ``null``)."""
        ratio = self.likelihood_ratio if math.isfinite(self.likelihood_ratio) else None
        body: dict[str, Any] = {
            "id": self.id,
            "label": self.label,
            "posterior": self.posterior,
            "prior": self.prior,
            "likelihood_ratio": ratio,
            "score": self.score,
        }
        if self.uncertainty is not None:
            body["uncertainty"] = self.uncertainty.to_dict()
        return body


# The setters of RankedCause's slots, in field order: they fill a cause
# without the frozen class's checks, as its constructor does.
_CAUSE_SLOTS = tuple(
    RankedCause.__dict__[name].__set__
    for name in ("id", "label", "posterior", "prior", "likelihood_ratio", "score", "uncertainty")
)


class _Batch:
    """A batch's numbers, from which each of its diagnoses builds ``ranked`` (and
    ``evidence``, when the batch holds its codes) on first access.

    ``posteriors``, ``priors``, ``ratios`` and ``scores`` are ``(cases,
    conditions)`` arrays, ``order`` each case's ranking of the conditions;
    ``codes``, if given, the ``(cases, nodes)`` evidence (1 present, 0 absent,
    -1 unobserved) over ``node_ids``.
    """

    __slots__ = (
        "codes",
        "ids",
        "labels",
        "node_ids",
        "order",
        "posteriors",
        "priors",
        "ratios",
        "scores",
    )

    def __init__(
        self,
        ids: Sequence[str],
        labels: Sequence[str],
        posteriors: np.ndarray,
        priors: np.ndarray,
        ratios: np.ndarray,
        scores: np.ndarray,
        order: np.ndarray,
        codes: np.ndarray | None = None,
        node_ids: Sequence[str] = (),
    ) -> None:
        self.ids = ids
        self.labels = labels
        self.posteriors = posteriors
        self.priors = priors
        self.ratios = ratios
        self.scores = scores
        self.order = order
        self.codes = codes
        self.node_ids = node_ids

    def build(self, name: str, index: int) -> Any:
        """Case ``index``'s field ``name``, ``"ranked"`` or ``"evidence"``."""
        return self.ranked(index) if name == "ranked" else self.evidence(index)

    def ranked(self, index: int) -> tuple[RankedCause, ...]:
        """Case ``index``'s causes: equal to (and pickled and shown as) those the
        constructor gives, built without its per-field checks of the frozen
        dataclass."""
        ids, labels = self.ids, self.labels
        posteriors = self.posteriors[index].tolist()
        priors = self.priors[index].tolist()
        ratios = self.ratios[index].tolist()
        scores = posteriors if self.scores is self.posteriors else self.scores[index].tolist()
        new = object.__new__
        set_id, set_label, set_posterior, set_prior, set_ratio, set_score, set_uncertainty = (
            _CAUSE_SLOTS
        )
        causes = []
        for k in self.order[index].tolist():
            cause = new(RankedCause)
            set_id(cause, ids[k])
            set_label(cause, labels[k])
            set_posterior(cause, posteriors[k])
            set_prior(cause, priors[k])
            set_ratio(cause, ratios[k])
            set_score(cause, scores[k])
            set_uncertainty(cause, None)
            causes.append(cause)
        return tuple(causes)

    def evidence(self, index: int) -> Mapping[str, str]:
        """Case ``index``'s normalised evidence, read-only, nodes in model order."""
        assert self.codes is not None
        node_ids = self.node_ids
        return MappingProxyType(
            {
                node_ids[j]: STATES[code]
                for j, code in enumerate(self.codes[index].tolist())
                if code >= 0
            }
        )


# The fields a diagnosis of a batch may build when first read.
_PENDING = ("ranked", "evidence")


def _pending_state(batch: _Batch, **fields: Any) -> dict[str, Any]:
    """The state that a batch's diagnoses share: ``fields``, and what builds the rest.

    A diagnosis of the batch is ``object.__new__(Diagnosis)`` whose
    ``__dict__`` is this state with its own ``triage`` and ``advice``, its
    ``evidence`` unless the batch holds its codes, and ``_index``, its case's
    index in ``batch``.  It is equal to, and pickled, copied and shown as, the
    diagnosis the constructor gives with ``ranked`` and ``evidence`` built:
    only the time they are built differs.
    """
    state = dict(fields)
    state.setdefault("uncertainty", None)
    state["_batch"] = batch
    return state


@dataclass(frozen=True)
class CauseAdvice:
    """What the texts recommend for one condition, with the passage it rests on."""

    condition: str
    label: str
    care: str
    text: str
    source: Source

    def to_dict(self) -> dict[str, Any]:
        """Return the advice as a JSON-serialisable dict."""
        return {
            "condition": self.condition,
            "label": self.label,
            "care": self.care,
            "text": self.text,
            "source": {"file": self.source.file, "quote": self.source.quote},
        }


# The state key naming the fields that were read-only mappings (see Diagnosis.__getstate__).
_READ_ONLY = "_read_only"


@dataclass(frozen=True)
class Diagnosis:
    """A ranked differential, its triage and the evidence it came from.

    ``ranking`` names the order of ``ranked`` (``"posterior"``,
    ``"expected_disablement"`` or ``"expected_sufficiency"``).  ``advice``
    holds the model file's advice for the first three causes of the ranking
    and for every further condition that raised the triage level, in that
    order.  ``uncertainty`` is set when the causes carry posterior intervals
    over random draws of the model's numbers: the draws' count and seed.
    """

    ranked: tuple[RankedCause, ...]
    triage: Triage
    evidence: Mapping[str, str]
    model_id: str
    model_version: str
    ranking: str = "posterior"
    advice: tuple[CauseAdvice, ...] = ()
    uncertainty: Mapping[str, Any] | None = None

    @property
    def top(self) -> RankedCause:
        """The most probable cause."""
        return self.ranked[0]

    def __getattr__(self, name: str) -> Any:
        # Only reached when ``ranked`` or ``evidence`` is not built yet (see
        # _pending_state): build it once and keep it, as if the
        # constructor had been given it.
        if name in _PENDING:
            state = self.__dict__
            batch, index = state.get("_batch"), state.get("_index")
            if batch is not None and index is not None and name not in state:
                # Two threads may both build it: equal values, the first one kept.
                state.setdefault(name, batch.build(name, index))
                if all(field in state for field in _PENDING):
                    state.pop("_batch", None)
                    state.pop("_index", None)
            if name in state:
                return state[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getstate__(self) -> dict[str, Any]:
        for name in _PENDING:  # built, so that the state holds them
            getattr(self, name)
        state = dict(self.__dict__)
        state.pop("_batch", None)
        state.pop("_index", None)
        # A read-only mapping cannot be pickled: a plain dict in the state,
        # read-only again when loaded (__setstate__).
        proxies = tuple(k for k, v in state.items() if isinstance(v, MappingProxyType))
        for key in proxies:
            state[key] = dict(state[key])
        if proxies:
            state[_READ_ONLY] = proxies
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        for key in state.pop(_READ_ONLY, ()):
            state[key] = MappingProxyType(state[key])
        self.__dict__.update(state)  # frozen: the fields are set as the constructor sets them

    def __repr__(self) -> str:
        from bayesleg.reasoning.display import diagnosis_text

        return diagnosis_text(self)

    def _repr_html_(self) -> str:
        """Show the differential, triage and advice in a notebook."""
        from bayesleg.reasoning.display import diagnosis_html

        return diagnosis_html(self)

    def plot(self, ax: Any = None, *, top: int | None = None) -> Any:
        """Draw the differential as horizontal bars of prior and posterior.

        Needs matplotlib (``pip install 'bayesleg[plot]'``); see
        :func:`bayesleg.research.plots.plot_diagnosis`.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; by default a new figure (``ax.figure``).
        top : int, optional
            Draw only the first ``top`` causes.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from bayesleg.research.plots import plot_diagnosis

        return plot_diagnosis(self, ax, top=top)

    def to_fhir(
        self,
        *,
        subject: Mapping[str, Any] | None = None,
        basis: Sequence[Mapping[str, Any]] = (),
        conditions: int = 0,
    ) -> dict[str, Any]:
        """Return the diagnosis as a FHIR R4 ``RiskAssessment`` (JSON), or a Bundle.

        One ``prediction`` per condition (``probabilityDecimal`` the
        posterior, ``relativeRisk`` the likelihood ratio), the triage level
        and the advice with its sources; see
        :func:`bayesleg.fhir.riskassessment.risk_assessment`, which it calls.

        Parameters
        ----------
        subject : dict, optional
            The ``Reference`` to the patient.
        basis : sequence of dict, optional
            ``Reference``s to the observations the evidence came from.
        conditions : int, default 0
            With N > 0, a Bundle that adds a ``Condition`` marked
            ``differential`` for each of the first N causes.

        Returns
        -------
        dict
        """
        from bayesleg.fhir.riskassessment import risk_assessment

        return risk_assessment(self, subject=subject, basis=basis, conditions=conditions)

    def to_dict(self) -> dict[str, Any]:
        """Return the diagnosis as a JSON-serialisable dict.

        Keys: ``ranked`` (list of causes), ``triage`` (``level``,
        ``reasons``), ``evidence`` (id to state), ``model`` (``id``,
        ``version``), ``ranking`` and ``advice`` (list of ``condition``,
        ``label``, ``care``, ``text``, ``source`` with ``file`` and ``quote``);
        with uncertainty, also ``uncertainty`` (``samples``, ``seed``,
        ``percentiles``) and each cause's ``uncertainty``.
        """
        body = {
            "ranked": [cause.to_dict() for cause in self.ranked],
            "triage": self.triage.to_dict(),
            "evidence": dict(self.evidence),
            "model": {"id": self.model_id, "version": self.model_version},
            "ranking": self.ranking,
            "advice": [advice.to_dict() for advice in self.advice],
        }
        if self.uncertainty is not None:
            body["uncertainty"] = dict(self.uncertainty)
        return body
