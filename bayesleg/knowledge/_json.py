"""JSON as JSON defines it, for every reader of requests and files.

:func:`json.loads` reads more than JSON: the constants ``NaN`` and
``Infinity``, a number beyond a float (as infinity) and a key given twice in
one object (the last one wins).  :func:`loads` refuses them, and says so when
the text nests too deeply for the parser or holds an integer too long for
Python to read, so that the JSON contract and the vignette files refuse the
same things.  Each caller words the refusal for its own reader.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["JsonError", "is_unicode", "loads"]


class JsonError(Exception):
    """Why a text is not strict JSON.

    The message is a sentence (``NaN is not a JSON value``), or, when
    ``predicate`` is true, what the text does (``nests too deeply to read``),
    for the caller to give its subject.  ``key`` is the key given twice, when
    that is why.
    """

    def __init__(self, message: str, *, predicate: bool = False, key: str | None = None) -> None:
        super().__init__(message)
        self.predicate = predicate
        self.key = key


def loads(text: str) -> Any:
    """Return the JSON value of ``text``, refusing what JSON does not allow.

    Raises
    ------
    json.JSONDecodeError
        If ``text`` is not JSON at all.
    JsonError
        If it gives a key twice in one object, uses ``NaN`` or ``Infinity``,
        holds a number beyond a float or an integer beyond Python's digit
        limit, or nests too deeply to read.

    Examples
    --------
    >>> loads('{"a": [1, 2.5, null]}')
    {'a': [1, 2.5, None]}
    >>> loads('{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    bayesleg.knowledge._json.JsonError: the key 'a' appears twice in one object
    """
    try:
        return json.loads(
            text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite
        )
    except RecursionError:
        raise JsonError("nests too deeply to read", predicate=True) from None
    except (json.JSONDecodeError, JsonError):
        raise
    except ValueError:  # an integer beyond Python's digit limit for conversion from text
        raise JsonError("holds a number too long to read", predicate=True) from None


def is_unicode(text: str) -> bool:
    """Whether ``text`` is Unicode text, which UTF-8 can encode: no lone surrogate.

    JSON's ``\\ud800``-``\\udfff`` escapes let a text carry half a character.

    Examples
    --------
    >>> is_unicode("café"), is_unicode("\\ud800")
    (True, False)
    """
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonError(f"the key {key!r} appears twice in one object", key=key)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise JsonError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # such as 1e400, which would come back as Infinity
        raise JsonError(f"the number {text} is too large")
    return value
