"""How a diagnosis, an explanation and a list of questions show in a notebook.

Each result type's ``_repr_html_`` and ``__repr__`` delegate here: the HTML
is a picture and a table, self-contained (see :mod:`bayesleg._html`); the
text is a short aligned summary.

* a :class:`~bayesleg.reasoning.diagnosis.Diagnosis`: the differential as
  bars of prior and posterior, the triage level with its reasons, the advice
  with the passages it rests on;
* an :class:`~bayesleg.reasoning.explain.Explanation`: a waterfall of the
  contributions, from the log odds with no evidence to the log posterior
  odds, and what would lower the cause;
* :class:`~bayesleg.reasoning.questions.Questions`: the expected gain of each
  question as bars, and what each answer would do to the top cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bayesleg import _html
from bayesleg._html import Segment, SpanRow, number

if TYPE_CHECKING:
    from bayesleg.reasoning.diagnosis import Diagnosis
    from bayesleg.reasoning.explain import Explanation
    from bayesleg.reasoning.questions import Question

__all__ = [
    "diagnosis_html",
    "diagnosis_text",
    "explanation_html",
    "explanation_text",
    "questions_html",
    "questions_text",
]

#: How many causes a diagnosis draws and how many its text lists.
DRAWN = 10
LISTED = 5
_PRIOR, _POSTERIOR = "#bdbdbd", "#2b6cb0"
_SUPPORTS, _AGAINST, _TOTAL = "#2f9e44", "#c92a2a", "#2b6cb0"


def _evidence(evidence: dict[str, str]) -> str:
    return ", ".join(f"{node}={state}" for node, state in evidence.items()) or "none"


def diagnosis_html(diagnosis: Diagnosis, *, top: int = DRAWN) -> str:
    """Return a diagnosis as HTML: bars of the first ``top`` causes, triage, advice.

    Examples
    --------
    >>> import bayesleg
    >>> case = {"diabetes": True, "starts_in_feet": True, "numbness": True}
    >>> html = diagnosis_html(bayesleg.load().diagnose(case))
    >>> html.count('class="bar posterior"'), 'data-level="see_doctor"' in html
    (10, True)
    """
    causes = diagnosis.ranked[:top]
    rows = [
        (
            cause.label,
            cause.id,
            (cause.prior, cause.posterior),
            f"{number(cause.posterior)}  LR {number(cause.likelihood_ratio, 2)}"
            if diagnosis.ranking == "posterior"
            else f"score {number(cause.score)}",
        )
        for cause in causes
    ]
    chart = _html.bars_svg(
        rows,
        (("prior", _PRIOR), ("posterior", _POSTERIOR)),
        title=f"Differential of {len(diagnosis.ranked)} causes, prior and posterior",
    )
    parts = [
        _html.paragraph(f"Evidence: {_evidence(dict(diagnosis.evidence))}", class_="evidence"),
        chart,
    ]
    if len(diagnosis.ranked) > top:
        parts.append(_html.paragraph(f"{len(diagnosis.ranked) - top} more causes not drawn."))
    level = diagnosis.triage.level
    parts.append(_html.paragraph(f"Triage: {level.replace('_', ' ')}", class_="triage"))
    reasons = [reason.text for reason in diagnosis.triage.reasons]
    parts.append(_html.items(reasons or ["no rule raised the level"], class_="reasons"))
    if diagnosis.advice:
        parts.append(
            _html.table(
                ["cause", "care", "advice", "from the source text"],
                [
                    [
                        a.label,
                        a.care.replace("_", " "),
                        a.text,
                        f"{a.source.file}: {a.source.quote}",
                    ]
                    for a in diagnosis.advice
                ],
                wrap=True,
                caption="Advice",
            )
        )
    parts.append(
        _html.paragraph(
            f"Ranked by {diagnosis.ranking}; model {diagnosis.model_id} "
            f"version {diagnosis.model_version}."
        )
    )
    return _html.block(f"Diagnosis: {diagnosis.top.label}", *parts, level=level)


def diagnosis_text(diagnosis: Diagnosis) -> str:
    """Return a diagnosis as a few lines of text: the first causes and the triage."""
    headers = ["cause", "prior", "posterior", "LR"]
    rows = [
        [cause.id, number(cause.prior), number(cause.posterior), number(cause.likelihood_ratio, 2)]
        for cause in diagnosis.ranked[:LISTED]
    ]
    if diagnosis.ranking != "posterior":  # then the order is the score's
        headers.append("score")
        for row, cause in zip(rows, diagnosis.ranked, strict=False):
            row.append(number(cause.score))
    lines = [
        f"<Diagnosis by {diagnosis.ranking}: triage {diagnosis.triage.level}; "
        f"model {diagnosis.model_id} version {diagnosis.model_version}>",
        f"evidence: {_evidence(dict(diagnosis.evidence))}",
        _html.text_table(headers, rows),
    ]
    if len(diagnosis.ranked) > LISTED:
        lines.append(f"... {len(diagnosis.ranked) - LISTED} more causes")
    lines.extend(f"reason: {reason.text}" for reason in diagnosis.triage.reasons)
    return "\n".join(lines)


def _waterfall(explanation: Explanation) -> list[SpanRow]:
    rows, reached = [], explanation.log_baseline_odds
    for item in explanation.contributions:
        value = item.log_likelihood_ratio
        name, colour = ("supports", _SUPPORTS) if value >= 0 else ("against", _AGAINST)
        segment = Segment(reached, reached + value, colour, name)
        rows.append(SpanRow(f"{item.label}: {item.state}", item.id, (segment,), f"{value:+.2f}"))
        reached += value
    total = Segment(explanation.log_baseline_odds, explanation.log_posterior_odds, _TOTAL, "total")
    rows.append(
        SpanRow("all the evidence", "total", (total,), f"P = {number(explanation.posterior)}")
    )
    return rows


def explanation_html(explanation: Explanation) -> str:
    """Return an explanation as HTML: a waterfall of the contributions, then what would lower it.

    Examples
    --------
    >>> import bayesleg
    >>> explanation = bayesleg.load().explain({"diabetes": True}, "peripheral_neuropathy")
    >>> 'class="bar supports" data-row="diabetes"' in explanation_html(explanation)
    True
    """
    chart = _html.spans_svg(
        _waterfall(explanation),
        title=f"Contributions to the log odds of {explanation.label}",
        reference=explanation.log_baseline_odds,
        axis=f"log odds of {explanation.cause}",
        legend=(("supports", _SUPPORTS), ("against", _AGAINST), ("total", _TOTAL)),
    )
    parts = [
        _html.paragraph(
            f"P = {number(explanation.baseline)} with no evidence (log odds "
            f"{explanation.log_baseline_odds:.2f}), {number(explanation.posterior)} given "
            f"the evidence (log odds {explanation.log_posterior_odds:.2f}); "
            f"{explanation.method} Shapley values.",
            class_="summary",
        ),
        chart,
    ]
    if explanation.would_lower:
        parts.append(
            _html.table(
                ["would lower it", "if", "posterior then"],
                [[f.label, f.state, number(f.posterior)] for f in explanation.would_lower],
            )
        )
    return _html.block(f"Why {explanation.label}", *parts)


def explanation_text(explanation: Explanation) -> str:
    """Return an explanation as text: the two probabilities and each contribution."""
    rows = [[c.id, c.state, f"{c.log_likelihood_ratio:+.3f}"] for c in explanation.contributions]
    return "\n".join(
        [
            f"<Explanation of {explanation.cause}: P {number(explanation.baseline)} with no "
            f"evidence, {number(explanation.posterior)} given it ({explanation.method})>",
            _html.text_table(["item", "state", "log LR"], rows),
        ]
    )


def questions_html(questions: tuple[Question, ...]) -> str:
    """Return questions as HTML: bars of expected gain, then what each answer would do.

    Examples
    --------
    >>> import bayesleg
    >>> questions_html(bayesleg.load().next_questions({"cramps": True}, k=3)).count("<tr")
    4
    """
    if not questions:
        return _html.block("Next questions", _html.paragraph("Nothing is left to ask."))
    most = max(question.expected_gain for question in questions) or 1.0
    chart = _html.bars_svg(
        [(q.label, q.id, (q.expected_gain,), f"{q.expected_gain:.3f} bits") for q in questions],
        (("expected gain", _POSTERIOR),),
        title="Expected information gain of each question, in bits",
        maximum=most,
    )
    rows = [
        [q.label, q.kind, f"{q.expected_gain:.3f}", number(q.p_yes), *map(number, _answers(q))]
        for q in questions
    ]
    headers = ["question", "kind", "gain (bits)", "P(yes)", "top cause if yes", "if no"]
    return _html.block("Next questions", chart, _html.table(headers, rows))


def _answers(question: Question) -> tuple[float, float]:
    return question.top_if_yes, question.top_if_no


def questions_text(questions: tuple[Question, ...]) -> str:
    """Return questions as text, one a line."""
    rows = [
        [q.id, q.kind, f"{q.expected_gain:.3f}", number(q.p_yes), *map(number, _answers(q))]
        for q in questions
    ]
    headers = ["question", "kind", "gain", "P(yes)", "top if yes", "if no"]
    return "\n".join(
        [f"<{len(questions)} questions, most informative first>", _html.text_table(headers, rows)]
    )
