"""An adaptive interview: ask the next-best question until the picture is clear.

:class:`Interview` holds the state of one session -- the evidence so far,
the questions skipped, the current diagnosis -- and decides when to stop.
It reads and prints nothing; ``bayesleg interview`` drives it from a
terminal or from a script.

The interview stops when

* the top cause's posterior reaches ``threshold``, or
* the best remaining question's expected information gain (see
  :mod:`bayesleg.reasoning.questions`) is below ``min_gain`` bits: nothing left to ask
  would change the differential appreciably, or
* every symptom and factor has been answered or skipped, or
* the person quits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bayesleg.errors import InvalidArgumentError
from bayesleg.knowledge.evidence import normalise_evidence

if TYPE_CHECKING:
    from bayesleg.model import Model
    from bayesleg.reasoning.diagnosis import Diagnosis
    from bayesleg.reasoning.questions import Question

__all__ = ["ANSWERS", "STOP_REASONS", "Interview", "Step", "parse_answer"]

#: What a person may type, and the answer each stands for.
ANSWERS: Mapping[str, str] = {
    "yes": "yes",
    "y": "yes",
    "no": "no",
    "n": "no",
    "skip": "skip",
    "s": "skip",
    "quit": "quit",
    "q": "quit",
}

#: Why an interview stopped, by reason code.
STOP_REASONS: Mapping[str, str] = {
    "threshold": "the top cause reached the threshold",
    "uninformative": "no remaining question is informative enough",
    "exhausted": "no questions are left",
    "quit": "the interview was ended early",
}


def parse_answer(text: str) -> str | None:
    """Return ``"yes"``, ``"no"``, ``"skip"`` or ``"quit"``, or None if ``text`` is none of them.

    Examples
    --------
    >>> parse_answer(" Y "), parse_answer("skip"), parse_answer("maybe")
    ('yes', 'skip', None)
    """
    return ANSWERS.get(text.strip().lower())


@dataclass(frozen=True)
class Step:
    """One question asked and its answer (``"yes"``, ``"no"`` or ``"skip"``)."""

    question: Question
    answer: str


class Interview:
    """The state of one interview.

    Parameters
    ----------
    model : Model
        The model that asks.
    evidence : mapping, optional
        What is known before the first question, as for :meth:`Model.diagnose`.
    threshold : float, default 0.8
        Stop once the top cause's posterior reaches this.
    min_gain : float, default 0.01
        Stop once the best question's expected gain (bits) is below this.

    Raises
    ------
    InvalidArgumentError
        If ``threshold`` is not in (0, 1] or ``min_gain`` is negative.
    UnknownNodeError, InvalidStateError, InvalidEvidenceError, ImpossibleEvidenceError
        If the starting evidence is bad, as for :meth:`Model.diagnose`.

    Examples
    --------
    >>> import bayesleg
    >>> interview = Interview(bayesleg.load(), {"numbness": True})
    >>> question = interview.next_question()
    >>> interview.answer(question.id, "yes")
    >>> [step.answer for step in interview.steps]
    ['yes']
    """

    def __init__(
        self,
        model: Model,
        evidence: Mapping[str, Any] | None = None,
        *,
        threshold: float = 0.8,
        min_gain: float = 0.01,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise InvalidArgumentError(f"threshold must be in (0, 1], got {threshold!r}")
        if not min_gain >= 0.0:
            raise InvalidArgumentError(f"min_gain must be 0 or more, got {min_gain!r}")
        self._model = model
        self._evidence = normalise_evidence(evidence or {}, [node.id for node in model.nodes])
        self._threshold = threshold
        self._min_gain = min_gain
        self._skipped: list[str] = []
        self._steps: list[Step] = []
        self._stop: str | None = None
        self._pending: Question | None = None
        self._diagnosis = model.diagnose(self._evidence)

    @property
    def evidence(self) -> dict[str, str]:
        """The evidence so far, id to ``"present"`` or ``"absent"``."""
        return dict(self._evidence)

    @property
    def diagnosis(self) -> Diagnosis:
        """The diagnosis of the evidence so far."""
        return self._diagnosis

    @property
    def steps(self) -> tuple[Step, ...]:
        """The questions asked so far and their answers."""
        return tuple(self._steps)

    @property
    def stop_reason(self) -> str | None:
        """Why the interview stopped (a key of :data:`STOP_REASONS`), or None while it runs."""
        return self._stop

    def next_question(self) -> Question | None:
        """Return the question to ask now, or None when the interview is over.

        The same question comes back until it is answered.
        """
        if self._stop is not None:
            return None
        if self._pending is not None:
            return self._pending
        if self._diagnosis.top.posterior >= self._threshold:
            self._stop = "threshold"
            return None
        questions = self._model.next_questions(self._evidence, 1, exclude=self._skipped)
        if not questions:
            self._stop = "exhausted"
            return None
        if questions[0].expected_gain < self._min_gain:
            self._stop = "uninformative"
            return None
        self._pending = questions[0]
        return self._pending

    def answer(self, question_id: str, answer: str) -> None:
        """Record the answer to the pending question.

        Parameters
        ----------
        question_id : str
            The id of the question asked (from :meth:`next_question`).
        answer : str
            ``"yes"``, ``"no"``, ``"skip"`` or ``"quit"`` (or y/n/s/q).

        Raises
        ------
        InvalidArgumentError
            If no question is pending, ``question_id`` is not the pending
            question, or ``answer`` is not understood.
        """
        parsed = parse_answer(answer)
        if parsed is None:
            raise InvalidArgumentError(
                f"cannot read the answer {answer!r}; expected yes, no, skip or quit (y/n/s/q)"
            )
        pending = self._pending
        if pending is None or pending.id != question_id:
            asked = pending.id if pending is not None else "nothing"
            raise InvalidArgumentError(f"{question_id!r} is not the question asked ({asked})")
        self._pending = None
        if parsed == "quit":
            self._stop = "quit"
            return
        self._steps.append(Step(pending, parsed))
        if parsed == "skip":
            self._skipped.append(question_id)
            return
        evidence = dict(self._evidence)
        evidence[question_id] = "present" if parsed == "yes" else "absent"
        self._evidence = normalise_evidence(evidence, [node.id for node in self._model.nodes])
        self._diagnosis = self._model.diagnose(self._evidence)

    def quit(self) -> None:
        """End the interview now (as when the person types quit or input ends)."""
        self._pending = None
        if self._stop is None:
            self._stop = "quit"
