"""JSON lines: one diagnosis request a line in, one response a line out.

This is the route for a program in another language that runs
``bayesleg diagnose --jsonl`` as a subprocess and keeps it open: each answer
is written and flushed as soon as its line is read, and a bad line gets an
error object (``"schema": "bayesleg.error/1"`` with the line number) while
the stream goes on.  Answers are Unicode text: a request with a lone
surrogate (``"\\ud800"``) gets an error object naming the field, never an
answer that UTF-8 cannot carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import IO, Any

from bayesleg.errors import BayeslegError
from bayesleg.model import Model
from bayesleg.serving import contract

__all__ = ["answer_line", "serve_lines"]


def answer_line(
    model: Model, line: bytes | str, number: int, *, defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Answer one line: a diagnosis response, or an error object naming the line.

    Parameters
    ----------
    model : Model
        The model that answers.
    line : bytes or str
        One diagnosis request as JSON (see ``bayesleg schema diagnosis-request``).
    number : int
        The line's number, from 1, for the error object.
    defaults : mapping, optional
        Fields for a request that gives none of its own, such as
        ``{"top": 3, "ranking": "expected_sufficiency"}``.

    Returns
    -------
    dict
        Never raises for bad input: every :class:`~bayesleg.errors.BayeslegError`
        becomes an error object.

    Examples
    --------
    >>> import bayesleg
    >>> answer_line(bayesleg.load(), '{"evidence": {"fever": true}}', 7)["error"]["type"]
    'UnknownNodeError'
    """
    payload = None
    try:
        payload = contract.parse_json(line)
        if defaults and isinstance(payload, dict):
            payload = {**defaults, **payload}
        return contract.diagnose(model, payload)
    except BayeslegError as error:
        return contract.error_object(error, payload=payload, line=number)


def serve_lines(
    model: Model,
    lines: Iterable[bytes | str],
    output: IO[str],
    *,
    defaults: Mapping[str, Any] | None = None,
) -> int:
    """Answer each line of ``lines`` on ``output``, flushing after each answer.

    Blank lines are skipped (they still count for line numbers).

    Parameters
    ----------
    model : Model
        The model that answers.
    lines : iterable of bytes or str
        The requests, one per line, such as ``sys.stdin.buffer``.
    output : text stream
        Where the answers go, one JSON object per line.
    defaults : mapping, optional
        As for :func:`answer_line`.

    Returns
    -------
    int
        How many answers were written.
    """
    written = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        answer = answer_line(model, line, number, defaults=defaults)
        output.write(contract.dumps(answer) + "\n")
        output.flush()
        written += 1
    return written
