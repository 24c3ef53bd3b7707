"""Score a model on clinical vignettes: accuracy, triage safety and calibration.

A vignette file (``data/vignettes.jsonl``) holds one JSON object a line:

==============  ========  ===================================================
field           required  meaning
==============  ========  ===================================================
``id``          yes       a unique name
``evidence``    yes       node id to true/false ("present"/"absent",
                          "yes"/"no" also read)
``top1``        no        acceptable first causes (condition ids; one id
                          alone stands for a list of one)
``top3``        no        causes that must all be in the first three (<= 3;
                          one id alone, as for ``top1``)
``triage``      no        the gold level: ``self_care``, ``see_doctor``,
                          ``urgent``, or null
``conditions``  no        condition id to 0/1: which conditions the case
                          truly has, for the Brier score and log loss
``text``        no        the case in plain words
``source``      no        the passage it was written from
==============  ========  ===================================================

Blank lines are skipped; any other fault raises :class:`VignetteFileError`
naming the file, the line and the field.

Metrics
-------
For each ranking method (the ``ranking`` of :meth:`Model.diagnose
<bayesleg.model.Model.diagnose>`: ``posterior``, ``expected_disablement``,
``expected_sufficiency``):

* **top-1**: the first cause is one of ``top1``;
* **top-3**: every cause in ``top3`` is among the first three;
* **top-k** (k = 1 .. number of conditions): the best-ranked cause of
  ``top1`` is among the first k (at k = 1 this is top-1);
* **mean rank** of the best-ranked cause of ``top1``.

A case without ``top1`` (or ``top3``) does not count toward that metric.
Triage, which does not depend on the ranking:

* **exact-triage rate**: the level equals the gold level;
* **under-triage rate**: the level is below the gold level (unsafe);
* **over-triage rate**: the level is above the gold level (safe, but it
  sends to a clinician someone the texts would let manage it themselves);
* **safe-triage rate**: the level is at or above the gold level (one minus
  the under-triage rate);
* **under-triaged** and **over-triaged**: the ids of those cases.

The three rates exact, under and over add up to one.

Calibration of the posteriors, over every (case, condition) pair that a
case's ``conditions`` gives:

* **Brier score**: the mean of ``(p - y)**2``;
* **log loss**: the mean of ``-(y log p + (1 - y) log(1 - p))``, with ``p``
  clipped to ``[1e-15, 1 - 1e-15]`` so a confident miss costs a large but
  finite amount.

A rate with nothing to count is ``None``, never NaN.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from bayesleg.errors import (
    ImpossibleEvidenceError,
    InvalidArgumentError,
    InvalidStateError,
    UnknownNodeError,
    VignetteFileError,
    quoted,
)
from bayesleg.knowledge._files import read_limited
from bayesleg.knowledge._json import JsonError
from bayesleg.knowledge._json import loads as strict_json
from bayesleg.knowledge.evidence import EVIDENCE_VALUES, normalise_evidence
from bayesleg.knowledge.modelfile import CARE_LEVELS
from bayesleg.reasoning.counterfactual import check_ranking
from bayesleg.reasoning.diagnosis import Diagnosis

if TYPE_CHECKING:
    import pandas

    from bayesleg.model import Model

__all__ = [
    "CaseResult",
    "Evaluation",
    "RankingScores",
    "Vignette",
    "VignetteFileError",
    "evaluate",
    "read_vignettes",
]

_FIELDS = ("id", "text", "source", "evidence", "top1", "top3", "triage", "conditions")
_CLIP = 1e-15


@dataclass(frozen=True)
class Vignette:
    """One test case: evidence and the answers a good model should give.

    ``where`` locates it for error messages (``"FILE: line N"``, or
    ``"case N"`` for vignettes given in a list).
    """

    id: str
    evidence: Mapping[str, Any]
    top1: tuple[str, ...] = ()
    top3: tuple[str, ...] = ()
    triage: str | None = None
    conditions: Mapping[str, int] | None = None
    text: str | None = None
    source: str | None = None
    where: str = ""


def read_vignettes(path: str | Path) -> tuple[Vignette, ...]:
    """Read and check a vignette file (JSON lines).

    Parameters
    ----------
    path : str or pathlib.Path
        The file, in the format of the module docstring.

    Returns
    -------
    tuple of Vignette
        In file order.

    Raises
    ------
    VignetteFileError
        If the file cannot be read, a line is not a JSON object or gives a key
        twice, a field is missing, unknown or of the wrong type, or an id repeats.
    """
    path = Path(path)
    try:
        # Lines end at "\n" alone (JSON lines): U+2028 and the like may sit in a string.
        lines = read_limited(path).decode("utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise VignetteFileError(str(path), f"cannot read the file: {reason or error}") from error
    vignettes = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            record = strict_json(line)
        except json.JSONDecodeError as error:
            raise VignetteFileError(where, f"not valid JSON: {error.msg}") from None
        except JsonError as error:
            if error.key is not None:
                reason = f"the key {error.key!r} appears twice in one object; give it once"
            else:
                reason = f"not valid JSON: {'it ' if error.predicate else ''}{error}"
            raise VignetteFileError(where, reason) from None
        vignettes.append(_vignette(record, where))
    _check_unique(vignettes)
    return tuple(vignettes)


def _check_unique(vignettes: Sequence[Vignette]) -> None:
    seen: dict[str, str] = {}
    for vignette in vignettes:
        if vignette.id in seen:
            raise VignetteFileError(
                vignette.where,
                f"duplicate id {vignette.id!r} (first at {seen[vignette.id]})",
                field="id",
            )
        seen[vignette.id] = vignette.where


def _vignette(record: Any, where: str) -> Vignette:
    """Check one record's shape and types (not yet its ids against a model)."""
    if not isinstance(record, Mapping):
        raise VignetteFileError(where, f"expected a JSON object, got {_json_kind(record)}")
    for key in record:
        if key not in _FIELDS:
            raise VignetteFileError(
                where, f"unknown field; expected one of {list(_FIELDS)}", field=key
            )
    if "id" not in record:
        raise VignetteFileError(where, "missing", field="id")
    if not isinstance(record["id"], str) or not record["id"].strip():
        raise VignetteFileError(
            where, f"expected a non-empty string, got {record['id']!r}", field="id"
        )
    for key in ("text", "source"):
        if key in record and not isinstance(record[key], str):
            raise VignetteFileError(
                where, f"expected a string, got {_json_kind(record[key])}", field=key
            )
    if "evidence" not in record:
        raise VignetteFileError(where, "missing", field="evidence")
    evidence = record["evidence"]
    if not isinstance(evidence, Mapping):
        raise VignetteFileError(
            where,
            f"expected an object of node id to true/false, got {_json_kind(evidence)}",
            field="evidence",
        )
    for node, value in evidence.items():
        if not (
            isinstance(value, bool) or (isinstance(value, str) and value.lower() in EVIDENCE_VALUES)
        ):
            raise VignetteFileError(
                where,
                f"invalid value {value!r} for {node!r}; expected true, false, "
                "'present', 'absent', 'yes' or 'no'",
                field=f"evidence.{node}",
            )
    answers = {}
    for key in ("top1", "top3"):
        ids = record.get(key, [])
        if isinstance(ids, str):  # one id alone: a list of one
            ids = [ids]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise VignetteFileError(
                where,
                f"expected a condition id or a list of condition ids, got {ids!r}",
                field=key,
            )
        if len(set(ids)) != len(ids):
            raise VignetteFileError(where, f"a condition is listed twice: {ids!r}", field=key)
        answers[key] = tuple(ids)
    if len(answers["top3"]) > 3:
        raise VignetteFileError(
            where,
            f"at most three causes can all be in the first three, got {len(answers['top3'])}",
            field="top3",
        )
    triage = record.get("triage")
    if triage is not None and triage not in CARE_LEVELS:
        raise VignetteFileError(
            where,
            f"unknown level {triage!r}; expected one of {list(CARE_LEVELS)} or null",
            field="triage",
        )
    conditions = record.get("conditions")
    if conditions is not None:
        if not isinstance(conditions, Mapping):
            raise VignetteFileError(
                where,
                f"expected an object of condition id to 0/1, got {_json_kind(conditions)}",
                field="conditions",
            )
        for condition, value in conditions.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or value not in (0, 1)
            ):
                raise VignetteFileError(
                    where, f"expected 0 or 1, got {value!r}", field=f"conditions.{condition}"
                )
        conditions = MappingProxyType({c: int(v) for c, v in conditions.items()})
    return Vignette(
        id=record["id"],
        evidence=MappingProxyType(dict(evidence)),
        top1=answers["top1"],
        top3=answers["top3"],
        triage=triage,
        conditions=conditions,
        text=record.get("text"),
        source=record.get("source"),
        where=where,
    )


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


