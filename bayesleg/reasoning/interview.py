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

Before it concludes, it asks about the warning signs the model declares
(``[[red_flag]]``): while a red flag above the triage level reached so far
could still fire, it asks the findings of its groups that are still
unanswered, just enough to know whether one fires -- so it never concludes
``self_care`` with a red flag unasked.  A flag is settled once it fires
(the level rises), once one of its groups is answered "no" throughout, or
once what is left of a group was skipped (then it cannot fire).  The
findings are asked by greedy set cover: next, a finding of the group that
would rule out the most unsettled flags per question if answered "no"
(ties: more flags, then file order).  If an answer makes the differential
unclear again, the ordinary questions resume.
"""

from __future__ import annotations

import numbers
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import InvalidArgumentError, quoted
from bayesleg.knowledge.evidence import normalise_evidence
from bayesleg.knowledge.modelfile import CARE_LEVELS, ModelSpec
from bayesleg.reasoning.questions import ASKABLE_KINDS

if TYPE_CHECKING:
    from bayesleg.model import Model
    from bayesleg.reasoning.diagnosis import Diagnosis
    from bayesleg.reasoning.questions import Question

__all__ = ["ANSWERS", "STOP_REASONS", "Interview", "Step", "parse_answer", "red_flag_question"]

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
    return ANSWERS.get(text.strip().lower()) if isinstance(text, str) else None


def _is_number(value: Any) -> bool:
    """Whether ``value`` is a real number, not a bool (which Python counts as one)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


