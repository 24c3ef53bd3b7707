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

from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from bayesleg.errors import BayeslegError
from bayesleg.model import Model
from bayesleg.serving import contract
from bayesleg.serving.limits import DEFAULT_MAX_LINE_BYTES

__all__ = ["answer_line", "read_lines", "serve_lines"]

# How much of an over-long line is read at a time while skipping to its end.
_SKIP_BYTES = 64 * 1024


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


def read_lines(
    stream: IO[bytes], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[bytes]:
    """Yield the lines of ``stream``, never holding more than ``max_line_bytes`` + 2 bytes.

    A line over the limit is read to its end a piece at a time and dropped:
    what is yielded for it is its first ``max_line_bytes + 1`` bytes, so that
    :func:`serve_lines` answers it with an error and the stream goes on.

    Parameters
    ----------
    stream : binary stream
        Such as ``sys.stdin.buffer``.
    max_line_bytes : int, default 1 MiB
        Longest line, its newline aside.

    Examples
    --------
    >>> import io
    >>> [len(line) for line in read_lines(io.BytesIO(b"ab\\n" + b"x" * 50 + b"\\ncd"), max_line_bytes=9)]
    [3, 10, 2]
    """  # noqa: E501
    while line := stream.readline(max_line_bytes + 2):
        if len(line) == max_line_bytes + 2 and not line.endswith(b"\n"):
            rest = line
            while rest and not rest.endswith(b"\n"):  # skip to the end of the line
                rest = stream.readline(_SKIP_BYTES)
            line = line[: max_line_bytes + 1]
        yield line


def serve_lines(
    model: Model,
    lines: Iterable[bytes | str],
    output: IO[str],
    *,
    defaults: Mapping[str, Any] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> int:
    """Answer each line of ``lines`` on ``output``, flushing after each answer.

    Blank lines are skipped (they still count for line numbers); a line over
    ``max_line_bytes`` gets an error object.  Read a stream with
    :func:`read_lines`, which never holds an over-long line whole.

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
    max_line_bytes : int, default 1 MiB
        Longest line answered, its newline aside, in UTF-8 bytes.

    Returns
    -------
    int
        How many answers were written.
    """
    written = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if _size(line) > max_line_bytes:
            too_long = contract.InvalidRequestError(
                f"the line is over the limit of {max_line_bytes} bytes"
            )
            answer = contract.error_object(too_long, line=number)
        else:
            answer = answer_line(model, line, number, defaults=defaults)
        output.write(contract.dumps(answer) + "\n")
        output.flush()
        written += 1
    return written


def _size(line: bytes | str) -> int:
    """A line's length in bytes, its newline aside."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogatepass")
    return len(line) - line.endswith(b"\n") - line.endswith(b"\r\n")