@dataclass(frozen=True)
class RankingScores:
    """Accuracy of one ranking method.

    ``top1`` and ``top3`` are rates over the ``n_top1`` and ``n_top3`` cases
    that give ``top1`` and ``top3``; ``top_k[k - 1]`` is the top-k rate; all
    ``None`` when no case counts.
    """

    ranking: str
    n_top1: int
    top1: float | None
    n_top3: int
    top3: float | None
    top_k: tuple[float, ...]
    mean_rank: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the scores as a JSON-serialisable dict."""
        return {
            "ranking": self.ranking,
            "n_top1": self.n_top1,
            "top1": self.top1,
            "n_top3": self.n_top3,
            "top3": self.top3,
            "top_k": list(self.top_k),
            "mean_rank": self.mean_rank,
        }


@dataclass(frozen=True)
class CaseResult:
    """One vignette's outcome.

    ``ranked`` maps each ranking method to the full order of condition ids;
    ``top1_hit``, ``top3_hit`` and ``rank`` (of the best-ranked ``top1``
    cause, from 1) map each method to its result, ``None`` where the
    vignette gives no answer to check.  ``brier`` and ``log_loss`` are the
    case's means over its ``conditions``, or ``None``.
    """

    id: str
    gold_top1: tuple[str, ...]
    gold_top3: tuple[str, ...]
    gold_triage: str | None
    triage: str
    ranked: Mapping[str, tuple[str, ...]]
    top1_hit: Mapping[str, bool | None]
    top3_hit: Mapping[str, bool | None]
    rank: Mapping[str, int | None]
    brier: float | None
    log_loss: float | None

    @property
    def under_triaged(self) -> bool:
        """Whether the triage level is below the gold level."""
        return self.gold_triage is not None and _level(self.triage) < _level(self.gold_triage)

    @property
    def over_triaged(self) -> bool:
        """Whether the triage level is above the gold level."""
        return self.gold_triage is not None and _level(self.triage) > _level(self.gold_triage)

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as a JSON-serialisable dict (first three causes per method)."""
        return {
            "id": self.id,
            "gold": {
                "top1": list(self.gold_top1),
                "top3": list(self.gold_top3),
                "triage": self.gold_triage,
            },
            "triage": self.triage,
            "under_triaged": self.under_triaged,
            "over_triaged": self.over_triaged,
            "rankings": {
                ranking: {
                    "first_three": list(order[:3]),
                    "top1_hit": self.top1_hit[ranking],
                    "top3_hit": self.top3_hit[ranking],
                    "rank": self.rank[ranking],
                }
                for ranking, order in self.ranked.items()
            },
            "brier": self.brier,
            "log_loss": self.log_loss,
        }