@dataclass(frozen=True)
class Step:
    """One question asked and its answer (``"yes"``, ``"no"`` or ``"skip"``).

    ``red_flags`` names the red flags the question was asked to settle;
    empty for an ordinary (most informative) question.
    """

    question: Question
    answer: str
    red_flags: tuple[str, ...] = ()


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
        if not (_is_number(threshold) and 0.0 < threshold <= 1.0):
            raise InvalidArgumentError(f"threshold must be in (0, 1], got {quoted(threshold)}")
        if not (_is_number(min_gain) and min_gain >= 0.0):
            raise InvalidArgumentError(f"min_gain must be 0 or more, got {quoted(min_gain)}")
        self._model = model
        self._evidence = normalise_evidence(
            {} if evidence is None else evidence, [node.id for node in model.nodes]
        )
        self._threshold = threshold
        self._min_gain = min_gain
        self._skipped: list[str] = []
        self._steps: list[Step] = []
        self._stop: str | None = None
        self._pending: Question | None = None
        self._checking: tuple[str, ...] = ()
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
    def checking_red_flags(self) -> tuple[str, ...]:
        """The ids of the red flags the pending question is asked to settle.

        Empty while no question is pending, or when the pending question is
        an ordinary one.
        """
        return self._checking

    @property
    def stop_reason(self) -> str | None:
        """Why the interview stopped (a key of :data:`STOP_REASONS`), or None while it runs."""
        return self._stop

    def next_question(self) -> Question | None:
        """Return the question to ask now, or None when the interview is over.

        The same question comes back until it is answered.  Once the
        differential is clear (or nothing informative is left), the
        questions that settle the red flags come before the end; see
        :attr:`checking_red_flags`.
        """
        if self._stop is not None:
            return None
        if self._pending is not None:
            return self._pending
        stop: str | None = None
        if self._diagnosis.top.posterior >= self._threshold:
            stop = "threshold"
        else:
            questions = self._model.next_questions(self._evidence, 1, exclude=self._skipped)
            if not questions:
                stop = "exhausted"
            elif questions[0].expected_gain < self._min_gain:
                stop = "uninformative"
            else:
                self._pending = questions[0]
                return self._pending
        # A finding the evidence rules out ("yes" has probability 0) cannot
        # raise its flag: it is not asked, and the next one is looked for.
        settled = list(self._skipped)
        for _ in self._model.nodes:
            check = red_flag_question(
                self._model.spec,
                self._evidence,
                skipped=settled,
                level=self._diagnosis.triage.level,
            )
            if check is None:
                break
            finding, flags = check
            others = [node.id for node in self._model.nodes if node.id != finding]
            (question,) = self._model.next_questions(self._evidence, 1, exclude=others)
            if question.p_yes > 0.0:
                self._pending = question
                self._checking = flags
                return question
            settled.append(finding)
        self._stop = stop
        return None

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
        ImpossibleEvidenceError
            If the answer cannot happen with the evidence so far; the
            interview is left as it was, the question still pending.
        """
        parsed = parse_answer(answer)
        if parsed is None:
            raise InvalidArgumentError(
                f"cannot read the answer {quoted(answer)}; expected yes, no, skip or quit (y/n/s/q)"
            )
        pending = self._pending
        if pending is None or pending.id != question_id:
            asked = pending.id if pending is not None else "nothing"
            raise InvalidArgumentError(f"{quoted(question_id)} is not the question asked ({asked})")
        evidence = diagnosis = None
        if parsed in ("yes", "no"):
            # Diagnosed before anything is recorded, so that impossible evidence
            # leaves the interview as it was.
            given = dict(self._evidence)
            given[question_id] = "present" if parsed == "yes" else "absent"
            evidence = normalise_evidence(given, [node.id for node in self._model.nodes])
            diagnosis = self._model.diagnose(evidence)
        checking, self._pending, self._checking = self._checking, None, ()
        if parsed == "quit":
            self._stop = "quit"
            return
        self._steps.append(Step(pending, parsed, checking))
        if parsed == "skip":
            self._skipped.append(question_id)
            return
        assert evidence is not None and diagnosis is not None
        self._evidence, self._diagnosis = evidence, diagnosis

    def quit(self) -> None:
        """End the interview now (as when the person types quit or input ends)."""
        self._pending = None
        self._checking = ()
        if self._stop is None:
            self._stop = "quit"


def red_flag_question(
    spec: ModelSpec,
    evidence: Mapping[str, str],
    *,
    skipped: Collection[str] = (),
    level: str = "self_care",
) -> tuple[str, tuple[str, ...]] | None:
    """Return the next finding to ask to settle the red flags above ``level``.

    Parameters
    ----------
    spec : ModelSpec
        The model, for its red flags and the kinds of its nodes.
    evidence : mapping of str to str
        Normalised evidence, id to ``"present"`` or ``"absent"``.
    skipped : collection of str, default ()
        Findings the person would not answer; never asked again.
    level : str, default "self_care"
        The triage level reached so far: only red flags above it count.

    Returns
    -------
    tuple of (str, tuple of str), or None
        The finding's id and the ids of the unsettled red flags it bears on;
        None when every red flag above ``level`` is settled (see the module
        docstring for the order).

    Examples
    --------
    >>> import bayesleg
    >>> spec = bayesleg.load("tests/fixtures/tiny.toml").spec
    >>> red_flag_question(spec, {})  # s_with_f: S, and F or T
    ('s', ('s_with_f',))
    >>> red_flag_question(spec, {"s": "absent"}) is None
    True
    """
    kinds = {node.id: node.kind for node in spec.nodes}
    askable = {
        node for node, kind in kinds.items() if kind in ASKABLE_KINDS and node not in evidence
    } - set(skipped)
    # Each unsettled flag, with its groups not yet satisfied as the ids still askable.
    unsettled: list[tuple[str, list[tuple[str, ...]]]] = []
    for flag in spec.red_flags:
        if CARE_LEVELS.index(flag.level) <= CARE_LEVELS.index(level):
            continue
        groups = [*flag.all, *((flag.any,) if flag.any else ())]
        open_groups = [
            tuple(node for node in group if node in askable)
            for group in groups
            if not any(evidence.get(node) == "present" for node in group)
        ]
        # Settled: no group left (it fired), or a group with nothing left to ask.
        if open_groups and all(open_groups):
            unsettled.append((flag.id, open_groups))
    candidates = [group for _, open_groups in unsettled for group in open_groups]
    if not candidates:
        return None

    def cost(index: int) -> tuple[float, int, int]:
        # Questions per flag ruled out if every finding of the group is answered no.
        group = set(candidates[index])
        ruled_out = sum(any(set(other) <= group for other in groups) for _, groups in unsettled)
        return (len(group) / ruled_out, -ruled_out, index)

    finding = candidates[min(range(len(candidates)), key=cost)][0]
    flags = tuple(flag for flag, groups in unsettled if any(finding in group for group in groups))
    return finding, flags
