"""The next-best question: which unobserved finding would tell us most.

Target
------
The conditions of the model are not mutually exclusive (a runner can be
dehydrated *and* short of electrolytes), so the differential is a vector of
marginals ``p_c = P(condition c present | e)``, not one distribution over a
single cause.  Its uncertainty is measured as the sum of the conditions'
binary entropies, in bits::

    H(e) = sum_c h(p_c),   h(p) = -p log2 p - (1 - p) log2 (1 - p)

A question ``Q`` (an unobserved symptom or factor) is worth its expected
reduction of that sum::

    gain(Q) = H(e) - [P(Q=yes | e) H(e, Q=yes) + P(Q=no | e) H(e, Q=no)]
            = sum_c I(C_c ; Q | e)

Each term is the mutual information between one condition and the answer,
so the gain is never negative, is zero exactly when no answer could move any
condition, and counts every condition's uncertainty, not only the leader's.
The exact joint entropy of all conditions would need the joint posterior
over 2^n condition states per hypothetical answer; the sum of marginal
entropies bounds it from above and ranks questions by what they tell about
each condition.  A ranking by the entropy of the top cause alone would ignore
a question that separates the second and third causes.

Computation: the case and, for every candidate, the case with that candidate
answered yes and answered no, form one batch of ``1 + 2 x candidates`` rows
for the engine; P(yes) is read off the rows' evidence probabilities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import InvalidArgumentError
from bayesleg.inference._queries import answer_rows
from bayesleg.knowledge.evidence import normalise_evidence

if TYPE_CHECKING:
    from bayesleg.model import Model

__all__ = ["ASKABLE_KINDS", "Question", "Questions", "binary_entropy", "next_questions"]

#: The kinds of node a question may be about; conditions are never asked.
ASKABLE_KINDS: tuple[str, ...] = ("symptom", "factor")


@dataclass(frozen=True)
class Question:
    """One unobserved finding to ask about, with what its answer would do.

    ``expected_gain`` is the expected reduction, in bits, of the summed
    binary entropies of the condition posteriors; ``p_yes`` is P(present |
    evidence); ``top_if_yes`` and ``top_if_no`` are the posterior of the
    current most probable cause if the answer were yes or no.
    """

    id: str
    label: str
    kind: str
    expected_gain: float
    p_yes: float
    top_if_yes: float
    top_if_no: float

    def to_dict(self) -> dict[str, Any]:
        """Return the question as a JSON-serialisable dict, one key per field."""
        return asdict(self)


class Questions(tuple[Question, ...]):
    """The questions of :func:`next_questions`, most informative first.

    A tuple of :class:`Question` that also shows as a table in a notebook.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        from bayesleg.reasoning.display import questions_text

        return questions_text(self)

    def _repr_html_(self) -> str:
        """Show the questions' gains as bars and their answers as a table."""
        from bayesleg.reasoning.display import questions_html

        return questions_html(self)


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Return the binary entropy of each probability, in bits (0 log 0 = 0).

    Examples
    --------
    >>> binary_entropy(np.array([0.0, 0.5, 1.0])).tolist()
    [0.0, 1.0, 0.0]
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    q = 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, -p * np.log2(p), 0.0) + np.where(q > 0, -q * np.log2(q), 0.0)


def next_questions(
    model: Model,
    evidence: Mapping[str, Any],
    *,
    k: int = 5,
    exclude: Iterable[str] = (),
) -> Questions:
    """Rank the unobserved symptoms and factors by expected information gain.

    Parameters
    ----------
    model : Model
        The model to ask with.
    evidence : mapping
        Node id to True/False (also "present"/"absent", "yes"/"no").
    k : int, default 5
        How many questions to return at most.
    exclude : iterable of str, default ()
        Node ids not to ask about, such as questions already skipped.

    Returns
    -------
    Questions
        A tuple of :class:`Question`, most informative first (ties by id).  Observed nodes, excluded
        nodes and conditions never appear.

    Raises
    ------
    InvalidArgumentError
        If ``k`` is not a positive whole number.
    UnknownNodeError, InvalidStateError, InvalidEvidenceError
        If the evidence or ``exclude`` names an unknown node, or the
        evidence gives a bad value.
    ImpossibleEvidenceError
        If the evidence has probability zero under the model.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidArgumentError(f"k must be a positive whole number, got {k!r}")
    ids = [node.id for node in model.nodes]
    states = normalise_evidence(evidence, ids)
    if isinstance(exclude, str | Mapping) or not isinstance(exclude, Iterable):
        raise InvalidArgumentError(
            f"exclude must be an iterable of node ids, got {type(exclude).__name__}"
        )
    skipped = {model.node(node).id for node in exclude}  # model.node rejects unknown ids
    candidates = [
        node.id
        for node in model.nodes
        if node.kind in ASKABLE_KINDS and node.id not in states and node.id not in skipped
    ]
    conditions = list(model.conditions)
    current, p_yes, if_yes, if_no = answer_rows(model.engine, states, candidates, conditions)
    if not candidates:
        return Questions()
    entropy_now = binary_entropy(current).sum()
    entropy_yes = binary_entropy(if_yes).sum(axis=1)
    entropy_no = binary_entropy(if_no).sum(axis=1)
    # Mutual information is never negative; clip rounding noise at zero.
    gains = np.maximum(entropy_now - (p_yes * entropy_yes + (1.0 - p_yes) * entropy_no), 0.0)
    # The top cause as diagnose ranks it: highest posterior, ties by id.
    tied_current, tied_gains = np.round(current, 12), np.round(gains, 12)
    top = min(range(len(conditions)), key=lambda c: (-tied_current[c], conditions[c]))
    order = sorted(range(len(candidates)), key=lambda j: (-tied_gains[j], candidates[j]))
    return Questions(
        Question(
            id=candidates[j],
            label=model.node(candidates[j]).label,
            kind=model.node(candidates[j]).kind,
            expected_gain=float(gains[j]),
            p_yes=float(p_yes[j]),
            top_if_yes=float(if_yes[j, top]),
            top_if_no=float(if_no[j, top]),
        )
        for j in order[:k]
    )