@dataclass(frozen=True)
class Evaluation:
    """A model's scores on a set of vignettes.

    ``scores`` holds one :class:`RankingScores` per ranking method, in the
    order asked.  Triage rates count the ``n_triage`` cases with a gold
    level (``exact_triage + under_triage + over_triage`` is 1, and
    ``safe_triage`` is ``1 - under_triage``); ``brier`` and ``log_loss`` the
    ``n_indicators`` (case, condition) pairs given.
    """

    n_cases: int
    scores: tuple[RankingScores, ...]
    n_triage: int
    safe_triage: float | None
    exact_triage: float | None
    under_triage: float | None
    over_triage: float | None
    under_triaged: tuple[str, ...]
    over_triaged: tuple[str, ...]
    n_indicators: int
    brier: float | None
    log_loss: float | None
    cases: tuple[CaseResult, ...]
    model_id: str
    model_version: str

    def __repr__(self) -> str:
        from bayesleg.research.display import evaluation_text

        return evaluation_text(self)

    def _repr_html_(self) -> str:
        """Show the rates as bars and every case, misses shaded, in a notebook."""
        from bayesleg.research.display import evaluation_html

        return evaluation_html(self)

    def ranking(self, name: str) -> RankingScores:
        """Return the scores of one ranking method.

        Raises
        ------
        InvalidArgumentError
            If the evaluation did not use that method.
        """
        for scores in self.scores:
            if scores.ranking == name:
                return scores
        raise InvalidArgumentError(
            f"ranking {name!r} was not evaluated; evaluated: {[s.ranking for s in self.scores]}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the evaluation as a JSON-serialisable dict."""
        return {
            "model": {"id": self.model_id, "version": self.model_version},
            "n_cases": self.n_cases,
            "rankings": [scores.to_dict() for scores in self.scores],
            "triage": {
                "n": self.n_triage,
                "safe": self.safe_triage,
                "exact": self.exact_triage,
                "under": self.under_triage,
                "over": self.over_triage,
                "under_triaged": list(self.under_triaged),
                "over_triaged": list(self.over_triaged),
            },
            "calibration": {
                "n_indicators": self.n_indicators,
                "brier": self.brier,
                "log_loss": self.log_loss,
            },
            "cases": [case.to_dict() for case in self.cases],
        }

    def to_frame(self) -> pandas.DataFrame:
        """Return the per-case table: one row per vignette, indexed by id.

        Columns: ``gold_top1``, ``gold_triage``, ``triage``,
        ``under_triaged``, ``over_triaged``, then per ranking method ``R``: ``R.first``,
        ``R.top1``, ``R.top3``, ``R.rank``; then ``brier`` and ``log_loss``.
        """
        import pandas

        rows = []
        for case in self.cases:
            row: dict[str, Any] = {
                "id": case.id,
                "gold_top1": " | ".join(case.gold_top1),
                "gold_triage": case.gold_triage,
                "triage": case.triage,
                "under_triaged": case.under_triaged,
                "over_triaged": case.over_triaged,
            }
            for ranking, order in case.ranked.items():
                row[f"{ranking}.first"] = order[0]
                row[f"{ranking}.top1"] = case.top1_hit[ranking]
                row[f"{ranking}.top3"] = case.top3_hit[ranking]
                row[f"{ranking}.rank"] = case.rank[ranking]
            row["brier"] = case.brier
            row["log_loss"] = case.log_loss
            rows.append(row)
        return pandas.DataFrame(rows).set_index("id")


def evaluate(
    model: Model,
    cases: str | Path | Iterable[Vignette | Mapping[str, Any]],
    *,
    rankings: Sequence[str] = ("posterior",),
) -> Evaluation:
    """Score the model on vignettes.

    Parameters
    ----------
    model : Model
        The model to score.
    cases : path, or iterable of Vignette or mapping
        A vignette file, or vignettes (mappings are checked as lines of a
        file would be).
    rankings : sequence of str, default ("posterior",)
        The ranking methods to compare, side by side: any ``ranking`` of
        :meth:`Model.diagnose <bayesleg.model.Model.diagnose>`
        (``"posterior"``, ``"expected_disablement"``,
        ``"expected_sufficiency"``).

    Returns
    -------
    Evaluation
        The metrics of the module docstring and the per-case results.

    Raises
    ------
    VignetteFileError
        If there are no vignettes, or one is malformed or names a node or
        condition the model does not have (the message names the line and
        the field).
    InvalidArgumentError
        If no ranking method is given, or one the model does not offer.
    ImpossibleEvidenceError
        If a vignette's evidence has probability zero under the model.

    Examples
    --------
    >>> import bayesleg
    >>> case = {"id": "fasted-run", "evidence": {"long_session": True, "fasted": True,
    ...         "heaviness": True}, "top1": ["glycogen_depletion"], "triage": "self_care"}
    >>> result = evaluate(bayesleg.load(), [case])
    >>> result.ranking("posterior").top1, result.safe_triage
    (1.0, 1.0)
    """
    vignettes = _as_vignettes(cases)
    if not vignettes:
        raise VignetteFileError(
            str(cases) if isinstance(cases, str | Path) else "cases", "no vignettes"
        )
    rankings = _check_rankings(rankings)
    node_ids = [node.id for node in model.nodes]
    conditions = set(model.conditions)
    evidence = [_checked_evidence(vignette, node_ids, conditions) for vignette in vignettes]
    diagnoses = {ranking: _diagnose(model, vignettes, evidence, ranking) for ranking in rankings}

    results = []
    for index, vignette in enumerate(vignettes):
        by_ranking = {ranking: diagnoses[ranking][index] for ranking in rankings}
        results.append(_case_result(vignette, by_ranking))
    scores = tuple(_ranking_scores(ranking, results, len(conditions)) for ranking in rankings)

    graded = [case for case in results if case.gold_triage is not None]
    under = [case.id for case in graded if case.under_triaged]
    over = [case.id for case in graded if case.over_triaged]
    exact = [case for case in graded if case.triage == case.gold_triage]

    squared: list[float] = []
    losses: list[float] = []
    first = diagnoses[rankings[0]]
    for vignette, diagnosis in zip(vignettes, first, strict=True):
        posterior = {cause.id: cause.posterior for cause in diagnosis.ranked}
        for condition, truth in (vignette.conditions or {}).items():
            squared.append((posterior[condition] - truth) ** 2)
            losses.append(_log_loss(posterior[condition], truth))
    return Evaluation(
        n_cases=len(results),
        scores=scores,
        n_triage=len(graded),
        safe_triage=_rate(len(graded) - len(under), len(graded)),
        exact_triage=_rate(len(exact), len(graded)),
        under_triage=_rate(len(under), len(graded)),
        over_triage=_rate(len(over), len(graded)),
        under_triaged=tuple(under),
        over_triaged=tuple(over),
        n_indicators=len(squared),
        brier=_mean(squared),
        log_loss=_mean(losses),
        cases=tuple(results),
        model_id=model.id,
        model_version=model.version,
    )


def _record(vignette: Vignette) -> dict[str, Any]:
    """A vignette as the JSON object its line would hold, to check it as one."""
    record: dict[str, Any] = {
        "id": vignette.id,
        "evidence": vignette.evidence,
        "top1": list(vignette.top1) if isinstance(vignette.top1, tuple | list) else vignette.top1,
        "top3": list(vignette.top3) if isinstance(vignette.top3, tuple | list) else vignette.top3,
    }
    for key in ("triage", "conditions", "text", "source"):
        if getattr(vignette, key) is not None:
            record[key] = getattr(vignette, key)
    return record


def _as_vignettes(cases: Any) -> list[Vignette]:
    if isinstance(cases, str | Path):
        return list(read_vignettes(cases))
    if isinstance(cases, Mapping) or not isinstance(cases, Iterable):
        raise VignetteFileError(
            "cases", f"expected a file path or an iterable of vignettes, got {type(cases).__name__}"
        )
    vignettes = []
    for index, case in enumerate(cases):
        if isinstance(case, Vignette):
            # Checked as a mapping would be: a Vignette built by hand may hold anything.
            vignettes.append(_vignette(_record(case), case.where or f"case {index}"))
        else:
            vignettes.append(_vignette(case, f"case {index}"))
    _check_unique(vignettes)
    return vignettes


def _check_rankings(rankings: Sequence[str]) -> tuple[str, ...]:
    if isinstance(rankings, str):
        rankings = (rankings,)
    if not isinstance(rankings, Iterable) or isinstance(rankings, Mapping):
        raise InvalidArgumentError(
            f"rankings must be a ranking's name or an iterable of them, got {quoted(rankings)}"
        )
    rankings = tuple(check_ranking(ranking) for ranking in rankings)
    rankings = tuple(dict.fromkeys(rankings))
    if not rankings:
        raise InvalidArgumentError("no ranking method given")
    return rankings


def _diagnose(
    model: Model, vignettes: Sequence[Vignette], evidence: list[dict[str, str]], ranking: str
) -> tuple[Diagnosis, ...]:
    """Diagnose every vignette in one batch; name the vignette whose evidence is impossible."""
    try:
        return model.diagnose_many(evidence, ranking=ranking)
    except ImpossibleEvidenceError:
        for vignette, case in zip(vignettes, evidence, strict=True):
            try:
                model.diagnose_many([case], ranking=ranking)
            except ImpossibleEvidenceError as error:
                raise ImpossibleEvidenceError(
                    f"{vignette.where} (id {vignette.id!r}): the evidence has probability zero "
                    "under the model"
                ) from error
        raise


def _checked_evidence(
    vignette: Vignette, node_ids: list[str], conditions: set[str]
) -> dict[str, str]:
    """Return the vignette's evidence normalised, after checking its ids against the model."""
    try:
        evidence = normalise_evidence(vignette.evidence, node_ids)
    except UnknownNodeError as error:
        raise VignetteFileError(
            vignette.where, str(error), field=f"evidence.{error.node}"
        ) from None
    except InvalidStateError as error:
        raise VignetteFileError(vignette.where, str(error), field="evidence") from None
    named = [
        ("top1", vignette.top1),
        ("top3", vignette.top3),
        ("conditions", tuple(vignette.conditions or ())),
    ]
    for field, ids in named:
        for condition in ids:
            if condition not in conditions:
                unknown = UnknownNodeError(condition, sorted(conditions), what="condition")
                raise VignetteFileError(vignette.where, str(unknown), field=field)
    return evidence


def _case_result(vignette: Vignette, diagnoses: Mapping[str, Diagnosis]) -> CaseResult:
    ranked = {ranking: tuple(c.id for c in d.ranked) for ranking, d in diagnoses.items()}
    top1_hit: dict[str, bool | None] = {}
    top3_hit: dict[str, bool | None] = {}
    rank: dict[str, int | None] = {}
    for ranking, order in ranked.items():
        position = {condition: i + 1 for i, condition in enumerate(order)}
        top1_hit[ranking] = order[0] in vignette.top1 if vignette.top1 else None
        top3_hit[ranking] = set(vignette.top3) <= set(order[:3]) if vignette.top3 else None
        rank[ranking] = min(position[c] for c in vignette.top1) if vignette.top1 else None
    first = next(iter(diagnoses.values()))
    posterior = {cause.id: cause.posterior for cause in first.ranked}
    truths = vignette.conditions or {}
    squared = [(posterior[c] - y) ** 2 for c, y in truths.items()]
    losses = [_log_loss(posterior[c], y) for c, y in truths.items()]
    return CaseResult(
        id=vignette.id,
        gold_top1=vignette.top1,
        gold_top3=vignette.top3,
        gold_triage=vignette.triage,
        triage=first.triage.level,
        ranked=MappingProxyType(ranked),
        top1_hit=MappingProxyType(top1_hit),
        top3_hit=MappingProxyType(top3_hit),
        rank=MappingProxyType(rank),
        brier=_mean(squared),
        log_loss=_mean(losses),
    )


def _ranking_scores(
    ranking: str, results: Sequence[CaseResult], n_conditions: int
) -> RankingScores:
    top1 = [hit for case in results if (hit := case.top1_hit[ranking]) is not None]
    top3 = [hit for case in results if (hit := case.top3_hit[ranking]) is not None]
    ranks = [rank for case in results if (rank := case.rank[ranking]) is not None]
    top_k = (
        tuple(sum(r <= k for r in ranks) / len(ranks) for k in range(1, n_conditions + 1))
        if ranks
        else ()
    )
    return RankingScores(
        ranking=ranking,
        n_top1=len(top1),
        top1=_rate(sum(top1), len(top1)),
        n_top3=len(top3),
        top3=_rate(sum(top3), len(top3)),
        top_k=top_k,
        mean_rank=_mean([float(r) for r in ranks]),
    )


def _level(level: str | None) -> int:
    return CARE_LEVELS.index(level) if level is not None else -1


def _log_loss(probability: float, truth: int) -> float:
    p = min(max(probability, _CLIP), 1.0 - _CLIP)
    return -math.log(p) if truth else -math.log(1.0 - p)


def _rate(count: int, total: int) -> float | None:
    return count / total if total else None


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None
